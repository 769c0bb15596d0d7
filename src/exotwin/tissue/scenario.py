"""A minimal tissue scenario: one diffusing substance, cell agents, three time steps.

The scenario couples :func:`exotwin.tissue.diffusion.step`, the mechanics of
:mod:`exotwin.tissue.agents` and a simple phenotype (volume growth, division at a
constant rate, uptake of the substance), each with its own time step, as PhysiCell does
(Ghaffarizadeh et al., PLoS Comput Biol 14:e1005991, 2018): diffusion 0.01 min,
mechanics 0.1 min and phenotype 6 min by default. Every quantity in the configuration
carries its unit in its name.

The run counts diffusion steps ``n`` (time ``n dt_diff``, so no time drifts by round-off).
At each ``n``, in this order: a phenotype step when ``n`` is a multiple of
``dt_pheno/dt_diff``, a mechanics step when it is a multiple of ``dt_mech/dt_diff``, then
a diffusion step with the cells' uptake as sinks. Random draws are keyed by
(seed, purpose, cell id, phenotype step), so a run resumed from a checkpoint
(:mod:`exotwin.tissue.checkpoint`) equals the uninterrupted run bitwise, and the thread
count does not change results.

Substances are given as ``substance`` (one) or ``substances`` (a list). With an
``intracellular`` model, each substance may map a model output to the cells' secretion and
the cells' uptake to a model input (:mod:`exotwin.tissue.coupling`); the model advances
at every phenotype step, and the checkpoint holds every cell's kinetic state.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from exotwin import rng
from exotwin.errors import ExotwinError
from exotwin.tissue import agents as ag
from exotwin.tissue import checkpoint as ck
from exotwin.tissue import coupling as cp
from exotwin.tissue.coupling import _Model
from exotwin.tissue.diffusion import (
    Dirichlet,
    Grid,
    Ledger,
    Sources,
    Substance,
    Substances,
    step_with_ledger,
)
from exotwin.userfiles import read_yaml, validation_reason


class TimeSteps(_Model):
    """The three time steps (min); PhysiCell's defaults (Ghaffarizadeh et al. 2018)."""

    diffusion_min: float = Field(0.01, gt=0)
    mechanics_min: float = Field(0.1, gt=0)
    phenotype_min: float = Field(6.0, gt=0)

    @model_validator(mode="after")
    def _multiples(self):
        for name, a, b in (("mechanics_min", self.mechanics_min, self.diffusion_min),
                           ("phenotype_min", self.phenotype_min, self.mechanics_min)):
            k = round(a / b)
            if k < 1 or abs(k * b - a) > 1e-9 * a:
                raise ValueError(f"{name} must be a whole multiple of the shorter step")
        return self

    def ratios(self) -> tuple[int, int]:
        """Diffusion steps per mechanics step and per phenotype step."""
        return (round(self.mechanics_min / self.diffusion_min),
                round(self.phenotype_min / self.diffusion_min))


class GridConfig(_Model):
    """The diffusion grid: ``shape`` (ny, nx) or (nz, ny, nx) voxels of ``dx_um``."""

    shape: tuple[int, ...]
    dx_um: float = Field(20.0, gt=0)


class SubstanceConfig(_Model):
    """A diffusing substance; defaults are PhysiCell's oxygen.

    ``secretion`` maps a model output to the cells' secretion, ``uptake`` sets the cells'
    uptake rate (default ``phenotype.uptake_per_min``) and may feed a model input (see
    :mod:`exotwin.tissue.coupling`); both need ``intracellular`` for model ids.
    """

    name: str = "oxygen"
    units: str = "mmHg"
    diffusion_um2_per_min: float = Field(1e5, ge=0)
    decay_per_min: float = Field(0.1, ge=0)
    boundary_value: float | None = Field(38.0, description="Dirichlet on every face; None: "
                                         "zero flux")
    initial: float = Field(38.0, ge=0)
    provenance: str = "PhysiCell default oxygen: D 1e5 um^2/min, decay 0.1 1/min, 38 mmHg"
    secretion: cp.SecretionMap | None = None
    uptake: cp.UptakeMap | None = None


