"""Cell <-> field coupling through the intracellular model (owns the substance <-> species maps).

A tissue scenario may give its cells an intracellular model (:mod:`exotwin.kinetics`) and
declare, per substance, which model output sets a cell's secretion and which model input
receives what the cell took up, as PhysiCell's substance <-> species maps do::

    substances:
      - name: exo_ERp44
        secretion: {output: exo_ERp44_export_flux, unit: per_hour}
        uptake: {rate_per_min: 6.7, input: exo_ERp44_uptake_rate, unit: per_hour}

Amounts are the substance's concentration unit times um^3 (a 2D grid is one voxel
``dx`` deep, as in PhysiCell); a rate unit such as ``per_hour`` means "amount per cell per
hour" on the model side. At each phenotype step of length ``dt`` the living cells'
states advance by ``dt`` (one batched :func:`exotwin.kinetics.simulate` call, model inputs
set to the amount each cell took up over the previous phenotype step divided by ``dt``);
the Simpson average of each secretion output over the step becomes the cell's secretion
(amount/min) until the next phenotype step. Secretion enters the voxel holding the cell's
centre as a zero-order supply ``S / dx^3``; uptake is BioFVM's sink ``u V_cell / dx^3``.
The amount a cell takes up in a diffusion step is ``u V_cell`` times the exact time
integral of the concentration of its voxel over the reaction part of the step (the same
integral the solver's ledger uses), so the cells' uptake sums to the ledger's.

Per-cell data (``SimulationState.cell_data``), ``n`` cells in agent order:
``kinetic_state`` ``(n, n_states)`` (model units), ``secretion`` ``(n, n_substances)``
(amount/min) and ``uptaken`` ``(n, n_substances)`` (amount since the last phenotype step).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from exotwin.errors import ExotwinError
from exotwin.tissue import _kernels

# minutes per time unit; a rate "per_X" is amount per cell per X
TIME_UNITS = {"s": 1.0 / 60.0, "sec": 1.0 / 60.0, "min": 1.0, "h": 60.0, "hr": 60.0,
              "d": 1440.0, "day": 1440.0}
RATE_UNITS = {"per_second": 1.0 / 60.0, "per_min": 1.0, "per_hour": 60.0, "per_day": 1440.0}
RateUnit = Literal["per_second", "per_min", "per_hour", "per_day"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretionMap(_Model):
    """Model ``output`` giving a cell's secretion, amount per cell per ``unit``."""

    output: str
    unit: RateUnit = "per_hour"


class UptakeMap(_Model):
    """Uptake rate ``rate_per_min`` (1/min, BioFVM's u) and the model ``input`` it feeds.

    ``input`` (optional) receives the amount the cell took up, per cell per ``unit``.
    """

    rate_per_min: float = Field(ge=0)
    input: str | None = None
    unit: RateUnit = "per_hour"
    provenance: str = ""


class RateOutput(_Model):
    """A model output read as a per-cell hazard (per ``unit``)."""

    output: str
    unit: RateUnit = "per_hour"


class Intracellular(_Model):
    """The cells' intracellular model.

    ``model`` is a built-in model name or an SBML file; ``time_unit`` its time unit;
    ``parameters`` constant overrides for every cell; ``record`` state ids written to
    snapshots; ``division`` and ``apoptosis`` optional outputs giving the division rate
    and apoptosis hazard (they then replace ``phenotype.division_rate_per_min``).
    """

    model: str
    time_unit: Literal["s", "min", "h", "d"] = "h"
    parameters: dict[str, FiniteFloat] = {}
    record: list[str] = []
    division: RateOutput | None = None
    apoptosis: RateOutput | None = None
    rtol: float = Field(1e-6, gt=0, lt=1)
    atol: float = Field(1e-9, gt=0)


DATA = ("kinetic_state", "secretion", "uptaken")


def compiled(cfg):
    """The compiled model of ``cfg.intracellular``, every mapped id checked.

    Raises
    ------
    ExotwinError
        Naming the scenario field of an id the model does not have.
    """
    from exotwin.kinetics import compile_model

    ic = cfg.intracellular
    cm = compile_model(ic.model)
    for i, s in enumerate(cfg.substance_list()):
        where = f"substances.{i}"
        if s.secretion is not None and s.secretion.output not in cm.output_index:
            raise ExotwinError(f"model {ic.model} has no output {s.secretion.output!r}",
                               field=f"{where}.secretion.output")
        if s.uptake is not None and s.uptake.input is not None and (
                s.uptake.input not in cm.spec.constants):
            raise ExotwinError(f"model {ic.model} has no constant input {s.uptake.input!r}",
                               field=f"{where}.uptake.input")
    for name in ic.parameters:
        if name not in cm.spec.constants:
            raise ExotwinError(f"model {ic.model} has no constant {name!r}",
                               field="intracellular.parameters")
    states = [s.id for s in cm.spec.states]
    for name in ic.record:
        if name not in states:
            raise ExotwinError(f"{name!r} is not a state variable of {ic.model}",
                               field="intracellular.record")
    for key in ("division", "apoptosis"):
        out = getattr(ic, key)
        if out is not None and out.output not in cm.output_index:
            raise ExotwinError(f"model {ic.model} has no output {out.output!r}",
                               field=f"intracellular.{key}.output")
    return cm


