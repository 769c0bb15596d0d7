"""Checkpoints of a tissue simulation: the whole state in one ``.npz``, written atomically.

A checkpoint holds everything a run needs to continue exactly as if uninterrupted: the
cells (:class:`~exotwin.tissue.agents.Agents`, including the previous velocities of the
Adams-Bashforth step and the next free id), the fields ``(n_substances, nz, ny, nx)``,
the time (min), the step counters and the seed. Random numbers are counter-based
(:mod:`exotwin.rng`), so the seed and the step counters are the whole random state.
``config`` is an optional JSON text of the scenario, so a resume can check it runs the same
scenario. ``cell_data`` holds further per-cell arrays (first axis ``n``, in agent order),
e.g. the intracellular states of :mod:`exotwin.tissue.coupling`.

The file is written through :func:`exotwin.atomic.atomic_path` (temporary file, then
rename): a reader sees the old checkpoint or the new one, never half of one. It is a
plain numpy ``.npz`` (no pickles), with :data:`FORMAT` in ``format_version``.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exotwin.atomic import atomic_path
from exotwin.errors import ExotwinError, require_file
from exotwin.tissue.agents import Agents

FORMAT = 2
READS = (1, 2)  # format 1: no cell_data
_AGENT_ARRAYS = ("positions", "radius", "velocity", "ids", "fate")


@dataclass(frozen=True)
class SimulationState:
    """The whole state of a tissue simulation.

    Parameters
    ----------
    agents
        The cells.
    fields
        Concentrations, shape ``(n_substances, nz, ny, nx)``, float64.
    time
        Simulated time (min).
    steps
        Step counters by name (e.g. ``diffusion``, ``mechanics``, ``phenotype``).
    seed
        The run's seed (0 <= seed < 2**64).
    config
        JSON text of the scenario configuration, or ``""``.
    cell_data
        Per-cell arrays by name, each of shape ``(n, ...)`` in agent order.
    """

    agents: Agents
    fields: np.ndarray
    time: float = 0.0
    steps: dict[str, int] = field(default_factory=dict)
    seed: int = 0
    config: str = ""
    cell_data: dict[str, np.ndarray] = field(default_factory=dict)


def save(path: str | os.PathLike[str], state: SimulationState) -> Path:
    """Write ``state`` to ``path`` (a ``.npz``) atomically; returns the path."""
    a = state.agents
    meta = {"time": float(state.time), "steps": {k: int(v) for k, v in state.steps.items()},
            "seed": int(state.seed), "next_id": int(a.next_id)}
    arrays = {f"agents_{name}": getattr(a, name) for name in _AGENT_ARRAYS}
    for name, v in state.cell_data.items():
        if v.shape[:1] != (a.n,):
            raise ExotwinError(f"cell_data[{name!r}] has shape {v.shape}, expected ({a.n}, ...)")
        arrays[f"cell_{name}"] = v
    arrays.update(
        format_version=np.array(FORMAT),
        fields=np.asarray(state.fields),
        meta=np.array(json.dumps(meta, sort_keys=True)),
        config=np.array(state.config),
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


def load(path: str | os.PathLike[str]) -> SimulationState:
    """Read a checkpoint written by :func:`save`.

    Raises
    ------
    ExotwinError
        One line naming the file and the reason, if it is missing, corrupt, or of
        another format version.
    """
    require_file(path, "checkpoint")
    try:
        if not zipfile.is_zipfile(path):
            raise ExotwinError("corrupt checkpoint (not an .npz archive)", file=str(path))
        with np.load(path, allow_pickle=False) as z:
            if "format_version" not in z.files:
                raise ExotwinError("not an exotwin tissue checkpoint (no format_version)",
                                   file=str(path))
            version = int(z["format_version"])
            if version not in READS:
                raise ExotwinError(f"checkpoint format {version}, this exotwin reads {READS}",
                                   file=str(path))
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data["meta"]))
        agents = Agents(*(np.ascontiguousarray(data[f"agents_{n}"]) for n in _AGENT_ARRAYS),
                        next_id=int(meta["next_id"]))
        cells = {k[5:]: np.ascontiguousarray(v) for k, v in data.items()
                 if k.startswith("cell_")}
        return SimulationState(agents, np.ascontiguousarray(data["fields"]),
                               float(meta["time"]), {k: int(v) for k, v in meta["steps"].items()},
                               int(meta["seed"]), str(data["config"]), cells)
    except ExotwinError as exc:
        if exc.file is None:
            raise ExotwinError(exc.reason, file=str(path)) from exc
        raise
    except FileNotFoundError:
        raise ExotwinError("checkpoint not found", file=str(path)) from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ExotwinError(f"corrupt checkpoint ({reason})", file=str(path)) from None


__all__ = ["FORMAT", "READS", "SimulationState", "load", "save"]