class CellsConfig(_Model):
    """Initial cells: ``count`` cells placed uniformly in a ball (disc in 2D).

    The ball has radius ``spread_um`` and is centred in the grid; placement draws are
    keyed by (seed, ``placement``, id).
    """

    count: int = Field(ge=0)
    radius_um: float = Field(ag.DEFAULT_RADIUS, gt=0)
    spread_um: float = Field(50.0, ge=0)


class MechanicsConfig(_Model):
    """Standard-model mechanics; defaults are PhysiCell's (see :class:`MechanicsParams`)."""

    repulsion_um_per_min: float = Field(10.0, ge=0)
    adhesion_um_per_min: float = Field(0.4, ge=0)
    max_adhesion_distance: float = Field(1.25, gt=0, description="relative to radius")
    scheme: str = "ab2"

    def params(self) -> ag.MechanicsParams:
        """As :class:`~exotwin.tissue.agents.MechanicsParams`."""
        return ag.MechanicsParams(self.repulsion_um_per_min, self.adhesion_um_per_min,
                                  self.max_adhesion_distance, self.scheme)


class PhenotypeConfig(_Model):
    """Growth, division and uptake of living cells.

    ``growth_per_min``: relaxation rate of a cell's volume towards that of radius
    ``cells.radius_um`` (PhysiCell's default cytoplasmic biomass change rate, 0.27/h).
    ``division_rate_per_min``: constant division hazard (assumed, scenario value).
    ``uptake_per_min``: uptake rate u of the substance per cell; a voxel's sink is
    ``sum u V_cell / dx^3`` (BioFVM's form; PhysiCell's default oxygen uptake is 10/min).
    """

    growth_per_min: float = Field(0.27 / 60.0, ge=0)
    division_rate_per_min: float = Field(0.0, ge=0)
    uptake_per_min: float = Field(10.0, ge=0)


class Scenario(_Model):
    """A tissue scenario; see the module docstring.

    ``kind``, ``id`` and ``title`` let a scenario file stand beside protocol files
    (``exotwin run`` dispatches on ``kind: tissue``).
    """

    kind: Literal["tissue"] = "tissue"
    id: str = "tissue"
    title: str = ""
    seed: int = Field(0, ge=0, lt=2**64)
    grid: GridConfig
    time_steps: TimeSteps = TimeSteps()
    substance: SubstanceConfig = SubstanceConfig()
    substances: list[SubstanceConfig] | None = None
    cells: CellsConfig
    mechanics: MechanicsConfig = MechanicsConfig()
    phenotype: PhenotypeConfig = PhenotypeConfig()
    intracellular: cp.Intracellular | None = None

    @model_validator(mode="after")
    def _maps(self):
        # a dumped configuration (scenario.json, a checkpoint's) carries the default
        # `substance` beside `substances`: only a changed one is a conflict
        if (self.substances is not None and "substance" in self.model_fields_set
                and self.substance != SubstanceConfig()):
            raise ValueError("give either substance or substances, not both")
        if self.substances is not None and not self.substances:
            raise ValueError("substances must not be empty")
        names = [s.name for s in self.substance_list()]
        if len(set(names)) != len(names):
            raise ValueError(f"substance names must be unique: {names}")
        mapped = any(s.secretion is not None or (s.uptake is not None and s.uptake.input)
                     for s in self.substance_list())
        if mapped and self.intracellular is None:
            raise ValueError("secretion/uptake maps to model ids need an intracellular model")
        return self

    def substance_list(self) -> list[SubstanceConfig]:
        """The substances in field order."""
        return list(self.substances) if self.substances is not None else [self.substance]

    def grid_(self) -> Grid:
        """The diffusion grid."""
        return Grid(self.grid.shape, self.grid.dx_um)

    def substances_(self) -> Substances:
        """The substances as the diffusion solver takes them."""
        out = []
        for s in self.substance_list():
            bc = {} if s.boundary_value is None else {"all": Dirichlet(s.boundary_value)}
            out.append(Substance(s.name, s.diffusion_um2_per_min, s.decay_per_min, s.units,
                                 bc, s.provenance))
        return Substances(out)


