"""A subcutaneous tumour in a nude mouse: inoculation to sacrifice (owns its coupling).

Design and provenance: docs/xenograft.md. The tumour is a
:class:`~exotwin.cells.Population` of cohort agents (one agent per occupied voxel of a
coarse 3D grid, ``cells_per_agent >> 1``). Each phenotype step (6 h):

1. geometry: occupancy (living, dead-not-cleared and necrotic cells) per voxel; the
   tumour's vascular surface relative to the host subcutis falls with depth below the
   tumour surface, ``v = exp(-depth / perfusion_depth_mm)`` (1 in the stroma);
2. oxygen: quasi-steady balance of vascular exchange ``s v (C_v - C)``, consumption by
   living cells and diffusion (solved each step; O2 equilibrates in seconds);
3. cisplatin: free plasma drug from :mod:`exotwin.tissue.pk` reaches each voxel through
   the vessels, ``d C/dt = P S/V v (C_p(t) - C) + D lap C`` (the solver's secretion term
   towards ``C_p``), and the step-mean local concentration is the cells'
   ``cisplatin_uM`` through the model's declared drug coupling;
4. exosomes: intratumoural boluses diffuse for half the step, decay, drain and are taken
   up by the living cells of each voxel with the culture's saturating clearance over the
   step, and diffuse for the other half (Strang splitting, :func:`vesicle_step`); the
   cargo of the
   vesicles taken up reaches the model's uptake inputs (molecules per cell per h);
5. cells: kinetics and fates (:func:`exotwin.cells.step`) with the division rate scaled
   by oxygen (PhysiCell's standard model, Ghaffarizadeh et al. 2018,
   doi:10.1371/journal.pcbi.1005991); O2-dependent necrosis below 5 mmHg;
6. growth: a voxel whose cells exceed its packing capacity pushes the excess into its
   least-occupied neighbour, nearest the inoculation centre first (a new agent there, or
   merged into the one present), so the tumour grows outward as a near-spherical nodule.

Every vesicle is accounted: injected = in the field + taken up + decayed + drained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numba import njit
from scipy import ndimage

from exotwin import rng
from exotwin.cells import Population
from exotwin.cells import step as cell_step
from exotwin.cells.population import ALIVE, REMOVED, FateParameters
from exotwin.tissue.diffusion import Grid, Ledger, Sources, Substance, Substances, step_with_ledger
from exotwin.tissue.diffusion import step as diffuse
from exotwin.tissue.o2_solver import solve as o2_solve
from exotwin.tissue.pk import CisplatinPK, mean_plasma_um
from exotwin.vesicles import VesicleParameters

UM3_PER_ML = 1e12
DIVISION_PARAMETER = "SV_k_div_basal"  # model parameter the O2 multiplier scales
NECROSIS_KEY = np.uint64(1 << 63)  # entity bit separating O2 necrosis from other streams
SPREAD_KEY = np.uint64(1 << 62)
READOUTS = {"tumour weight (g)": "g", "tumour volume (mm^3)": "mm^3"}


@dataclass(frozen=True)
class XenograftParameters:
    """Geometry, oxygen, transport and in-vivo fate parameters of one mouse.

    Attributes
    ----------
    dx_um, box_voxels
        Voxel edge (um) and voxels per edge (count) of the cubic subcutaneous domain.
        assumed: 1 mm and 23 (23 mm): one cohort agent per occupied voxel keeps a 1-2 cm^3
        tumour at 1-3 thousand agents, the cost limit of 30 mice in ~90 s
        (docs/xenograft.md); the domain holds a 4-cm^3 tumour.
    phenotype_step_h
        Phenotype step (h). assumed: 6 h; the cisplatin and vesicle fields are
        sub-stepped within it and their step means passed to the cells.
    cell_volume_um3
        Volume of one CNE2 cell (um^3). assumed: 2000 um^3, a ~15.6-um cell, the volume
        the tumour_cell model's exosome module uses (Milo 2013).
    packing
        Volume fraction of tumour occupied by tumour cells. assumed: 0.6; the
        interstitial space of tumours is 0.2-0.5 of their volume (Jain, Cancer Res
        1987;47:3039) and vessels a few per cent.
    density_g_per_ml
        Tumour tissue density (g/mL). 1.04, adult soft tissue of the ORNL dosimetry phantoms
        (Cristy & Eckerman 1987, ORNL/TM-8381/V1); cited before as "ICRP 23 reference
        values", which was not checked.
    o2_vascular_mmhg
        pO2 on the plasma side of the exchange (mmHg). assumed: 40 mmHg, mean capillary /
        mixed venous pO2.
    o2_reference_mmhg
        pO2 of fully packed tumour tissue at the host's vascular density (mmHg): 38 mmHg,
        PhysiCell's physioxic default (Ghaffarizadeh 2018); sets the exchange rate.
    o2_uptake_per_min, o2_diffusion_um2_per_min
        O2 consumption per volume of cells (1/min) and diffusion coefficient in tissue
        (um^2/min): 10 and 1e5, PhysiCell defaults (Ghaffarizadeh 2018).
    o2_proliferation_threshold_mmhg, o2_proliferation_saturation_mmhg
        Division scales linearly from 0 at the threshold to the in-vitro (21 % O2) rate at
        saturation (PhysiCell standard model: threshold 5 mmHg). fitted: saturation
        50 mmHg, to CNE2 xenograft growth (params.md; outside training data, see
        docs/xenograft.md and benchmarks/xenograft_growth_fit.py); PhysiCell's default
        is 160 mmHg (linear up to 21 % O2).
    o2_necrosis_threshold_mmhg, o2_necrosis_max_mmhg, necrosis_max_per_h
        Necrosis rises linearly from 0 at 5 mmHg to its maximum at 2.5 mmHg (mmHg); maximum
        rate 1/6 h (1/h) (PhysiCell standard model, Ghaffarizadeh 2018).
    perfusion_depth_mm
        e-folding depth of the tumour's vascular surface below its surface (mm).
        fitted: 0.15 mm, with the proliferation saturation, to the xenograft growth
        data (with 1-mm voxels: only the surface layer of voxels is well perfused);
        xenografts are perfused at the rim and poorly in the core (Jain, Cancer
        Res 1988;48:2641).
    cis_exchange_per_min
        P S / V of cisplatin at the host's vascular density (1/min). assumed: 0.18/min,
        small-solute capillary permeability ~3e-5 cm/s times a vascular surface density
        ~100 cm^-1 (Jain 1987).
    cis_diffusion_um2_per_min
        Cisplatin (300 Da) diffusion in tissue (um^2/min). assumed: 1.8e4 (3e-6 cm^2/s),
        a ~1e-5 cm^2/s free small solute slowed ~3-fold by tortuosity (Nicholson &
        Sykova, Trends Neurosci 1998;21:207).
    cis_substep_min, vesicle_substep_min
        Sub-steps (min): of the cisplatin field while plasma drug is present, 5 min (the
        plasma half-life is 12.5 min); of the vesicle sinks in voxels whose uptake
        saturates, at most 10 min (second order; numerics, see :func:`vesicle_step`).
        assumed (numerical choices), checked by sub-step refinement in docs/xenograft.md.
    vesicle_diffusion_um2_per_min
        Vesicle diffusion in tissue: 40 um^2/min, as in the CAM (Stokes-Einstein / 10;
        Nance et al. 2012, doi:10.1126/scitranslmed.3003594).
    vesicle_drainage_per_h
        First-order drainage of interstitial vesicles (lymph, leakage) (1/h). assumed:
        ln2/24 h; intratumourally injected EVs stay mostly in the tumour for a day or
        more (Smyth et al., J Control Release 2015;199:145).
    injection_volume_ul
        Bolus volume of an intratumoural injection (uL), set by the protocol. The default 50
        uL is assumed (Xia 2021 gives no volume; see the assumptions of
        protocols/library/xia2021-fig6.yaml).
    apoptotic_removal_h
        Mean time (h) from membrane rupture to removal of a dead cell in vivo (phagocytes):
        8.6 h, PhysiCell's apoptosis duration (516 min; Ghaffarizadeh et al. 2018,
        ``create_standard_apoptosis_model``). assumed: PhysiCell times the whole apoptotic
        phase from its onset to removal; here it is taken from membrane rupture.
    take_cv
        Mouse-to-mouse coefficient of variation of the engrafted inoculum (dimensionless).
        assumed: 0.3; end-point tumour weights of s.c. xenografts typically vary by 20-40 %.
    vesicles
        Vesicle uptake and degradation (the culture's :class:`VesicleParameters`).
    pk
        Cisplatin plasma pharmacokinetics.
    """

    dx_um: float = 1000.0
    box_voxels: int = 23
    phenotype_step_h: float = 6.0
    cell_volume_um3: float = 2000.0
    packing: float = 0.6
    density_g_per_ml: float = 1.04
    o2_vascular_mmhg: float = 40.0
    o2_reference_mmhg: float = 38.0
    o2_uptake_per_min: float = 10.0
    o2_diffusion_um2_per_min: float = 1e5
    o2_proliferation_threshold_mmhg: float = 5.0
    o2_proliferation_saturation_mmhg: float = 50.0
    o2_necrosis_threshold_mmhg: float = 5.0
    o2_necrosis_max_mmhg: float = 2.5
    necrosis_max_per_h: float = 1.0 / 6.0
    perfusion_depth_mm: float = 0.15
    cis_exchange_per_min: float = 0.18
    cis_diffusion_um2_per_min: float = 1.8e4
    cis_substep_min: float = 5.0
    vesicle_substep_min: float = 10.0
    vesicle_diffusion_um2_per_min: float = 40.0
    vesicle_drainage_per_h: float = math.log(2.0) / 24.0
    injection_volume_ul: float = 50.0
    apoptotic_removal_h: float = 516.0 / 60.0
    take_cv: float = 0.3
    vesicles: VesicleParameters = field(default_factory=VesicleParameters)
    pk: CisplatinPK = field(default_factory=CisplatinPK)

    @property
    def voxel_um3(self) -> float:
        """Voxel volume (um^3)."""
        return self.dx_um**3

    @property
    def capacity(self) -> float:
        """Cells a voxel holds when packed."""
        return self.packing * self.voxel_um3 / self.cell_volume_um3

    @property
    def grid(self) -> Grid:
        """The cubic grid."""
        n = self.box_voxels
        return Grid((n, n, n), self.dx_um)

    @property
    def o2_exchange_per_min(self) -> float:
        """Vascular O2 exchange at host density: packed tissue sits at the reference pO2."""
        u = self.o2_uptake_per_min * self.packing
        return u * self.o2_reference_mmhg / (self.o2_vascular_mmhg - self.o2_reference_mmhg)

    def weight_g(self, cells: float) -> float:
        """Tumour weight (g) of ``cells`` packed cells (living or dead)."""
        return cells * self.cell_volume_um3 / self.packing / UM3_PER_ML * self.density_g_per_ml


@dataclass(frozen=True)
class Schedule:
    """Treatments of one mouse (times in h after inoculation).

    Attributes
    ----------
    cis_times_h, cis_doses_mg_per_kg
        i.p. cisplatin doses, ``(m,)`` each.
    exo_times_h
        Intratumoural exosome injections, ``(k,)``.
    exo_particles
        Vesicles per injection.
    cargo_per_vesicle
        Molecules per vesicle of each cargo protein of the preparation.
    """

    cis_times_h: tuple[float, ...] = ()
    cis_doses_mg_per_kg: tuple[float, ...] = ()
    exo_times_h: tuple[float, ...] = ()
    exo_particles: float = 0.0
    cargo_per_vesicle: dict[str, float] = field(default_factory=dict)


@dataclass
class Tumour:
    """State and accounts of one mouse's tumour.

    Attributes
    ----------
    pop
        Cohort agents, one per occupied voxel.
    voxel
        Flat voxel index of each agent, ``(n_agents,)``.
    necrotic
        Necrotic cells per voxel, ``(nz * ny * nx,)`` (not cleared over the experiment).
    cis, vesicles
        Tissue cisplatin (uM) and vesicles (particles/um^3), ``(1, nz, ny, nx)`` each.
    o2
        pO2 (mmHg), ``(nz, ny, nx)``.
    cis_mean, cis_max
        Step-mean cisplatin of the last step, and the largest step mean so far (uM),
        ``(nz, ny, nx)`` each.
    ledger
        Vesicle accounts (particles): injected, taken_up, decayed, drained.
    solver
        Cumulative solver :class:`Ledger` of the vesicle field (amounts in particles).
    key, base_id, division_base
        Mouse key, the agent-id base and the model's undamped division parameter.
    frames
        Mid-plane snapshots ``{"time_h", "cells", "dead", "cisplatin", "o2"}`` per day.
    growth
        ``(time_h, weight_g)`` after every step.
    """

    pop: Population
    voxel: np.ndarray
    necrotic: np.ndarray
    cis: np.ndarray
    vesicles: np.ndarray
    o2: np.ndarray
    cis_mean: np.ndarray
    cis_max: np.ndarray
    ledger: dict[str, float]
    solver: Ledger
    key: int
    base_id: int
    division_base: float
    time_h: float = 0.0
    step: int = 0
    frames: list[dict] = field(default_factory=list)
    growth: list[tuple[float, float]] = field(default_factory=list)

    def occupancy(self) -> np.ndarray:
        """Cells (living, dead not cleared, necrotic) per voxel, ``(n_voxels,)``."""
        held = self.pop.counts[:, :REMOVED].sum(axis=1).astype(float)
        return np.bincount(self.voxel, weights=held, minlength=self.necrotic.size) + self.necrotic

    def living(self) -> np.ndarray:
        """Living cells per voxel, ``(n_voxels,)``."""
        alive = self.pop.counts[:, ALIVE].astype(float)
        return np.bincount(self.voxel, weights=alive, minlength=self.necrotic.size)


def in_vivo_fates() -> FateParameters:
    """Fate timing in vivo: dead cells are removed by phagocytes (PhysiCell timing)."""
    return FateParameters(removal_h=XenograftParameters().apoptotic_removal_h)


def agent_ids(key: int, voxels: np.ndarray) -> np.ndarray:
    """Ids of the agents of mouse ``key`` in ``voxels`` (unique per voxel), ``(n,)`` uint64."""
    return (np.uint64(key) << np.uint64(24)) | np.asarray(voxels, dtype=np.uint64)


def seed_voxels(xp: XenograftParameters, cells: float) -> np.ndarray:
    """Voxels the inoculum fills at capacity: the centre voxel, then its nearest ones."""
    n = xp.box_voxels
    need = max(1, math.ceil(cells / xp.capacity))
    z, y, x = np.indices((n, n, n)).reshape(3, -1)
    c = n // 2
    d = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2
    order = np.lexsort((np.arange(d.size), d))  # nearest first, ties by index
    return order[:need]


def new_tumour(pop: Population, xp: XenograftParameters, voxels: np.ndarray, key: int,
               seed: int) -> Tumour:  # fmt: skip
    """A tumour at inoculation: agent ``i`` of ``pop`` sits in ``voxels[i]``."""
    n = xp.box_voxels
    if pop.n != voxels.size:
        raise ValueError("one voxel per agent")
    pop.fates = in_vivo_fates()
    zero = np.zeros(1)
    t = Tumour(pop, np.asarray(voxels, dtype=np.int64), np.zeros(n**3), np.zeros((1, n, n, n)),
               np.zeros((1, n, n, n)), np.full((n, n, n), xp.o2_vascular_mmhg),
               np.zeros((n, n, n)), np.zeros((n, n, n)),
               dict.fromkeys(("injected", "taken_up", "decayed", "drained"), 0.0),
               Ledger(zero, zero, zero, zero), int(key), int(key) << 24,
               float(pop.params[DIVISION_PARAMETER][0]))  # fmt: skip
    spread(t, xp, seed)
    return t


def perfusion(t: Tumour, xp: XenograftParameters) -> np.ndarray:
    """Vascular surface relative to the host per voxel, ``(nz, ny, nx)``."""
    n = xp.box_voxels
    mask = (t.occupancy() > 0).reshape(n, n, n)
    depth = np.zeros(mask.shape)
    if mask.any():  # the tumour's box with one empty layer around it: the same distances
        where = np.argwhere(mask)
        box = tuple(slice(max(a - 1, 0), min(b + 2, n))
                    for a, b in zip(where.min(axis=0), where.max(axis=0), strict=True))  # fmt: skip
        depth[box] = ndimage.distance_transform_edt(mask[box])
    depth -= 1.0  # voxels below the surface layer
    v = np.exp(-np.clip(depth, 0.0, None) * xp.dx_um / 1000.0 / xp.perfusion_depth_mm)
    return np.where(mask, v, 1.0)


def oxygen(t: Tumour, xp: XenograftParameters, v: np.ndarray) -> np.ndarray:
    """Quasi-steady pO2 (mmHg), ``(nz, ny, nx)``: exchange, consumption, diffusion.

    Solves ``s v (C_v - C) - u C + D lap C = 0`` (``u``: consumption of the living cells'
    volume fraction) on the tumour's voxels and their face neighbours; every other voxel
    holds no consumer and sits at ``C_v`` exactly, and serves as the boundary value.
    Matrix-free preconditioned CG (:func:`exotwin.tissue.o2_solver.solve`) from ``C_v``
    everywhere, so the result depends on the current state only (not on earlier solves).
    """
    n = xp.box_voxels
    k = xp.o2_diffusion_um2_per_min / xp.dx_um**2
    u = xp.o2_uptake_per_min * t.living() * xp.cell_volume_um3 / xp.voxel_um3
    s = xp.o2_exchange_per_min * v.ravel()
    tumour = (t.occupancy() > 0).reshape(n, n, n)
    cv = xp.o2_vascular_mmhg
    out = o2_solve(tumour, s, u, k, cv, np.full(tumour.shape, cv))
    return np.clip(out, 0.0, None)


def _cis_substances(xp: XenograftParameters) -> Substances:
    return Substances([Substance("cisplatin", xp.cis_diffusion_um2_per_min, 0.0, "uM",
                                 provenance="XenograftParameters")])  # fmt: skip


def _vesicle_substances(xp: XenograftParameters) -> Substances:
    """The vesicle field for its diffusion step: no decay (applied with the sinks)."""
    return Substances([Substance("vesicles", xp.vesicle_diffusion_um2_per_min, 0.0,
                                 "particles/um^3", provenance="XenograftParameters")])  # fmt: skip


def cisplatin(t: Tumour, xp: XenograftParameters, sched: Schedule, v: np.ndarray) -> np.ndarray:
    """Advance the tissue cisplatin over the step; returns its step mean (uM) per voxel."""
    dt_min = xp.phenotype_step_h * 60.0
    t0 = t.time_h * 60.0
    times = np.asarray(sched.cis_times_h, dtype=float) * 60.0
    doses = np.asarray(sched.cis_doses_mg_per_kg, dtype=float)
    given = times <= t0 + dt_min
    if not given.any():
        return np.zeros_like(v)
    mean_p = mean_plasma_um(xp.pk, t0, t0 + dt_min, times[given], doses[given])
    if mean_p < 1e-9 and t.cis.max() < 1e-9:
        t.cis[:] = 0.0  # below any effect: the pulse is over
        return np.zeros_like(v)
    # sub-steps while plasma drug is present; one implicit step for the tail
    n_sub = int(round(dt_min / xp.cis_substep_min)) if mean_p > 1e-3 else 1
    h = dt_min / n_sub
    rate = (xp.cis_exchange_per_min * v)[None]
    subs, grid = _cis_substances(xp), xp.grid
    auc = np.zeros_like(v)
    for i in range(n_sub):
        a = t0 + i * h
        cp = mean_plasma_um(xp.pk, a, a + h, times[given], doses[given])
        new = diffuse(t.cis, grid, subs, h, Sources(rate=rate, target=np.full_like(rate, cp)))
        auc += 0.5 * (t.cis[0] + new[0]) * h
        t.cis = new
    return auc / dt_min


def inject(t: Tumour, xp: XenograftParameters, particles: float) -> None:
    """Deposit a bolus in the tumour voxels nearest its centre (the injection volume)."""
    n = xp.box_voxels
    occ = t.occupancy()
    tumour = np.flatnonzero(occ > 0)
    z, y, x = np.unravel_index(tumour, (n, n, n))
    w = occ[tumour]
    cz, cy, cx = (np.average(a, weights=w) for a in (z, y, x))
    d = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2
    count = max(1, round(xp.injection_volume_ul * 1e9 / xp.voxel_um3))
    chosen = tumour[np.lexsort((tumour, d))[:count]]
    flat = t.vesicles.reshape(-1)
    flat[chosen] += particles / (chosen.size * xp.voxel_um3)
    t.ledger["injected"] += particles


@njit(cache=True)
def _vesicle_sinks(rho, clear, k_half, drain, decay, dt, h_max, took, lost):
    """Cell uptake, drainage and decay of the vesicles of each voxel over ``dt``, in place.

    Integrates ``d rho/dt = -(clear / (1 + rho / k_half) + drain + decay) rho`` per voxel
    (``rho``, ``clear`` (1/min) ``(n_voxels,)``). A voxel whose uptake saturates
    (``rho > 1e-3 k_half`` and ``clear dt > 1e-3`` at the start; ``rho`` only falls) runs
    in equal sub-steps of at most ``h_max``, each with the rates at its predicted midpoint
    (second order) and the exponential exact; every other voxel takes one exact step.
    What leaves is shared in proportion to the rates: cells' share added to ``took``
    ``(n_voxels,)``, drainage to ``lost[0]``, decay to ``lost[1]`` (all per um^3).
    """
    for i in range(rho.size):
        r = rho[i]
        if r <= 0.0:
            continue
        c = clear[i]
        n = 1
        if r > 1e-3 * k_half and c * dt > 1e-3:
            n = max(1, int(math.ceil(dt / h_max - 1e-12)))
        h = dt / n
        for _ in range(n):
            # rates at the sub-step's midpoint, predicted with the start's (2nd order)
            mid = r * math.exp(-0.5 * h * (c / (1.0 + r / k_half) + drain + decay))
            u = c / (1.0 + mid / k_half)
            b = u + drain + decay
            if b <= 0.0:
                break
            new = r * math.exp(-b * h)
            gone = r - new
            took[i] += gone * u / b
            lost[0] += gone * drain / b
            lost[1] += gone * decay / b
            r = new
        rho[i] = r


def vesicle_step(t: Tumour, xp: XenograftParameters) -> np.ndarray:
    """Advance the vesicle field over the step; returns vesicles taken up per voxel.

    Strang splitting: the field diffuses for half the step, the sinks (saturating cell
    uptake, drainage, decay) act per voxel over the whole step (:func:`_vesicle_sinks`,
    sub-stepped where uptake saturates), and the field diffuses for the other half (each
    half one backward-Euler step: the diffusion number is ``D dt / dx^2 = 0.014`` per
    6-h step, so vesicles barely leave a voxel in a step). Checked against the coupled
    equations solved by LSODA (tests/test_xenograft.py).
    """
    n = xp.box_voxels
    took = np.zeros(n**3)
    if t.vesicles.max() <= 0.0:
        return took
    vp = xp.vesicles
    dt_min = xp.phenotype_step_h * 60.0
    k_half = vp.uptake_half_saturation_per_ml / UM3_PER_ML
    q = vp.clearance_ml_per_h * UM3_PER_ML / 60.0  # um^3 per cell per min
    clear = t.living() * q / xp.voxel_um3
    grid, substances = xp.grid, _vesicle_substances(xp)
    half, led = step_with_ledger(t.vesicles, grid, substances, 0.5 * dt_min)
    t.solver = t.solver + led
    rho = half.reshape(-1).copy()
    lost = np.zeros(2)
    _vesicle_sinks(rho, clear, k_half, xp.vesicle_drainage_per_h / 60.0,
                   vp.degradation_per_h / 60.0, dt_min, xp.vesicle_substep_min, took,
                   lost)  # fmt: skip
    took *= xp.voxel_um3
    t.ledger["drained"] += float(lost[0]) * xp.voxel_um3
    t.ledger["decayed"] += float(lost[1]) * xp.voxel_um3
    t.ledger["taken_up"] += float(took.sum())
    t.vesicles, led = step_with_ledger(rho.reshape(t.vesicles.shape), grid, substances,
                                       0.5 * dt_min)  # fmt: skip
    t.solver = t.solver + led
    return took


def vesicle_balance(t: Tumour, xp: XenograftParameters) -> float:
    """Relative residual of injected = in field + taken up + decayed + drained."""
    led = t.ledger
    now = float(t.vesicles.sum()) * xp.voxel_um3
    out = now + led["taken_up"] + led["decayed"] + led["drained"]
    return (led["injected"] - out) / max(led["injected"], 1e-300)


def o2_multipliers(xp: XenograftParameters, o2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Division multiplier (0-1) and necrosis rate (1/h) at pO2 ``o2`` (PhysiCell rules)."""
    lo, hi = xp.o2_proliferation_threshold_mmhg, xp.o2_proliferation_saturation_mmhg
    div = np.clip((o2 - lo) / (hi - lo), 0.0, 1.0)
    nt, nm = xp.o2_necrosis_threshold_mmhg, xp.o2_necrosis_max_mmhg
    nec = xp.necrosis_max_per_h * np.clip((nt - o2) / (nt - nm), 0.0, 1.0)
    return div, nec


def advance(t: Tumour, xp: XenograftParameters, hours: float, sched: Schedule, seed: int,
            uptake_inputs: dict[str, str], threads: int | None = None,
            frame_every_h: float = 24.0, drug_input: str | None = None) -> Tumour:
    """Advance a tumour by ``hours`` in phenotype steps (see the module docstring).

    ``uptake_inputs`` maps cargo proteins to the model inputs receiving them and
    ``drug_input`` is the input receiving cisplatin (uM), both from the model's coupling
    (:func:`exotwin.culture.coupling`); ``frame_every_h`` sets how often a mid-plane
    snapshot is kept (and one is always kept at the end, the sacrifice picture).
    """
    dt = xp.phenotype_step_h
    n_steps = int(round(hours / dt))
    if abs(n_steps * dt - hours) > 1e-9:
        raise ValueError("hours must be a multiple of the phenotype step")
    n = xp.box_voxels
    exo = np.asarray(sched.exo_times_h, dtype=float)
    for _ in range(n_steps):
        v = perfusion(t, xp)
        t.o2 = oxygen(t, xp, v)
        if np.any(np.abs(exo - t.time_h) < 1e-9):
            inject(t, xp, sched.exo_particles)
        t.cis_mean = cisplatin(t, xp, sched, v)
        np.maximum(t.cis_max, t.cis_mean, out=t.cis_max)
        took = vesicle_step(t, xp)
        pop = t.pop
        living = t.living()
        div, nec = o2_multipliers(xp, t.o2.ravel())
        pop.params[DIVISION_PARAMETER] = t.division_base * div[t.voxel]
        if drug_input is not None:
            pop.params[drug_input] = t.cis_mean.ravel()[t.voxel]
        per_cell = np.divide(took, living * dt, out=np.zeros_like(took), where=living > 0)
        for cargo, name in uptake_inputs.items():
            pop.params[name] = per_cell[t.voxel] * sched.cargo_per_vesicle.get(cargo, 0.0)
        pop = cell_step(pop, dt, threads=threads)
        # O2 necrosis of the living cells (competing with the step's fates: drawn after)
        p = -np.expm1(-nec[t.voxel] * dt)
        hit = np.flatnonzero((p > 0) & (pop.counts[:, ALIVE] > 0))  # keyed: same draws
        dead = np.zeros(pop.n, dtype=np.int64)
        dead[hit] = rng.binomial(pop.seed, "necrosis", pop.ids[hit] | NECROSIS_KEY,
                                 pop.counts[hit, ALIVE], p[hit], pop.step_index)  # fmt: skip
        pop.counts[:, ALIVE] -= dead
        t.necrotic += np.bincount(t.voxel, weights=dead.astype(float), minlength=n**3)
        t.pop = pop
        t.time_h += dt
        t.step += 1
        spread(t, xp, seed)
        t.growth.append((t.time_h, xp.weight_g(float(t.occupancy().sum()))))
        if frame_every_h and abs(t.time_h / frame_every_h - round(t.time_h / frame_every_h)) < 1e-9:
            t.frames.append(frame(t, xp))
    if n_steps and (not t.frames or t.frames[-1]["time_h"] != t.time_h):
        t.frames.append(frame(t, xp))  # the state at the end (sacrifice)
    return t


def frame(t: Tumour, xp: XenograftParameters) -> dict:
    """Mid-plane (z = centre) snapshot: cells, dead fraction, peak step-mean cisplatin, pO2."""
    n = xp.box_voxels
    occ = t.occupancy().reshape(n, n, n)[n // 2]
    living = t.living().reshape(n, n, n)[n // 2]
    dead = np.divide(occ - living, occ, out=np.zeros_like(occ), where=occ > 0)
    return {"time_h": t.time_h, "cells": occ, "dead": dead,
            "cisplatin": t.cis_max[n // 2].copy(), "o2": t.o2[n // 2].copy()}  # fmt: skip


def _append(pop: Population, rows: np.ndarray, ids: np.ndarray) -> Population:
    """``pop`` with copies of agents ``rows`` appended under ``ids`` (no cells)."""
    counts = np.zeros((rows.size, pop.counts.shape[1]), dtype=np.int64)
    return replace(pop, ids=np.concatenate([pop.ids, ids]),
                   states=np.concatenate([pop.states, pop.states[rows]]),
                   params={k: np.concatenate([v, v[rows]]) for k, v in pop.params.items()},
                   counts=np.concatenate([pop.counts, counts]))  # fmt: skip


NEIGHBOURS = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
                       if (a, b, c) != (0, 0, 0)])  # the 26 face, edge and corner neighbours
# Growth-rule constants (dimensionless; assumed: lattice numerics, not biology; they set the
# nodule's shape, and the growth limits were fitted with them, docs/xenograft.md)
CENTRE_PULL = 0.05  # score per voxel of distance from the inoculation centre (see spread)
FACE = np.abs(NEIGHBOURS).sum(axis=1) == 1
DIAGONAL_SHARE = 0.5  # share of voxels that may also push along edges and corners
WIDE_COUNTER = 2**48  # counter of that per-voxel draw (beyond any step/pass counter)


@njit(cache=True)
def _targets(voxels, n, occ, cap, tie, wide, neighbours, face):
    """Neighbour each donor pushes to: lowest score among those it may push to.

    ``voxels`` flat donor voxels ``(d,)``; ``occ`` occupancy per voxel ``(n^3,)``; ``tie``
    draws ``(d, 26)``; ``wide`` whether a donor may push along edges and corners ``(d,)``;
    ``neighbours`` offsets ``(26, 3)`` and ``face`` which are faces ``(26,)``. Score:
    ``occ / cap + CENTRE_PULL * distance from the centre voxel + 1e-6 tie``; the first
    lowest wins. Returns flat target voxels ``(d,)``.
    """
    c = n // 2
    out = np.empty(voxels.size, dtype=np.int64)
    for d in range(voxels.size):
        v = voxels[d]
        z, y, x = v // (n * n), (v // n) % n, v % n
        best = np.inf
        target = -1
        for j in range(neighbours.shape[0]):
            a, b, e = z + neighbours[j, 0], y + neighbours[j, 1], x + neighbours[j, 2]
            if not (wide[d] or face[j]) or min(a, b, e) < 0 or max(a, b, e) >= n:
                continue
            f = (a * n + b) * n + e
            dist = math.sqrt((a - c) ** 2 + (b - c) ** 2 + (e - c) ** 2)
            score = occ[f] / cap + CENTRE_PULL * dist + tie[d, j] * 1e-6
            if score < best or target < 0:
                best = score
                target = f
        out[d] = target
    return out


def spread(t: Tumour, xp: XenograftParameters, seed: int, max_passes: int = 50) -> None:
    """Move cells out of over-capacity voxels into a less-occupied neighbour.

    Each pass, every agent whose voxel holds more than its capacity moves the excess
    (its living and dead cells in proportion, rounded) to the neighbour with the lowest
    score: occupancy / capacity, plus ``CENTRE_PULL`` per voxel of distance from the
    inoculation centre, plus a keyed tie-break draw. A share ``DIAGONAL_SHARE`` of the
    voxels (a keyed draw per voxel, fixed for the run) may push to all 26 neighbours, the
    others to their 6 face neighbours: face-only pushing grows octahedra, 26-neighbour
    pushing cubes, the mix rounded nodules. A neighbour without an agent gets a new one
    with the donor's state. Merged agents take the living-cell-weighted mean state.
    Repeats until no voxel is over capacity by more than 0.1 % (or ``max_passes``).
    """
    n = xp.box_voxels
    cap = xp.capacity
    m = len(NEIGHBOURS)
    for k in range(max_passes):
        occ = t.occupancy()
        pop = t.pop
        over = occ[t.voxel] - cap
        held = pop.counts[:, :REMOVED].sum(axis=1)
        donors = np.flatnonzero((over > 1e-3 * cap) & (held > 0))
        if donors.size == 0:
            return
        ent = (np.uint64(t.base_id) | SPREAD_KEY) + t.voxel[donors].astype(np.uint64)
        counter = (t.step * 64 + k) * 32
        tie = rng.uniform_table(seed, "placement", ent, counter + np.arange(m))
        # a voxel pushes to its face neighbours only, or (half the voxels, fixed for the
        # run) to all 26: the growth metric mixes L1 (octahedra) and L-infinity (cubes)
        # into rounder nodules, the same at every step and pass
        wide = rng.uniform(seed, "placement", ent, WIDE_COUNTER) < DIAGONAL_SHARE
        target = _targets(t.voxel[donors], n, occ, cap, tie, wide, NEIGHBOURS, FACE)
        frac = np.minimum(over[donors] / held[donors], 1.0)
        moved = np.floor(pop.counts[donors, :REMOVED] * frac[:, None] + 0.5).astype(np.int64)
        # agents for targets that have none: copies of their first donor
        owner = np.full(n**3, -1, dtype=np.int64)
        owner[t.voxel] = np.arange(pop.n)
        fresh, first = np.unique(target[owner[target] < 0], return_index=True)
        if fresh.size:
            rows = donors[owner[target] < 0][first]
            pop = _append(pop, rows, agent_ids(t.key, fresh))
            t.voxel = np.concatenate([t.voxel, fresh])
            owner[fresh] = np.arange(pop.n - fresh.size, pop.n)
        dest = owner[target]
        w_old = pop.counts[:, ALIVE].astype(float)
        w_in = moved[:, ALIVE].astype(float)
        acc = pop.states * w_old[:, None]
        np.add.at(acc, dest, pop.states[donors] * w_in[:, None])
        wsum = w_old.copy()
        np.add.at(wsum, dest, w_in)
        np.subtract.at(pop.counts[:, :REMOVED], donors, moved)
        np.add.at(pop.counts[:, :REMOVED], dest, moved)
        mix = np.zeros(pop.n, dtype=bool)
        mix[dest] = True
        mix &= wsum > 0
        pop.states[mix] = acc[mix] / wsum[mix, None]
        t.pop = pop


__all__ = [
    "READOUTS",
    "Schedule",
    "Tumour",
    "XenograftParameters",
    "advance",
    "agent_ids",
    "frame",
    "inject",
    "new_tumour",
    "o2_multipliers",
    "oxygen",
    "perfusion",
    "seed_voxels",
    "spread",
    "vesicle_balance",
]
