"""Endothelial functional assays: scratch wound, transwell migration, tube formation, FITC-dextran.

Owns the four spatial assays of endothelial cells (HUVEC) of the Deng 2023 twin and their
registration helper :func:`measure`. Each assay reads the phenotype of the well's living
cells (model outputs, per agent, weighted by the agent's living cells) and runs its own
physical experiment with that phenotype.

assumed: the cells are pretreated in the well and keep the phenotype they have at the
time of the reading for the whole assay (they stay in their conditioned medium, so the
exosome-driven signalling persists); cell death during the assay is ignored.

Core functions are pure functions of arrays (per-cell phenotype, geometry, seed, key) so
they can be tested without models; the image analysis of the tube-formation assay is in
:mod:`exotwin.assays.angiogenesis`.

Random numbers: all draws come from keyed streams (:mod:`exotwin.rng`): entity keys
``((code << 20 | sample_id) << 24) + i`` (:func:`entity_keys`, ``code`` one per assay,
``i`` a cell or image index < 2**24) are disjoint from the keys of the other assays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy import ndimage
from scipy.spatial import cKDTree

from exotwin import rng
from exotwin.cells import outputs
from exotwin.cells.population import ALIVE, EARLY_APOPTOTIC, LATE_APOPTOTIC, PYROPTOTIC
from exotwin.errors import ExotwinError
from exotwin.tissue.agents import Agents, MechanicsParams, divide, velocities

ASSAY_CODES = {"scratch_wound": 1, "transwell_migration": 2, "tube_formation": 3,
               "fitc_dextran": 4}  # fmt: skip


def entity_keys(code: int, sample_id: int, index: np.ndarray) -> np.ndarray:
    """Keys of an assay's random draws: disjoint per assay code and sample, ``(n,)`` uint64."""
    base = np.uint64(((int(code) << 20) | int(sample_id)) << 24)
    return base + np.asarray(index, dtype=np.uint64)


# ---------------------------------------------------------------------------------------
# phenotype of the well's living cells


class PhenotypeNames(BaseModel):
    """Model outputs giving the endothelial phenotype (names of the recipient model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    speed: str = "migration_speed"
    division: str = "division_rate"
    sprouting: str = "sprouting_activity"
    junction: str = "junction_opening"


def phenotype(pop, names: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-agent model outputs ``names`` ``(n,)`` and the agents' living cells ``(n,)``."""
    missing = [k for k in names if k not in pop.model.spec.names]
    if missing:
        raise ExotwinError(f"model {pop.model.spec.model_id!r} has no output {missing[0]!r}; "
                           "name the phenotype output in the assay options (speed, "
                           "division, sprouting, junction)")  # fmt: skip
    return outputs(pop, names), pop.counts[:, ALIVE].astype(float)