def load_scenario(config, source: str | None = None) -> Scenario:
    """A :class:`Scenario` from itself, a mapping, or a YAML file; one-line errors.

    The ids of an ``intracellular`` model's maps are checked against the model. Errors
    name the YAML file, or ``source`` (where a mapping came from: a checkpoint).
    """
    if isinstance(config, Scenario):
        return config
    file = source
    if isinstance(config, str | os.PathLike):
        file = str(config)
        config = _model_beside(read_yaml(config, "scenario file"), Path(file).parent)
    try:
        cfg = Scenario.model_validate(config)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ExotwinError(validation_reason(Scenario, exc.errors()), file=file,
                           field=where or None) from None  # fmt: skip
    if cfg.intracellular is not None:
        try:
            cp.compiled(cfg)
        except ExotwinError as exc:  # a map's field, or the model file and its problem
            if exc.file is None:
                raise ExotwinError(exc.reason, file=file, field=exc.field) from None
            where = ": ".join(p for p in (exc.file, exc.field) if p)
            raise ExotwinError(f"{where}: {exc.reason}", file=file,
                               field="intracellular.model") from None  # fmt: skip
    return cfg


def _model_beside(data, folder: Path):
    """``data`` with its ``intracellular.model`` made absolute if it is a relative SBML path.

    Only a file found beside the scenario file (in ``folder``) is taken; otherwise the path
    stays relative to the working directory, as before.
    """
    ic = data.get("intracellular") if isinstance(data, dict) else None
    model = ic.get("model") if isinstance(ic, dict) else None
    if not isinstance(model, str) or Path(model).is_absolute():
        return data
    beside = folder / model
    if Path(model).suffix.lower() in (".xml", ".sbml") and beside.is_file():
        return {**data, "intracellular": {**ic, "model": str(beside.resolve())}}
    return data


def initial_state(config) -> ck.SimulationState:
    """The state at time 0: cells placed in a ball, fields at each substance's ``initial``."""
    cfg = load_scenario(config)
    grid = cfg.grid_()
    n = cfg.cells.count
    ids = np.arange(n, dtype=np.uint64)
    u = [rng.uniform(cfg.seed, "placement", ids, k) for k in range(3)]
    r = cfg.cells.spread_um * u[0] ** (1.0 / grid.ndim)
    phi = 2.0 * math.pi * u[1]
    z = 2.0 * u[2] - 1.0 if grid.ndim == 3 else np.zeros(n)
    s = np.sqrt(1.0 - z * z)
    nz, ny, nx = grid.dims
    centre = np.array([nx, ny, nz if grid.ndim == 3 else 0.0]) * grid.dx / 2.0
    pos = centre + r[:, None] * np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)
    agents = ag.Agents.create(pos, cfg.cells.radius_um)
    initial = np.array([sub.initial for sub in cfg.substance_list()])
    fields = np.ascontiguousarray(
        np.broadcast_to(initial[:, None, None, None], (initial.size, *grid.dims)))
    steps = {"diffusion": 0, "mechanics": 0, "phenotype": 0}
    return ck.SimulationState(agents, fields, 0.0, steps, cfg.seed, _config_json(cfg),
                              cp.initial_data(cfg, n))


def _config_json(cfg: Scenario) -> str:
    return json.dumps(cfg.model_dump(mode="json"), sort_keys=True)


def _same(config_json: str, cfg: Scenario) -> bool:
    """Whether a stored configuration (perhaps of an older version) equals ``cfg``."""
    try:
        return Scenario.model_validate(json.loads(config_json or "null")) == cfg
    except (ValueError, ValidationError):
        return False


def check_resumable(state: ck.SimulationState, cfg: Scenario, file) -> None:
    """Refuse a checkpoint of a configuration other than ``cfg``.

    The one-line error names ``file`` and the top-level fields that differ.
    """
    if state.config == _config_json(cfg) or _same(state.config, cfg):
        return
    try:
        stored = json.loads(state.config or "null") or {}
    except ValueError:
        stored = {}
    now = cfg.model_dump(mode="json")
    differ = sorted(k for k in {*stored, *now} if stored.get(k) != now.get(k))
    raise ExotwinError("checkpoint was written by another scenario configuration (differs in: "
                       f"{', '.join(differ) or 'format'})", file=str(file))  # fmt: skip


