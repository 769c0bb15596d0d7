"""exotwin: a mechanistic digital twin of exosome-mediated communication in NPC."""

from exotwin.errors import ExotwinError

__version__ = "0.1.0"
__all__ = ["ExotwinError", "__version__"]
