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
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exotwin import rng
from exotwin.errors import ExotwinError
from exotwin.tissue import agents as ag
from exotwin.tissue import checkpoint as ck
from exotwin.tissue.diffusion import Dirichlet, Grid, Substance, Substances, step


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    """The diffusing substance; defaults are PhysiCell's oxygen."""

    name: str = "oxygen"
    units: str = "mmHg"
    diffusion_um2_per_min: float = Field(1e5, ge=0)
    decay_per_min: float = Field(0.1, ge=0)
    boundary_value: float | None = Field(38.0, description="Dirichlet on every face; None: "
                                         "zero flux")
    initial: float = Field(38.0, ge=0)
    provenance: str = "PhysiCell default oxygen: D 1e5 um^2/min, decay 0.1 1/min, 38 mmHg"


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
    cells: CellsConfig
    mechanics: MechanicsConfig = MechanicsConfig()
    phenotype: PhenotypeConfig = PhenotypeConfig()

    def grid_(self) -> Grid:
        """The diffusion grid."""
        return Grid(self.grid.shape, self.grid.dx_um)

    def substances(self) -> Substances:
        """The (one) substance."""
        s = self.substance
        bc = {} if s.boundary_value is None else {"all": Dirichlet(s.boundary_value)}
        return Substances([Substance(s.name, s.diffusion_um2_per_min, s.decay_per_min,
                                     s.units, bc, s.provenance)])


def load_scenario(config) -> Scenario:
    """A :class:`Scenario` from itself, a mapping, or a YAML file; one-line errors."""
    if isinstance(config, Scenario):
        return config
    file = None
    if isinstance(config, str | os.PathLike):
        file = str(config)
        try:
            config = yaml.safe_load(Path(config).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ExotwinError(f"cannot read scenario: {exc}", file=file) from None
    try:
        return Scenario.model_validate(config)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ExotwinError(err["msg"], file=file, field=where or None) from None


def initial_state(config) -> ck.SimulationState:
    """The state at time 0: cells placed in a ball, fields at ``substance.initial``."""
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
    fields = np.full((1, *grid.dims), cfg.substance.initial)
    steps = {"diffusion": 0, "mechanics": 0, "phenotype": 0}
    return ck.SimulationState(agents, fields, 0.0, steps, cfg.seed, _config_json(cfg))


def _config_json(cfg: Scenario) -> str:
    return json.dumps(cfg.model_dump(mode="json"), sort_keys=True)


def sinks(agents: ag.Agents, grid: Grid, uptake_per_min: float) -> np.ndarray:
    """Per-voxel uptake rate (1/min) of living cells, shape ``(1, nz, ny, nx)``.

    A cell counts in the voxel holding its centre (clipped to the grid) with
    ``u V_cell / dx^3``.
    """
    nz, ny, nx = grid.dims
    live = agents.alive
    idx = np.floor(agents.positions[live] / grid.dx).astype(np.int64)
    ix = np.clip(idx[:, 0], 0, nx - 1)
    iy = np.clip(idx[:, 1], 0, ny - 1)
    iz = np.clip(idx[:, 2], 0, nz - 1)
    w = uptake_per_min * agents.volume()[live] / grid.dx**3
    flat = np.bincount((iz * ny + iy) * nx + ix, weights=w, minlength=nz * ny * nx)
    return flat.reshape(1, nz, ny, nx)


def phenotype_step(agents: ag.Agents, cfg: Scenario, step_index: int) -> ag.Agents:
    """Grow living cells over one phenotype step, then divide some (keyed draws)."""
    dt = cfg.time_steps.phenotype_min
    live = agents.alive
    v_target = 4.0 / 3.0 * math.pi * cfg.cells.radius_um**3
    v = agents.volume()
    v = np.where(live, v_target + (v - v_target) * math.exp(-cfg.phenotype.growth_per_min * dt),
                 v)
    agents = replace(agents, radius=(3.0 * v / (4.0 * math.pi)) ** (1.0 / 3.0))
    p = -math.expm1(-cfg.phenotype.division_rate_per_min * dt)
    if p <= 0.0 or agents.n == 0:
        return agents
    u = rng.uniform(cfg.seed, "division", agents.ids, step_index)
    ndim = len(cfg.grid.shape)
    return ag.divide(agents, live & (u < p), cfg.seed, step_index, ndim)


def run(config, until: float, checkpoint_every: float | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        on_checkpoint: Callable[[ck.SimulationState], None] | None = None,
        ) -> ck.SimulationState:
    """Run a scenario to time ``until`` (min).

    Parameters
    ----------
    config
        A :class:`Scenario`, a mapping or a YAML file.
    until
        End time (min); rounded to a whole number of diffusion steps.
    checkpoint_every
        Write a checkpoint every this many minutes (a whole number of diffusion steps)
        to ``checkpoint`` (overwritten atomically each time).
    resume_from
        A checkpoint (path or state) of the same scenario to continue from.
    checkpoint
        Checkpoint path; ``checkpoint_every`` needs it or ``on_checkpoint``.
    on_checkpoint
        Called with the state at every checkpoint time (after ``checkpoint`` is written).

    Returns
    -------
    SimulationState
        The state at ``until``.
    """
    cfg = load_scenario(config)
    if resume_from is not None:
        state = (resume_from if isinstance(resume_from, ck.SimulationState)
                 else ck.load(resume_from))
        if state.config != _config_json(cfg):
            raise ExotwinError("checkpoint was written by another scenario configuration",
                               file=str(resume_from))
    else:
        state = initial_state(cfg)
    ts = cfg.time_steps
    k_mech, k_pheno = ts.ratios()
    k_ckpt = None
    if checkpoint_every is not None:
        if checkpoint is None and on_checkpoint is None:
            raise ExotwinError("checkpoint_every needs a checkpoint path")
        k_ckpt = round(checkpoint_every / ts.diffusion_min)
        if k_ckpt < 1:
            raise ExotwinError(f"checkpoint_every must be >= {ts.diffusion_min} min")
    grid, subs, mech = cfg.grid_(), cfg.substances(), cfg.mechanics.params()
    agents, fields = state.agents, state.fields
    steps = dict(state.steps)
    n, n_end = steps["diffusion"], round(until / ts.diffusion_min)
    while n < n_end:
        if n % k_pheno == 0:
            agents = phenotype_step(agents, cfg, steps["phenotype"])
            steps["phenotype"] += 1
        if n % k_mech == 0:
            agents = ag.mechanics_step(agents, mech, ts.mechanics_min)
            steps["mechanics"] += 1
        fields = step(fields, grid, subs, ts.diffusion_min, None,
                      sinks(agents, grid, cfg.phenotype.uptake_per_min))
        n += 1
        steps["diffusion"] = n
        if k_ckpt is not None and n % k_ckpt == 0:
            now = ck.SimulationState(agents, fields, n * ts.diffusion_min, dict(steps),
                                     cfg.seed, state.config)
            if checkpoint is not None:
                ck.save(checkpoint, now)
            if on_checkpoint is not None:
                on_checkpoint(now)
    return ck.SimulationState(agents, fields, n * ts.diffusion_min, steps, cfg.seed,
                              state.config)


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
    "run",
    "sinks",
]