def draw_cells(values: dict[str, np.ndarray], weights: np.ndarray, n: int, seed: int,
               keys: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Phenotypes of ``n`` cells drawn from the agents in proportion to their living cells.

    ``values`` maps names to per-agent values ``(n_agents,)``; ``keys`` ``(n,)`` are the
    cells' random keys. Returns name -> ``(n,)``.
    """
    w = np.asarray(weights, dtype=float)
    if n == 0 or w.sum() <= 0:
        return {k: np.zeros(n) for k in values}
    cdf = np.cumsum(w) / w.sum()
    u = rng.uniform(seed, "placement", keys, step=1)
    agent = np.minimum(np.searchsorted(cdf, u, side="right"), w.size - 1)
    return {k: np.asarray(v, dtype=float)[agent] for k, v in values.items()}


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Mean over living cells (NaN when the well has none)."""
    w = np.asarray(weights, dtype=float)
    return float(np.average(values, weights=w)) if w.sum() > 0 else float("nan")


# ---------------------------------------------------------------------------------------
# scratch wound


@dataclass(frozen=True)
class ScratchParameters:
    """Monolayer, motility and imaging of the scratch-wound assay.

    Attributes
    ----------
    cell_area_um2
        Footprint of one HUVEC in a confluent monolayer (um2). assumed: 2000 um2, i.e.
        5e4 cells/cm2, the usual confluent density of HUVEC (large, flat cells).
    persistence_min
        Persistence time of the random walk (min): the direction decorrelates as
        ``exp(-t / tau)`` (rotational diffusion ``1 / tau``). The persistent random walk
        model of endothelial cells is that of Stokes, Lauffenburger & Williams, J Cell Sci
        1991, doi:10.1242/jcs.99.2.419; value assumed: 60 min, the order of the
        persistence times of endothelial cells tracked in culture.
    repulsion
        Cell-cell repulsion (um/min) of the PhysiCell potential (tissue.agents); PhysiCell
        default 10 um/min (Ghaffarizadeh et al. 2018, doi:10.1371/journal.pcbi.1005991).
        No adhesion: assumed, a monolayer edge neither retracts nor spreads by adhesion.
    cil_min, cil_range
        Contact inhibition of locomotion (:func:`contact_turn`): time (min) in which a
        heading turns away from its contacts, and the contact range over the lattice
        spacing. assumed: 10 min (a lamellipodium repolarises within minutes of a contact)
        and 1.25 (dimensionless; first neighbours of the sheet).
    core
        Radius of the cell body that excludes other cells, over half the lattice spacing
        (dimensionless). assumed: 0.8; the flat lamellae of endothelial cells overlap and
        spread into free space, so the sheet (packing fraction 0.58 of the cores) flows
        instead of jamming as touching discs would (0.91).
    max_neighbours
        Contact inhibition of proliferation: a cell divides only with fewer than this many
        neighbours within 1.25 cell diameters (count). assumed: 5 (a cell inside a hexagonal
        sheet has 6).
    dt_min
        Motility/mechanics step (min). assumed: 2 min (Euler step stable for the
        repulsion stiffness; checked against 1 min in the tests).
    division_every_min
        Interval at which divisions are drawn (min). assumed: 30 min.
    reservoir_um
        Width of monolayer simulated beside the wound on each side (um). assumed: 500 um,
        more than cells travel in 24 h at 60 um/h with persistence (their diffusion
        length is ~ 200 um).
    length_um
        Length of wound simulated (um); the field images the middle ``field_length_um``.
        assumed: 1200 um, so the walls at the ends do not reach the imaged field.
    field_width_um, field_length_um
        Imaged field across and along the wound (um). assumed: 1000 x 800 um, a 10x field.
    pixel_um
        Pixel size of the segmentation (um). assumed: 5 um.
    footprint
        Largest radius a cell spreads to in the image, over half the lattice spacing
        (dimensionless): a pixel is covered when a cell centre lies this close. assumed: 1.6
        (38 um, a spread area of ~4500 um2, about twice the confluent footprint, as HUVEC at
        low density); the sheet stays covered when cells move apart a little, and holes open
        only where cells have left.
    min_gap_um2
        Smallest cell-free region counted as wound (um2): gaps between cells are not
        wound. assumed: 4000 um2 (two cell footprints), as the minimum-size filter of
        ImageJ wound-healing tools.
    segmentation_cv
        Relative error of the footprint radius of one image (threshold, focus;
        dimensionless). assumed: 0.03.
    """

    cell_area_um2: float = 2000.0
    persistence_min: float = 60.0
    repulsion: float = 10.0
    cil_min: float = 10.0
    cil_range: float = 1.25
    core: float = 0.8
    max_neighbours: int = 5
    dt_min: float = 2.0
    division_every_min: float = 30.0
    reservoir_um: float = 500.0
    length_um: float = 1200.0
    field_width_um: float = 1000.0
    field_length_um: float = 800.0
    pixel_um: float = 5.0
    footprint: float = 1.6
    min_gap_um2: float = 4000.0
    segmentation_cv: float = 0.03

    @property
    def spacing_um(self) -> float:
        """Hexagonal lattice spacing of the confluent sheet (um)."""
        return math.sqrt(2.0 * self.cell_area_um2 / math.sqrt(3.0))


class ScratchOptions(PhenotypeNames):
    """Options of the ``scratch_wound`` assay (a 500 um pipette-tip scratch, assumed)."""

    gap_um: float = Field(500.0, gt=0.0, le=2000.0)
    image_times_h: list[float] = Field(default_factory=lambda: [0.0, 12.0, 24.0], min_length=2)

    @field_validator("image_times_h")
    @classmethod
    def _times(cls, v: list[float]) -> list[float]:
        if v[0] != 0.0 or any(b <= a for a, b in zip(v, v[1:], strict=False)) or v[-1] > 72:
            raise ValueError("image times must start at 0 h and increase, up to 72 h")
        return v


def monolayer(gap_um: float, params: ScratchParameters) -> np.ndarray:
    """Cell centres ``(n, 2)`` (um) of a hexagonal sheet with a cell-free strip ``|x| < gap/2``.

    The scratch removes every cell whose footprint reaches into the strip.
    """
    a = params.spacing_um
    half = 0.5 * gap_um + params.reservoir_um
    rows = np.arange(0.0, params.length_um, a * math.sqrt(3.0) / 2.0)
    cols = np.arange(-half, half + 1e-9, a)
    x = cols[None, :] + 0.5 * a * (np.arange(rows.size) % 2)[:, None]
    y = np.broadcast_to(rows[:, None], x.shape)
    pos = np.stack([x.ravel(), y.ravel()], axis=1)
    keep = (np.abs(pos[:, 0]) >= 0.5 * gap_um + params.footprint * 0.5 * a) & (
        np.abs(pos[:, 0]) <= half)  # fmt: skip
    return pos[keep]


def persistent_walk(speed: np.ndarray, theta: np.ndarray, persistence_min: float, dt: float,
                    seed: int, keys: np.ndarray, step: int,
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One step of the active-Brownian persistent walk: velocity ``(n, 2)`` and new angle.

    The heading ``theta`` ``(n,)`` diffuses with rotational diffusion ``1 / tau``; a
    walker of speed ``v`` then has ``<v(0).v(t)> = v^2 exp(-t / tau)`` and, in 2D,
    ``MSD = 2 v^2 tau^2 (t / tau - 1 + exp(-t / tau))`` (long-time ``D = v^2 tau / 2``).
    The velocity over the step uses the heading at its start.
    """
    v = speed[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    if persistence_min > 0 and np.isfinite(persistence_min):
        kick = rng.normal(seed, "measurement_noise", keys, step=step)
        theta = theta + math.sqrt(2.0 * dt / persistence_min) * kick
    return v, theta


def contact_turn(xy: np.ndarray, theta: np.ndarray, reach_um: float,
                 dt_over_tau: float) -> np.ndarray:  # fmt: skip
    """Contact inhibition of locomotion: headings ``(n,)`` turned away from their contacts.

    ``m_i = sum_j (x_i - x_j) / |x_i - x_j|`` over the cells within ``reach_um`` points
    away from the neighbours (zero inside a symmetric sheet, into free space at an edge);
    the heading turns towards its direction ``phi_i`` as
    ``dtheta/dt = -min(|m_i|, 1) sin(theta_i - phi_i) / tau_cil`` (contact inhibition
    of locomotion as in Smeets et al., PNAS 2016, 113:14621; the turning rate saturates
    at one free side), integrated exactly over the step for fixed ``m``:
    ``tan(delta/2)`` decays as ``exp(-min(|m|, 1) dt / tau_cil)``. ``xy`` ``(n, 2)``.
    """
    pairs = cKDTree(xy).query_pairs(reach_um, output_type="ndarray")
    if pairs.shape[0] == 0:
        return theta
    d = xy[pairs[:, 0]] - xy[pairs[:, 1]]
    u = d / np.maximum(np.linalg.norm(d, axis=1), 1e-9)[:, None]
    m = np.zeros_like(xy)
    np.add.at(m, pairs[:, 0], u)
    np.add.at(m, pairs[:, 1], -u)
    phi = np.arctan2(m[:, 1], m[:, 0])
    delta = np.angle(np.exp(1j * (theta - phi)))  # wrapped to (-pi, pi]
    decay = np.exp(-np.minimum(np.hypot(m[:, 0], m[:, 1]), 1.0) * dt_over_tau)
    return phi + 2.0 * np.arctan(np.tan(0.5 * delta) * decay)


def scratch_simulation(speed_um_h: np.ndarray, division_per_h: np.ndarray, gap_um: float,
                       times_h: list[float], seed: int, key: int,
                       params: ScratchParameters | None = None,
                       ) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
    """Close a scratch: wound area in the field at each image time and the cell images.

    Parameters
    ----------
    speed_um_h, division_per_h
        Phenotype per cell of the sheet (um/h, 1/h), shape ``(n,)`` with
        ``n = len(monolayer(gap_um, params))``; daughters inherit their mother's.
    gap_um
        Width of the scratch (um).
    times_h
        Image times (h), the first 0.
    seed, key
        Random stream seed and the assay's key base (:func:`entity_keys` with index 0).
    params
        Monolayer, motility and imaging parameters.

    Returns
    -------
    areas : numpy.ndarray
        Segmented wound area (um2) per image time, ``(len(times_h),)``.
    images : list of numpy.ndarray
        Binary cell-covered masks of the field, ``(rows, cols)`` each (rows along x).
    """
    p = params or ScratchParameters()
    pos = monolayer(gap_um, p)
    n0 = pos.shape[0]
    r = 0.5 * p.core * p.spacing_um
    agents = Agents.create(pos, radius=r, first_id=int(key))
    speed = np.asarray(speed_um_h, dtype=float) / 60.0  # um/min
    division = np.asarray(division_per_h, dtype=float) / 60.0  # 1/min
    if speed.shape != (n0,) or division.shape != (n0,):
        raise ValueError(f"phenotype arrays must have shape ({n0},)")
    theta = 2.0 * math.pi * rng.uniform(seed, "measurement_noise", agents.ids, step=0)
    mech = MechanicsParams(repulsion=p.repulsion, adhesion=0.0, scheme="euler")
    half = 0.5 * gap_um + p.reservoir_um
    steps = np.rint(np.asarray(times_h) * 60.0 / p.dt_min).astype(np.int64)
    every = max(1, int(round(p.division_every_min / p.dt_min)))
    areas, images = [], []
    step = 0
    for i, target in enumerate(steps):
        while step < target:
            v, theta = persistent_walk(speed, theta, p.persistence_min, p.dt_min, seed,
                                       agents.ids, step + 1)  # fmt: skip
            if p.cil_min > 0:
                theta = contact_turn(agents.positions[:, :2], theta, p.cil_range * p.spacing_um,
                                     p.dt_min / p.cil_min)  # fmt: skip
            move = v + velocities(agents, mech)[:, :2]
            xy = agents.positions[:, :2] + p.dt_min * move
            xy[:, 0] = np.clip(xy[:, 0], -half, half)
            xy[:, 1] = np.clip(xy[:, 1], 0.0, p.length_um)
            positions = agents.positions.copy()
            positions[:, :2] = xy
            agents = replace(agents, positions=positions)
            step += 1
            if step % every == 0 and np.any(division > 0):
                agents, speed, division, theta = _divide(agents, speed, division, theta,
                                                         seed, step, p)  # fmt: skip
        covered = _coverage(agents.positions[:, :2], gap_um, seed, int(key) + (1 << 23) + i, p)
        images.append(covered)
        areas.append(_wound_area(covered, p))
    return np.array(areas), images


def _divide(agents, speed, division, theta, seed, step, p):
    """Contact-inhibited divisions of one interval; daughters inherit the phenotype."""
    dt = p.division_every_min
    tree = cKDTree(agents.positions[:, :2])
    crowd = tree.query_ball_point(agents.positions[:, :2], 1.25 * p.spacing_um,
                                  return_length=True) - 1  # fmt: skip
    prob = -np.expm1(-division * dt)
    mask = (rng.uniform(seed, "division", agents.ids, step) < prob) & (crowd < p.max_neighbours)
    if not mask.any():
        return agents, speed, division, theta
    mothers = np.flatnonzero(mask)  # ids increase with the index: daughters in this order
    r = float(agents.radius[0])
    agents = divide(agents, mask, seed, step, ndim=2)
    agents = replace(agents, radius=np.full(agents.n, r))
    born = agents.ids[-mothers.size:]
    heading = 2.0 * math.pi * rng.uniform(seed, "measurement_noise", born, step=0)
    return (agents, np.concatenate([speed, speed[mothers]]),
            np.concatenate([division, division[mothers]]), np.concatenate([theta, heading]))


def _coverage(xy: np.ndarray, gap_um: float, seed: int, key: int, p: ScratchParameters):
    """Segmented cell-covered pixels of the field ``(rows, cols)``, rows along x."""
    factor = rng.lognormal_factor(seed, "measurement_noise", np.array([key], np.uint64),
                                  p.segmentation_cv, step=1)[0]  # fmt: skip
    reach = p.footprint * 0.5 * p.spacing_um * factor
    xs = np.arange(-0.5 * p.field_width_um, 0.5 * p.field_width_um, p.pixel_um) + 0.5 * p.pixel_um
    y0 = 0.5 * (p.length_um - p.field_length_um)
    ys = y0 + np.arange(0.0, p.field_length_um, p.pixel_um) + 0.5 * p.pixel_um
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    if xy.shape[0] == 0:
        return np.zeros(gx.shape, dtype=bool)
    d, _ = cKDTree(xy).query(np.stack([gx.ravel(), gy.ravel()], axis=1),
                             distance_upper_bound=reach)  # fmt: skip
    return (d <= reach).reshape(gx.shape)


def _wound_area(covered: np.ndarray, p: ScratchParameters) -> float:
    """Area (um2) of the cell-free regions larger than ``min_gap_um2``."""
    labels, n = ndimage.label(~covered)
    if n == 0:
        return 0.0
    sizes = np.bincount(labels.ravel())[1:] * p.pixel_um**2
    return float(sizes[sizes >= p.min_gap_um2].sum())


def closure_percent(areas: np.ndarray) -> np.ndarray:
    """Wound closure (%) ``100 (A0 - At) / A0`` per image time."""
    areas = np.asarray(areas, dtype=float)
    return 100.0 * (areas[0] - areas) / areas[0] if areas[0] > 0 else np.full(areas.shape, np.nan)


def scratch_wound(ctx, options: ScratchOptions, params: ScratchParameters | None = None):
    """Scratch-wound closure of the well's cells: closure (%) at each image time."""
    p = params or ScratchParameters()
    values, weights = phenotype(ctx.well.population, [options.speed, options.division])
    n = monolayer(options.gap_um, p).shape[0]
    key = entity_keys(ASSAY_CODES["scratch_wound"], ctx.sample_id, np.array([0]))[0]
    cells = draw_cells(values, weights, n, ctx.seed, key + np.arange(n, dtype=np.uint64))
    if weights.sum() <= 0:
        return [ctx.row("scratch_wound", "wound closure (%)", float("nan"), "%")]
    areas, images = scratch_simulation(cells[options.speed], cells[options.division],
                                       options.gap_um, options.image_times_h, ctx.seed,
                                       int(key), p)  # fmt: skip
    closure = closure_percent(areas)
    rows = [ctx.row("scratch_wound", f"wound closure {t:g} h (%)", c, "%")
            for t, c in zip(options.image_times_h[1:], closure[1:], strict=True)]  # fmt: skip
    rows.append(ctx.row("scratch_wound", "wound closure (%)", closure[-1], "%"))
    rows.append(ctx.row("scratch_wound", "wound area 0 h (um2)", areas[0], "um2"))
    if ctx.out is not None:
        _save_scratch(ctx, images, options.image_times_h, p)
    return rows


def _save_scratch(ctx, images, times, p):
    from pathlib import Path

    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(2.2 * len(images), 2.6)
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    extent = (0, p.field_length_um, -0.5 * p.field_width_um, 0.5 * p.field_width_um)
    for ax, img, t in zip(axes, images, times, strict=True):
        ax.imshow(img, cmap="gray", extent=extent, vmin=0, vmax=1, origin="lower")
        ax.set_title(f"{t:g} h", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    path = Path(ctx.out) / "images" / ctx.file_name("_scratch.png")
    save(fig, path)
    ctx.files.append(path)


# ---------------------------------------------------------------------------------------
# transwell migration


@dataclass(frozen=True)
class TranswellParameters:
    """Insert geometry and the crossing model of the transwell (Boyden chamber) assay.

    Attributes
    ----------
    insert_area_cm2
        Membrane area of a 24-well insert (cm2): 0.33 cm2. assumed: the vendor figure of the
        6.5 mm Corning Transwell (not checked against a vendor sheet here).
    pore_density_per_cm2
        Pores per cm2 of an 8.0 um PET/PC membrane (1/cm2): 1e5. assumed: the Corning
        Transwell vendor figure (not checked against a vendor sheet here).
    capture_width_um
        Width of the strip of membrane a migrating cell scans for pores with its
        protrusions (um). assumed: 20 um (lamellipodium reach on both sides).
    transmigration
        Probability that a pore encounter in a serum/VEGF gradient ends with the cell on the
        lower side (dimensionless). assumed: 0.02, which puts untreated HUVEC (~30 um/h) at
        ~20-30 % crossing in 24 h, the usual 50-200 cells per 200x field of such assays.
    """

    insert_area_cm2: float = 0.33
    pore_density_per_cm2: float = 1e5
    capture_width_um: float = 20.0
    transmigration: float = 0.02


class TranswellOptions(PhenotypeNames):
    """Options of the ``transwell_migration`` assay (1e5 cells seeded, 24 h, assumed)."""

    seeded_cells: int = Field(100_000, gt=0, le=10_000_000)
    duration_h: float = Field(24.0, gt=0.0, le=72.0)
    fields: int = Field(5, ge=1, le=100)


def crossing_probability(speed_um_h: np.ndarray, duration_h: float,
                         params: TranswellParameters | None = None) -> np.ndarray:  # fmt: skip
    """Probability that a cell of speed ``v`` is on the lower side after ``duration_h``.

    A cell scanning the membrane at speed ``v`` meets pores at the rate
    ``rho_pore w v`` (pores in the strip it sweeps) and transmigrates at a fraction of
    them, so it crosses at the constant hazard ``k = rho_pore w v p_trans``:
    ``P = 1 - exp(-k t)``. Shape of ``speed_um_h``.
    """
    p = params or TranswellParameters()
    swept_cm2_per_h = p.capture_width_um * 1e-4 * np.asarray(speed_um_h, dtype=float) * 1e-4
    k = p.pore_density_per_cm2 * swept_cm2_per_h * p.transmigration
    return -np.expm1(-k * duration_h)


def transwell_counts(p_cross: np.ndarray, weights: np.ndarray, seeded: int, fields: int,
                     seed: int, key: int, params: TranswellParameters | None = None,
                     ) -> tuple[np.ndarray, int]:  # fmt: skip
    """Migrated cells per field ``(fields,)`` and in total.

    Every seeded cell belongs to an agent with probability proportional to the agent's
    living cells and crosses with that agent's probability, so the migrated total is
    ``Binomial(seeded, sum_a w_a P_a / sum_a w_a)``; the migrated cells lie uniformly on
    the lower side, and a field holds ``Poisson(migrated x field / insert area)`` of them
    (:func:`exotwin.assays.microscopy.field_counts`).
    """
    from exotwin.assays import microscopy

    p = params or TranswellParameters()
    w = np.asarray(weights, dtype=float)
    mean_p = float(np.average(p_cross, weights=w)) if w.sum() > 0 else 0.0
    migrated = int(rng.binomial(seed, "measurement_noise", np.array([key], np.uint64),
                                np.array([seeded]), np.array([mean_p]), step=2)[0])  # fmt: skip
    per_field = microscopy.field_counts(np.array([migrated, 0.0]), p.insert_area_cm2, fields,
                                        seed, key >> 24, microscopy.MicroscopyParameters())
    return per_field[:, 0], migrated


def transwell_migration(ctx, options: TranswellOptions,
                        params: TranswellParameters | None = None):  # fmt: skip
    """Migrated cells per field of the lower side of the insert."""
    values, weights = phenotype(ctx.well.population, [options.speed])
    p_cross = crossing_probability(values[options.speed], options.duration_h, params)
    key = int(entity_keys(ASSAY_CODES["transwell_migration"], ctx.sample_id, np.array([0]))[0])
    per_field, migrated = transwell_counts(p_cross, weights, options.seeded_cells,
                                           options.fields, ctx.seed, key, params)  # fmt: skip
    mean = float(per_field.mean()) if weights.sum() > 0 else float("nan")
    return [ctx.row("transwell_migration", "migrated cells/field", mean, "cells/field"),
            ctx.row("transwell_migration", "migrated cells (%)",
                    100.0 * migrated / options.seeded_cells, "%")]  # fmt: skip


# ---------------------------------------------------------------------------------------
# FITC-dextran permeability


@dataclass(frozen=True)
class DextranParameters:
    """Insert, tracer and plate reader of the FITC-dextran (40 kDa) permeability assay.

    Attributes
    ----------
    insert_area_cm2
        Membrane area of a 24-well insert with 0.4 um pores (cm2): 0.33. assumed: the vendor
        figure of 6.5 mm inserts (as :class:`TranswellParameters`).
    upper_ml, lower_ml
        Medium above and below the insert (mL). assumed: 0.2 and 0.6 mL (usual volumes
        for 6.5 mm inserts).
    filter_cm_s
        Permeability of the cell-free 0.4 um filter to 40 kDa dextran (cm/s). assumed:
        1e-5 cm/s; the bare PET filter was 1.4e-5 cm/s for inulin (5 kDa) in Kazakoff et
        al., In Vitro Cell Dev Biol Anim 1995, doi:10.1007/BF02634568; larger dextran is
        slower.
    junction_cm_s
        Permeability of a cell sheet whose junctions are fully open (cm/s), scaled by the
        open fraction ``junction_opening``. assumed: 2e-5 cm/s, so that a resting HUVEC
        monolayer (junction opening ~0.05) is ~1e-6 cm/s for 40 kDa dextran; Kazakoff et
        al. 1995 measured 4e-6 cm/s for the smaller inulin across HUVEC monolayers.
    gain_rfu_per_ug_ml
        Plate-reader fluorescence of the lower-chamber sample per ug/mL FITC-dextran.
        assumed: 1e4 RFU per ug/mL (linear range of a 485/528 nm reader).
    blank_rfu
        Fluorescence of medium without tracer. assumed: 200 RFU.
    reader_cv, reader_sd_rfu
        Multiplicative (pipetting, reader; dimensionless CV) and additive (RFU) noise of one
        reading. assumed: 0.05 and 20 RFU.
    """

    insert_area_cm2: float = 0.33
    upper_ml: float = 0.2
    lower_ml: float = 0.6
    filter_cm_s: float = 1e-5
    junction_cm_s: float = 2e-5
    gain_rfu_per_ug_ml: float = 1e4
    blank_rfu: float = 200.0
    reader_cv: float = 0.05
    reader_sd_rfu: float = 20.0


class DextranOptions(PhenotypeNames):
    """Options of the ``fitc_dextran`` assay (1 mg/mL FITC-dextran 40 kDa, 60 min, assumed)."""

    dextran_mg_per_ml: float = Field(1.0, gt=0.0, le=25.0)
    minutes: float = Field(60.0, gt=0.0, le=24 * 60)


def barrier_permeability(junction_opening: float, coverage: float,
                         params: DextranParameters | None = None) -> float:  # fmt: skip
    """Effective permeability (cm/s) of the insert with its cell layer.

    Covered area: cell layer (``junction_cm_s x junction_opening``) in series with the
    filter; uncovered area: the filter alone; the two pathways in parallel.
    """
    p = params or DextranParameters()
    cells = p.junction_cm_s * float(junction_opening)
    covered = 1.0 / (1.0 / cells + 1.0 / p.filter_cm_s) if cells > 0 else 0.0
    return coverage * covered + (1.0 - coverage) * p.filter_cm_s


def lower_concentration(c0: float, p_cm_s: float, seconds: float,
                        params: DextranParameters | None = None) -> float:  # fmt: skip
    """Lower-chamber concentration (units of ``c0``) of the two-compartment mass balance.

    ``V_u dC_u/dt = -P A (C_u - C_l) = -V_l dC_l/dt``: the difference decays with
    ``k = P A (1/V_u + 1/V_l)`` and ``C_l(t) = C0 V_u / (V_u + V_l) (1 - exp(-k t))``.
    """
    p = params or DextranParameters()
    k = p_cm_s * p.insert_area_cm2 * (1.0 / p.upper_ml + 1.0 / p.lower_ml)
    return c0 * p.upper_ml / (p.upper_ml + p.lower_ml) * -math.expm1(-k * seconds)


def apparent_permeability(c_lower: float, c0: float, seconds: float,
                          params: DextranParameters | None = None) -> float:  # fmt: skip
    """``P_app = C_l V_l / (A C0 t)`` (cm/s), the formula of the lab protocol."""
    p = params or DextranParameters()
    return c_lower * p.lower_ml / (p.insert_area_cm2 * c0 * seconds)


def fitc_dextran(ctx, options: DextranOptions, params: DextranParameters | None = None):
    """Lower-chamber fluorescence and apparent permeability of the well's cell layer.

    Coverage: the insert is seeded confluent and treated like the well; cells that died
    (early/late apoptotic, pyroptotic) leave their area uncovered.
    """
    p = params or DextranParameters()
    pop = ctx.well.population
    values, weights = phenotype(pop, [options.junction])
    attached = pop.counts[:, [ALIVE, EARLY_APOPTOTIC, LATE_APOPTOTIC, PYROPTOTIC]].sum()
    coverage = float(weights.sum() / attached) if attached > 0 else 0.0
    opening = weighted_mean(values[options.junction], weights) if weights.sum() > 0 else 0.0
    p_eff = barrier_permeability(opening, coverage, p)
    c0 = options.dextran_mg_per_ml * 1e3  # ug/mL
    seconds = options.minutes * 60.0
    c_low = lower_concentration(c0, p_eff, seconds, p)
    key = entity_keys(ASSAY_CODES["fitc_dextran"], ctx.sample_id, np.arange(2))
    cv = rng.lognormal_factor(ctx.seed, "measurement_noise", key[:1], p.reader_cv, step=3)[0]
    add = p.reader_sd_rfu * rng.normal(ctx.seed, "measurement_noise", key[1:], step=3)[0]
    rfu = p.blank_rfu + p.gain_rfu_per_ug_ml * c_low * cv + add
    measured = max(rfu - p.blank_rfu, 0.0) / p.gain_rfu_per_ug_ml  # standard curve
    return [ctx.row("fitc_dextran", "FITC-dextran (RFU)", rfu, "RFU"),
            ctx.row("fitc_dextran", "permeability coefficient (cm/s)",
                    apparent_permeability(measured, c0, seconds, p), "cm/s")]  # fmt: skip


# ---------------------------------------------------------------------------------------
# registry entry point


def measure(ctx) -> list[dict]:
    """Tidy rows of the endothelial assay ``ctx.assay.type`` (registry entry point)."""
    from exotwin.assays import angiogenesis

    run = {"scratch_wound": scratch_wound, "transwell_migration": transwell_migration,
           "tube_formation": angiogenesis.tube_formation,
           "fitc_dextran": fitc_dextran}[ctx.assay.type]  # fmt: skip
    return run(ctx, ctx.assay.parsed_options())
