"""Run a tissue scenario into an output directory: checkpoints, snapshots, images.

``exotwin run SCENARIO.yaml --until T --checkpoint-every T --snapshot-every T --out DIR``
and ``exotwin resume CHECKPOINT --until T --out DIR`` call :func:`run_to_dir`. The
directory gets ``scenario.json`` (the configuration), ``checkpoints/step_NNNNNNNNN.npz``
(the whole state, :mod:`exotwin.tissue.checkpoint`, numbered by diffusion step, all kept),
``snapshots.zarr`` (one xarray group per snapshot, appended atomically:
:mod:`exotwin.tissue.output`), ``images/step_NNNNNNNNN.png`` (one per snapshot) and
``tumour.gif`` (every snapshot of the store, rewritten at the end of the run); images show
the first substance that cells secrete through a model map, else the first substance.
Checkpoints are written every ``checkpoint_every`` and at the end; snapshots every
``snapshot_every`` (default: at the checkpoints), at the end, and at time 0 of a fresh run.
Every file is written atomically. A directory holding the run of another scenario (a
different ``scenario.json``) is refused; the same scenario, run again or resumed, adds to
it (its states are the same trajectory).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from exotwin.atomic import atomic_write_text
from exotwin.errors import ExotwinError
from exotwin.tissue import checkpoint as ck
from exotwin.tissue import output
from exotwin.tissue.coupling import TIME_UNITS
from exotwin.tissue.scenario import _every, check_resumable, initial_state, load_scenario, run

# the spellings protocols also accept (exotwin.protocols.units.TIME_H), in minutes
_AS_IN_PROTOCOLS = {"hour": 60.0, "hours": 60.0, "days": 1440.0}
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
    known = {**TIME_UNITS, **_AS_IN_PROTOCOLS}
    if value is None or (unit and unit not in known) or value < 0:
        raise ExotwinError(f"not a duration: {text!r} (e.g. '60 min', '2 h', '30 s', '2 days')",
                           field=name)
    return value * known.get(unit, 1.0)


step_name = output.group_name


def run_to_dir(config, out: str | os.PathLike[str], until: float,
               checkpoint_every: float | None = None,
               resume_from: str | os.PathLike[str] | None = None,
               snapshot_every: float | None = None,
               images: bool = True) -> ck.SimulationState:
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
        Checkpoint interval (min), or ``None`` for the end only.
    resume_from
        Checkpoint to continue from.
    snapshot_every
        Snapshot interval (min); ``None``: at the checkpoints.
    images
        Whether to draw a PNG per snapshot and the animation.

    Returns
    -------
    SimulationState
        The final state (also the last checkpoint).
    """
    out = Path(out)
    start, source = None, None
    if resume_from is not None:
        start = ck.load(resume_from)
        if config is None:  # its configuration's errors name the checkpoint
            config, source = json.loads(start.config or "null"), str(resume_from)
    cfg = load_scenario(config, source)
    if start is not None:
        check_resumable(start, cfg, resume_from)  # before anything is written
    if start is not None and until < start.time:
        raise ExotwinError(f"--until {until} min is before the checkpoint's time "
                           f"{start.time} min", file=str(resume_from))
    dt = cfg.time_steps.diffusion_min  # intervals are refused before anything is written
    _every(checkpoint_every, dt, "checkpoint_every")
    _every(snapshot_every, dt, "snapshot_every")
    text = json.dumps(cfg.model_dump(mode="json"), indent=2) + "\n"
    earlier = out / "scenario.json"
    if earlier.is_file() and earlier.read_text() != text:  # its checkpoints would mix in
        raise ExotwinError("holds the run of another scenario (its scenario.json differs); "
                           "choose another --out", file=str(out))  # fmt: skip
    atomic_write_text(earlier, text)
    store = out / output.STORE
    secreted = [s.name for s in cfg.substance_list() if s.secretion is not None]
    shown = (secreted or [cfg.substance_list()[0].name])[0]  # the images' field
    checkpoints, snapshots = [], []

    def checkpoint(state: ck.SimulationState) -> None:
        checkpoints.append(state.steps["diffusion"])
        ck.save(out / "checkpoints" / f"{step_name(state)}.npz", state)

    def snapshot(state: ck.SimulationState) -> None:
        snapshots.append(state.steps["diffusion"])
        output.write_snapshot(store, state, cfg)
        if images:
            output.snapshot_image(output.snapshot_dataset(state, cfg),
                                  out / "images" / f"{step_name(state)}.png", shown)

    if start is None:
        snapshot(initial_state(cfg))
    every = snapshot_every if snapshot_every is not None else checkpoint_every
    final = run(cfg, until, checkpoint_every=checkpoint_every, resume_from=start,
                on_checkpoint=checkpoint, snapshot_every=every,
                on_snapshot=snapshot if every is not None else None)
    if checkpoints[-1:] != [final.steps["diffusion"]]:
        checkpoint(final)
    if snapshots[-1:] != [final.steps["diffusion"]]:
        snapshot(final)
    if images:
        output.animation(store, out / "tumour.gif", shown)
    return final


__all__ = ["parse_minutes", "run_to_dir", "step_name"]