def phenotype_step(agents: ag.Agents, data: dict[str, np.ndarray], cfg: Scenario,
                   step_index: int, time_min: float) -> tuple[ag.Agents, dict[str, np.ndarray]]:
    """One phenotype step from ``time_min``: growth, intracellular models, death, division.

    Living cells grow towards the volume of radius ``cells.radius_um``; their models
    advance (:func:`exotwin.tissue.coupling.advance`); with an ``apoptosis`` output some
    die, then some divide (rate: the model's ``division`` output, or the constant
    ``phenotype.division_rate_per_min``), all by keyed draws. Daughters copy their mother's
    per-cell data.
    """
    dt = cfg.time_steps.phenotype_min
    live = agents.alive
    v_target = 4.0 / 3.0 * math.pi * cfg.cells.radius_um**3
    v = agents.volume()
    v = np.where(live, v_target + (v - v_target) * math.exp(-cfg.phenotype.growth_per_min * dt),
                 v)
    agents = replace(agents, radius=(3.0 * v / (4.0 * math.pi)) ** (1.0 / 3.0))
    data, hazards = cp.advance(cfg, data, live, time_min)
    if agents.n == 0:
        return agents, data
    if "apoptosis" in hazards:
        u = rng.uniform(cfg.seed, "apoptosis", agents.ids, step_index)
        dying = live & (u < -np.expm1(-hazards["apoptosis"] * dt))
        agents = ag.kill(agents, dying)
        data["secretion"][dying] = 0.0
        live = agents.alive
    p = -np.expm1(-hazards.get("division", cfg.phenotype.division_rate_per_min) * dt)
    if np.all(p <= 0.0):
        return agents, data
    u = rng.uniform(cfg.seed, "division", agents.ids, step_index)
    mask = live & (u < p)
    parents = ag.division_order(agents, mask)
    agents = ag.divide(agents, mask, cfg.seed, step_index, len(cfg.grid.shape))
    return agents, cp.inherit(data, parents)


def _every(minutes: float | None, dt: float, name: str) -> int | None:
    """An interval (min) as a whole number (>= 1) of diffusion steps ``dt``, or ``None``."""
    if minutes is None:
        return None
    k = round(minutes / dt)
    if k < 1:
        raise ExotwinError(f"{name} must be >= {dt} min")
    return k


def run(config, until: float, checkpoint_every: float | None = None,
        resume_from: str | os.PathLike[str] | ck.SimulationState | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        on_checkpoint: Callable[[ck.SimulationState], None] | None = None,
        snapshot_every: float | None = None,
        on_snapshot: Callable[[ck.SimulationState], None] | None = None,
        ) -> ck.SimulationState:
    """Run a scenario to time ``until`` (min).

    Parameters
    ----------
    config
        A :class:`Scenario`, a mapping or a YAML file.
    until
        End time (min); rounded to a whole number of diffusion steps.
    checkpoint_every
        Call ``on_checkpoint`` (and write ``checkpoint``, overwritten atomically) every
        this many minutes (a whole number of diffusion steps).
    resume_from
        A checkpoint (path or state) of the same scenario to continue from.
    checkpoint
        Checkpoint path; ``checkpoint_every`` needs it or ``on_checkpoint``.
    on_checkpoint
        Called with the state at every checkpoint time (after ``checkpoint`` is written).
    snapshot_every, on_snapshot
        Call ``on_snapshot`` with the state every this many minutes (after any checkpoint
        of the same time).

    Returns
    -------
    SimulationState
        The state at ``until``.
    """
    return run_with_ledger(config, until, checkpoint_every, resume_from, checkpoint,
                           on_checkpoint, snapshot_every, on_snapshot, ledger=False)[0]


