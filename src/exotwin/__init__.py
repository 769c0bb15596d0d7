"""exotwin: a mechanistic digital twin of exosome-mediated communication in NPC."""

import os

# numba's OpenMP threads busy-wait between parallel regions by default; on a shared or
# oversubscribed machine that stalls every kernel (10x slower measured with two threads
# while another process held a core). Passive waiting costs nothing measurable when the
# machine is quiet. Must be set before numba loads its threading layer; a user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from exotwin.errors import ExotwinError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["ExotwinError", "__version__"]
