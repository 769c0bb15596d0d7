"""Run a tissue scenario into an output directory: numbered checkpoints and snapshots.

``exotwin run SCENARIO.yaml --until T --checkpoint-every T --out DIR`` and
``exotwin resume CHECKPOINT --until T --out DIR`` call :func:`run_to_dir`. The directory
gets ``scenario.json`` (the configuration), ``checkpoints/step_NNNNNNNNN.npz`` (the whole
state, :mod:`exotwin.tissue.checkpoint`, numbered by diffusion step, all kept) and
``snapshots/step_NNNNNNNNN.nc`` (cells and fields as an xarray netCDF-3 file, written with
xarray's scipy engine: zarr and netCDF4 are not dependencies). Checkpoints and snapshots
are written at every checkpoint time and at the end; a fresh run also snapshots time 0.
Every file is written atomically.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.errors import ExotwinError
from exotwin.tissue import checkpoint as ck
from exotwin.tissue.scenario import Scenario, initial_state, load_scenario, run

_UNITS = {"s": 1.0 / 60.0, "sec": 1.0 / 60.0, "min": 1.0, "h": 60.0, "hr": 60.0,
          "d": 1440.0, "day": 1440.0}
_TIME = re.compile(r"^\s*([0-9.eE+-]+)\s*([a-z]*)\s*$")


def parse_minutes(text: str | float, name: str = "time") -> float:
    """A duration such as ``"60 min"``, ``"1.5 h"`` or ``"30 s"`` in minutes.

    A bare number is minutes. Raises :class:`ExotwinError` naming ``name`` otherwise.
    """
    if isinstance(text, int | float):
        return float(text)
    m = _TIME.match(str(text))
    try:
        value = float(m.group(1)) if m else None
    except ValueError:
        value = None
    unit = m.group(2) if m else ""
    if value is None or (unit and unit not in _UNITS) or value < 0:
        raise ExotwinError(f"not a duration: {text!r} (e.g. '60 min', '2 h', '30 s')",
                           field=name)
    return value * _UNITS.get(unit, 1.0)


def step_name(state: ck.SimulationState) -> str:
    """File stem of a state: ``step_`` and its diffusion step, nine digits."""
    return f"step_{state.steps['diffusion']:09d}"


def snapshot(path: str | os.PathLike[str], state: ck.SimulationState,
             cfg: Scenario) -> Path:
    """Write the cells and fields of ``state`` as a netCDF file (xarray, scipy engine).

    Variables: ``x``, ``y``, ``z``, ``radius`` (um), ``id``, ``fate`` over ``cell``;
    the substance concentrations over ``(substance, zv, yv, xv)`` with voxel-centre
    coordinates in um; ``time_min`` and the step counters as attributes.
    """
    import xarray as xr

    a, grid = state.agents, cfg.grid_()
    nz, ny, nx = grid.dims
    centre = (np.arange(max(nz, ny, nx)) + 0.5) * grid.dx
    cells = {name: ("cell", a.positions[:, k]) for k, name in enumerate("xyz")}
    ds = xr.Dataset(
        {**cells, "radius": ("cell", a.radius), "id": ("cell", a.ids),
         "fate": ("cell", a.fate),
         "concentration": (("substance", "zv", "yv", "xv"), state.fields)},
        coords={"substance": [cfg.substance.name], "zv": centre[:nz], "yv": centre[:ny],
                "xv": centre[:nx]},
        attrs={"time_min": state.time, "scenario": cfg.id,
               **{f"step_{k}": v for k, v in state.steps.items()},
               "fate_codes": "0 alive, 1 apoptotic, 2 necrotic",
               "units": f"positions and radius um, concentration {cfg.substance.units}"},
    )
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="scipy")
    return Path(path)


def run_to_dir(config, out: str | os.PathLike[str], until: float,
               checkpoint_every: float | None = None,
               resume_from: str | os.PathLike[str] | None = None) -> ck.SimulationState:
    """Run (or resume) a scenario to ``until`` min, writing checkpoints and snapshots.

    Parameters
    ----------
    config
        Scenario (object, mapping or YAML file); ``None`` with ``resume_from`` takes the
        configuration stored in the checkpoint.
    out
        Output directory (see the module docstring).
    until
        End time (min).
    checkpoint_every
        Checkpoint (and snapshot) interval (min), or ``None`` for the end only.
    resume_from
        Checkpoint to continue from.

    Returns
    -------
    SimulationState
        The final state (also the last checkpoint).
    """
    out = Path(out)
    start = None
    if resume_from is not None:
        start = ck.load(resume_from)
        if config is None:
            config = json.loads(start.config or "null")
    cfg = load_scenario(config)
    if start is not None and until < start.time:
        raise ExotwinError(f"--until {until} min is before the checkpoint's time "
                           f"{start.time} min", file=str(resume_from))
    atomic_write_text(out / "scenario.json",
                      json.dumps(cfg.model_dump(mode="json"), indent=2) + "\n")

    written = []

    def write(state: ck.SimulationState) -> None:
        written.append(state.steps["diffusion"])
        ck.save(out / "checkpoints" / f"{step_name(state)}.npz", state)
        snapshot(out / "snapshots" / f"{step_name(state)}.nc", state, cfg)

    if start is None:
        first = initial_state(cfg)
        snapshot(out / "snapshots" / f"{step_name(first)}.nc", first, cfg)
    final = run(cfg, until, checkpoint_every=checkpoint_every, resume_from=start,
                on_checkpoint=write)
    if written[-1:] != [final.steps["diffusion"]]:
        write(final)
    return final


__all__ = ["parse_minutes", "run_to_dir", "snapshot", "step_name"]