def initial_data(cfg, n: int) -> dict[str, np.ndarray]:
    """Per-cell data at time 0: the model's initial state, no secretion, nothing taken up."""
    from exotwin.kinetics import simulate

    n_sub = len(cfg.substance_list())
    data = {"secretion": np.zeros((n, n_sub)), "uptaken": np.zeros((n, n_sub))}
    if cfg.intracellular is None:
        return data
    cm = compiled(cfg)
    names = [s.id for s in cm.spec.states]
    ds = simulate(cm, [0.0], parameters=cfg.intracellular.parameters, variables=names)
    row = np.array([float(ds[s].values[0, 0]) for s in names])
    data["kinetic_state"] = np.tile(row, (n, 1))
    return data


def _simpson(values: np.ndarray) -> np.ndarray:
    """Average over a step from values at its start, middle and end, shape ``(n, 3)``."""
    return (values[:, 0] + 4.0 * values[:, 1] + values[:, 2]) / 6.0


def advance(cfg, data: dict[str, np.ndarray], live: np.ndarray, time_min: float,
            threads: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Advance the living cells' models over one phenotype step starting at ``time_min``.

    Parameters
    ----------
    cfg
        The scenario.
    data
        Per-cell data (module docstring); not changed.
    live
        Living cells, shape ``(n,)`` bool.
    time_min
        Start of the step (min).
    threads
        Threads of the kinetics (results do not depend on it).

    Returns
    -------
    data, hazards
        New per-cell data (``uptaken`` reset to zero, secretion of dead cells zero) and
        the step-averaged ``division`` / ``apoptosis`` hazards (1/min, ``(n,)``) the model
        gives, for the keys configured.
    """
    from exotwin.kinetics import simulate

    ic = cfg.intracellular
    subs = cfg.substance_list()
    dt = cfg.time_steps.phenotype_min
    new = {k: v.copy() for k, v in data.items()}
    new["uptaken"][:] = 0.0
    new["secretion"][~live] = 0.0
    hazards: dict[str, np.ndarray] = {}
    idx = np.flatnonzero(live)
    if ic is None or idx.size == 0:
        return new, hazards
    cm = compiled(cfg)
    names = [s.id for s in cm.spec.states]
    params: dict[str, object] = dict(ic.parameters)
    for j, s in enumerate(subs):
        if s.uptake is not None and s.uptake.input is not None:
            params[s.uptake.input] = data["uptaken"][idx, j] / dt * RATE_UNITS[s.uptake.unit]
    outputs = [s.secretion.output for s in subs if s.secretion is not None]
    rates = {k: getattr(ic, k) for k in ("division", "apoptosis") if getattr(ic, k)}
    outputs += [r.output for r in rates.values()]
    outputs = list(dict.fromkeys(o for o in outputs if o not in names))
    unit = TIME_UNITS[ic.time_unit]
    t0, t1 = time_min / unit, (time_min + dt) / unit
    ds = simulate(cm, [t0, 0.5 * (t0 + t1), t1], n_cells=idx.size, parameters=params,
                  initial={s: data["kinetic_state"][idx, k] for k, s in enumerate(names)},
                  variables=names + outputs, rtol=ic.rtol, atol=ic.atol, threads=threads)
    for k, s in enumerate(names):
        new["kinetic_state"][idx, k] = ds[s].values[:, -1]
    for j, s in enumerate(subs):
        if s.secretion is not None:
            avg = _simpson(ds[s.secretion.output].values)
            new["secretion"][idx, j] = np.clip(avg, 0.0, None) / RATE_UNITS[s.secretion.unit]
    for key, r in rates.items():
        h = np.zeros(live.shape[0])
        h[idx] = np.clip(_simpson(ds[r.output].values), 0.0, None) / RATE_UNITS[r.unit]
        hazards[key] = h
    return new, hazards


def inherit(data: dict[str, np.ndarray], parents: np.ndarray) -> dict[str, np.ndarray]:
    """Append one row per daughter, copied from its mother (``parents``, indices ``(k,)``).

    Daughters have taken nothing up yet.
    """
    new = {k: np.concatenate([v, v[parents]]) for k, v in data.items()}
    new["uptaken"][data["uptaken"].shape[0]:] = 0.0
    return new


@njit(cache=True, fastmath=False)
def _deposit(positions, live, weights, dx, nx, ny, nz, vox, out):
    """Deposit the living cells' ``weights`` ``(n, n_s)`` into their voxels.

    Writes each living cell's flat voxel (clipped to the grid) to ``vox`` ``(n_live,)``
    and adds ``weights[i, s]`` to ``out[s, voxel]`` ``(n_s, n_voxels)`` in cell order (so
    the sums do not depend on threads).
    """
    k = 0
    for i in range(positions.shape[0]):
        if not live[i]:
            continue
        ix = min(max(int(math.floor(positions[i, 0] / dx)), 0), nx - 1)
        iy = min(max(int(math.floor(positions[i, 1] / dx)), 0), ny - 1)
        iz = min(max(int(math.floor(positions[i, 2] / dx)), 0), nz - 1)
        v = (iz * ny + iy) * nx + ix
        vox[k] = v
        k += 1
        for s in range(weights.shape[1]):
            out[s, v] += weights[i, s]


def cell_terms(cfg, agents, data: dict[str, np.ndarray] | None, grid):
    """Per-voxel supply and uptake of the living cells, and per-cell uptake weights.

    A cell counts in the voxel holding its centre (clipped to the grid).

    Returns
    -------
    supply, sinks, weights, vox
        Supply (concentration/min) or ``None`` when nothing is secreted, and uptake rate
        (1/min), both of shape ``(n_substances, nz, ny, nx)``; ``u V_cell`` (um^3/min) of
        each living cell ``(n_live, n_substances)`` and its flat voxel ``(n_live,)``.
    """
    subs = cfg.substance_list()
    nz, ny, nx = grid.dims
    shape = (len(subs), nz, ny, nx)
    vol = grid.dx**3
    live = agents.alive
    u = np.array([cfg.phenotype.uptake_per_min if s.uptake is None else s.uptake.rate_per_min
                  for s in subs])
    rate = agents.volume()[:, None] * (u / vol)[None, :]
    sinks = np.zeros(shape)
    vox = np.empty(int(live.sum()), np.int64)
    args = (agents.positions, live, grid.dx, nx, ny, nz, vox)
    _deposit(args[0], live, rate, *args[2:], sinks.reshape(len(subs), -1))
    supply = None
    if data is not None and any(s.secretion is not None for s in subs):
        supply = np.zeros(shape)
        _deposit(args[0], live, data["secretion"] / vol, *args[2:],
                 supply.reshape(len(subs), -1))
    return supply, sinks, rate[live] * vol, vox


@njit(cache=True, fastmath=False)
def _accumulate(fields, supply, has_supply, sinks, decay, dt, vox, weights, columns, out):
    """Add each cell's uptake over one diffusion step to ``out[cell, s]``.

    ``fields``, ``supply`` (read only if ``has_supply``) and ``sinks`` are
    ``(n_s, n_voxels)`` at the start of the step, ``vox`` ``(n,)`` flat voxels,
    ``weights`` ``(n, n_s)`` (u V_cell, um^3/min), ``columns`` the substances to account,
    ``out`` ``(n, n_s)``.
    """
    for c in range(columns.shape[0]):
        s = columns[c]
        for i in range(vox.shape[0]):
            v = vox[i]
            q = supply[s, v] if has_supply else 0.0
            _, integral = _kernels._react(fields[s, v], 0.0, q, sinks[s, v], decay[s], dt)
            out[i, s] += weights[i, s] * integral


def accumulate_uptake(uptaken, live, fields, supply, sinks, decay, dt, weights, vox,
                      columns) -> None:
    """Add the uptake of the living cells over one diffusion step to ``uptaken`` in place.

    ``uptaken`` ``(n, n_s)``; ``live`` ``(n,)`` bool; ``fields``, ``supply`` (or ``None``),
    ``sinks`` of the fields' shape at the start of the step; ``decay`` ``(n_s,)`` 1/min;
    ``weights`` and ``vox`` from :func:`cell_terms`; ``columns`` ``(k,)`` int64, the
    substance indices to account.
    """
    ns = fields.shape[0]
    sup = fields if supply is None else supply
    out = np.zeros((vox.shape[0], ns))
    _accumulate(fields.reshape(ns, -1), sup.reshape(ns, -1), supply is not None,
                sinks.reshape(ns, -1), decay, dt, vox, weights, columns, out)
    uptaken[live] += out


def depth(grid) -> float:
    """Depth (um) of the grid's voxels: ``dx`` in 2D (PhysiCell's convention), 1 in 3D.

    The diffusion ledger counts amounts per um of depth in 2D; times this, amounts are in
    the units the cells secrete and take up (concentration x um^3).
    """
    return grid.dx if grid.ndim == 2 else 1.0


__all__ = ["DATA", "Intracellular", "RateOutput", "SecretionMap", "UptakeMap", "accumulate_uptake",
           "advance", "cell_terms", "compiled", "depth", "inherit", "initial_data"]