def run_with_ledger(config, until: float, checkpoint_every: float | None = None,
                    resume_from: str | os.PathLike[str] | ck.SimulationState | None = None,
                    checkpoint: str | os.PathLike[str] | None = None,
                    on_checkpoint: Callable[[ck.SimulationState], None] | None = None,
                    snapshot_every: float | None = None,
                    on_snapshot: Callable[[ck.SimulationState], None] | None = None,
                    ledger: bool = True) -> tuple[ck.SimulationState, Ledger | None]:
    """As :func:`run`, also returning the diffusion ledger summed over the run.

    The ledger's amounts are per um of depth in 2D (multiply by
    :func:`exotwin.tissue.coupling.depth` for the cells' amounts); ``None`` if ``ledger``
    is false.
    """
    cfg = load_scenario(config)
    if resume_from is not None:
        state = (resume_from if isinstance(resume_from, ck.SimulationState)
                 else ck.load(resume_from))
        label = "checkpoint" if isinstance(resume_from, ck.SimulationState) else resume_from
        check_resumable(state, cfg, label)
    else:
        state = initial_state(cfg)
    ts = cfg.time_steps
    k_mech, k_pheno = ts.ratios()
    if checkpoint_every is not None and checkpoint is None and on_checkpoint is None:
        raise ExotwinError("checkpoint_every needs a checkpoint path")
    if snapshot_every is not None and on_snapshot is None:
        raise ExotwinError("snapshot_every needs on_snapshot")
    k_ckpt = _every(checkpoint_every, ts.diffusion_min, "checkpoint_every")
    k_snap = _every(snapshot_every, ts.diffusion_min, "snapshot_every")
    grid, subs, mech = cfg.grid_(), cfg.substances_(), cfg.mechanics.params()
    decay = np.array([s.decay for s in subs.items])
    fed = np.array([j for j, s in enumerate(cfg.substance_list())
                    if s.uptake is not None and s.uptake.input], dtype=np.int64)
    agents, fields = state.agents, state.fields
    data = ({k: v.copy() for k, v in state.cell_data.items()} if state.cell_data
            else cp.initial_data(cfg, agents.n))  # (format 1 checkpoints have none)
    steps = dict(state.steps)
    n, n_end = steps["diffusion"], round(until / ts.diffusion_min)
    total = None
    terms = None
    while n < n_end:
        if n % k_pheno == 0:
            agents, data = phenotype_step(agents, data, cfg, steps["phenotype"],
                                          n * ts.diffusion_min)
            steps["phenotype"] += 1
            terms = None
        if n % k_mech == 0:
            agents = ag.mechanics_step(agents, mech, ts.mechanics_min)
            steps["mechanics"] += 1
            terms = None
        if terms is None:
            terms = cp.cell_terms(cfg, agents, data, grid)
        supply, sinks, weights, vox = terms
        if fed.size:
            cp.accumulate_uptake(data["uptaken"], agents.alive, fields, supply, sinks, decay,
                                 ts.diffusion_min, weights, vox, fed)
        fields, lg = step_with_ledger(fields, grid, subs, ts.diffusion_min,
                                      Sources(supply=supply), sinks, ledger=ledger)
        if ledger:
            total = lg if total is None else total + lg
        n += 1
        steps["diffusion"] = n
        due_ckpt = k_ckpt is not None and n % k_ckpt == 0
        due_snap = k_snap is not None and n % k_snap == 0
        if due_ckpt or due_snap:
            now = ck.SimulationState(agents, fields, n * ts.diffusion_min, dict(steps),
                                     cfg.seed, state.config,
                                     {k: v.copy() for k, v in data.items()})
            if due_ckpt and checkpoint is not None:
                ck.save(checkpoint, now)
            if due_ckpt and on_checkpoint is not None:
                on_checkpoint(now)
            if due_snap:
                on_snapshot(now)
    final = ck.SimulationState(agents, fields, n * ts.diffusion_min, steps, cfg.seed,
                               state.config, data)
    return final, total


__all__ = [
    "CellsConfig",
    "GridConfig",
    "MechanicsConfig",
    "PhenotypeConfig",
    "Scenario",
    "SubstanceConfig",
    "TimeSteps",
    "initial_state",
    "load_scenario",
    "phenotype_step",
    "run",
    "run_with_ledger",
]
