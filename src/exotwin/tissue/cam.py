"""The chick chorioallantoic membrane (CAM) xenograft: one egg, graft to photograph.

Owns the coupling of one CAM egg (design and provenance: docs/cam.md). A graft of NPC
cells (a :class:`~exotwin.cells.Population` of the donor model, cohorts of real cells)
sits on a disc of the membrane. Each phenotype step (1 h):

1. the graft cells step their kinetics and fates (:func:`exotwin.cells.step`) and secrete
   vesicles at their step-averaged ``exosome_secretion_rate``, each carrying
   ``exo_LMP1_cargo`` of LMP1, into the mesenchyme voxels under the graft (zero-order
   supply);
2. vesicles and their LMP1 diffuse in the mesenchyme (:mod:`exotwin.tissue.diffusion`,
   Dirichlet zero at the field's edge: the rest of the CAM), decay, and are taken up by
   the endothelial cells of each voxel with the culture's saturating clearance
   (:class:`~exotwin.vesicles.VesicleParameters`): sink ``u = n_EC q (1 - inhibition) /
   (1 + C / K) / V_voxel`` set at the start of each diffusion step;
3. the endothelium of each patch of voxels (one cohort agent of the endothelial model per
   patch) receives the LMP1 taken up in its voxels in the previous step as
   ``exo_LMP1_uptake_rate`` (per cell per h) and steps its kinetics;
4. vessels respond (:mod:`exotwin.tissue.vessels`): sprouts start from vessel voxels with
   a hazard proportional to the local ``sprouting_activity``; tips elongate at the slower
   of ``migration_speed`` and proliferative stalk growth (``division_rate``), branch with
   a hazard proportional to ``sprouting_activity``, and are biased up the gradient of the
   LMP1 an endothelial cell would take up (sensing needs uptake).

At harvest the network is rendered as a stereo-microscope photograph and measured.
Every amount is accounted: secreted = in the field + taken up + decayed + lost at the edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numba import njit

from exotwin.cells import Population
from exotwin.cells import step as cell_step
from exotwin.culture import coupling
from exotwin.errors import ExotwinError
from exotwin.kinetics import compile_model, simulate
from exotwin.tissue import vessels as V
from exotwin.tissue.diffusion import (
    Dirichlet,
    Grid,
    Ledger,
    Sources,
    Substance,
    Substances,
    step_with_ledger,
)
from exotwin.vesicles import VesicleParameters

UM3_PER_ML = 1e12
# roles of the recipient's ``vessels`` coupling entry (culture/couplings.yaml)
VESSEL_ROLES = ("sprouting", "migration", "division")
COUPLINGS_FILE = "culture/couplings.yaml"
READOUTS = {
    "vessel area % (around graft)": "%",
    "branch points (around graft)": "count",
    "vessels crossing ring": "count",
    "intra-graft microvessel density": "branches/mm^2",
}


@dataclass(frozen=True)
class CamCoupling:
    """Model ids an egg reads and sets, from the models' declared couplings.

    Attributes
    ----------
    cargo
        The cargo protein the field carries (e.g. ``LMP1``).
    secretion, cargo_output
        Donor outputs: vesicles secreted per cell per h; cargo molecules per vesicle.
    uptake
        Recipient input: cargo molecules received per cell per h.
    sprouting, migration, division
        Recipient outputs: sprouting activity (1 = untreated), tip speed (um/h), stalk
        division rate (1/h).
    """

    cargo: str
    secretion: str
    cargo_output: str
    uptake: str
    sprouting: str
    migration: str
    division: str


def cam_coupling(donor: str, recipient: str, file: str | None = None,
                 check_ids: bool = True) -> CamCoupling:  # fmt: skip
    """The CAM coupling of a donor (graft) and a recipient (endothelial) model.

    Read from their entries in culture/couplings.yaml (:func:`exotwin.culture.coupling`):
    the donor's ``secretion``, the one protein of the donor's ``cargo`` that the
    recipient's ``uptake`` receives, and the recipient's ``vessels`` outputs. With
    ``check_ids`` the models are compiled and must have every id named.

    Raises
    ------
    ExotwinError
        Naming ``file``, the protocol field (``model`` or ``endothelial_model``) and the
        missing entry, or a declared id the model lacks.
    """
    d, e = coupling(donor), coupling(recipient)

    def fail(where: str, model: str, reason: str) -> None:
        raise ExotwinError(f"model {model!r} {reason} ({COUPLINGS_FILE}; the CAM needs it)",
                           file=file, field=where)  # fmt: skip

    if not d.secretion:
        fail("model", donor, "declares no vesicle 'secretion' output")
    if not d.cargo:
        fail("model", donor, "declares no vesicle 'cargo'")
    shared = sorted(set(d.cargo) & set(e.uptake))
    if len(shared) != 1:
        fail("endothelial_model", recipient,
             f"must take up ('uptake') exactly one cargo protein of the donor's "
             f"({', '.join(sorted(d.cargo))}); it takes up {', '.join(shared) or 'none'}")
    missing = [r for r in VESSEL_ROLES if r not in e.vessels]
    if missing:
        fail("endothelial_model", recipient, f"declares no 'vessels.{missing[0]}' output")
    cargo = shared[0]
    ids = CamCoupling(cargo, d.secretion, d.cargo[cargo], e.uptake[cargo],
                      *(e.vessels[r] for r in VESSEL_ROLES))  # fmt: skip
    if not check_ids:
        return ids
    for where, model, names in (("model", donor, (ids.secretion, ids.cargo_output)),
                                ("endothelial_model", recipient,
                                 (ids.uptake, ids.sprouting, ids.migration, ids.division))):
        compiled = compile_model(model)
        known = {*compiled.output_index, *compiled.spec.constants}
        for name in names:
            if name not in known:
                fail(where, model, f"has no {name!r}, which its coupling entry names")
    return ids


@dataclass(frozen=True)
class CamParameters:
    """Geometry, transport and vessel-response parameters of a CAM egg.

    Attributes
    ----------
    field_mm
        Edge of the square simulated and photographed field (mm). assumed: 5 mm, the
        field of a stereo microscope at ~10x around a 2-mm graft.
    dx_um
        Voxel edge (um). assumed: 25 um, below the spacing of visible CAM vessels.
    graft_radius_mm
        Radius of the graft footprint (mm). assumed: 1 mm, 1e6 cells in ~10-20 uL of
        Matrigel spread on the CAM (typical of CAM xenograft protocols).
    membrane_um
        Thickness of the mesenchyme layer vesicles spread in (um). assumed: 100 um, the
        order of the CAM's thickness at E9-E13.
    diffusion_um2_per_min
        Vesicle diffusion coefficient in the mesenchyme (um^2/min). Stokes-Einstein for
        a 100-nm sphere in water at 37 C gives kT/(6 pi eta r) = 6.6 um^2/s; 100-nm
        particles move ~10-fold slower in tissue (Nance et al., Sci Transl Med 4:149ra119,
        2012, doi:10.1126/scitranslmed.3003594). assumed: 0.66 um^2/s = 40 um^2/min.
    ec_area_um2
        Vessel wall area lined by one endothelial cell (um^2). assumed: 1000 um^2
        (a spread endothelial cell); a vessel of width w and length l holds
        pi w l / ec_area cells.
    patch_um
        Edge of the square patch of endothelium one agent stands for (um). assumed:
        100 um (4 voxels), about the decay length of the vesicle field.
    sprout_per_h
        Sprout-initiation hazard of one vessel voxel at sprouting activity 1 (1/h).
        assumed: 2e-4 (a few tens of new sprouts per day over the field at baseline).
    branch_per_h
        Tip branching hazard at sprouting activity 1 (1/h). assumed: 0.02.
    tip_stop_per_h
        Hazard of a tip stopping without anastomosis (1/h). assumed: 0.05 (sprouts
        extend ~20 h).
    stalk_cells, ec_length_um
        Proliferating stalk cells behind a tip (count) and the length one division adds
        (um): elongation is at most ``division_rate x stalk_cells x ec_length``. assumed: 10
        and 40 um.
    guidance
        Chemotactic sensitivity (dimensionless) of the Anderson & Chaplain (1998) form
        ``chi grad(U) / (U_half + U)`` times ``guidance_length_um``. assumed: 1.
    guidance_length_um
        Length scale of the bias (um). assumed: 100 um.
    guidance_half
        U_half: LMP1 uptake per cell (molecules/cell/h) at which gradient sensing
        saturates. assumed: 10.
    tip_noise
        Direction noise of a tip per step (dimensionless). assumed: 0.3.
    sprout_width_um
        Width of a new sprout as photographed (um). assumed: 15 um.
    min_uptake
        LMP1 delivery (molecules/cell/h) below which a patch counts as receiving none, so
        that the many patches far from the graft share one integration. 1e-3 is ~1e-7 of the
        delivery under the graft. assumed (numerical cut-off).
    diffusion_step_min, phenotype_step_h
        Time steps (min, h): 7.5 min and 1 h. assumed (numerical choices): against 1.875
        min, the LMP1 taken up in 24 h differs by 4 % (15 min: 10 %; docs/cam.md).
    secretion_scale
        Multiplier of graft vesicle secretion (dimensionless; 1: untreated; 0: no exosomes,
        e.g. GW4869). Default 1: no treatment assumed unless the protocol sets one.
    uptake_inhibition
        Fraction of endothelial vesicle uptake blocked (0-1). Default 0: no inhibitor
        assumed unless the protocol sets one.
    vesicles
        Clearance, saturation and degradation of vesicles (the culture's values).
    plexus
        The pre-existing vessel tree.
    imaging
        The photograph.
    """

    field_mm: float = 5.0
    dx_um: float = 25.0
    graft_radius_mm: float = 1.0
    membrane_um: float = 100.0
    diffusion_um2_per_min: float = 40.0
    ec_area_um2: float = 1000.0
    patch_um: float = 100.0
    sprout_per_h: float = 2e-4
    branch_per_h: float = 0.02
    tip_stop_per_h: float = 0.05
    stalk_cells: float = 10.0
    ec_length_um: float = 40.0
    guidance: float = 1.0
    guidance_length_um: float = 100.0
    guidance_half: float = 10.0
    tip_noise: float = 0.3
    sprout_width_um: float = 15.0
    min_uptake: float = 1e-3
    diffusion_step_min: float = 7.5
    phenotype_step_h: float = 1.0
    secretion_scale: float = 1.0
    uptake_inhibition: float = 0.0
    vesicles: VesicleParameters = field(default_factory=VesicleParameters)
    plexus: V.PlexusParameters = field(default_factory=V.PlexusParameters)
    imaging: V.Imaging = field(default_factory=V.Imaging)

    @property
    def n(self) -> int:
        """Voxels along an edge."""
        return int(round(self.field_mm * 1000.0 / self.dx_um))

    @property
    def patch_voxels(self) -> int:
        """Voxels along a patch edge."""
        return max(1, int(round(self.patch_um / self.dx_um)))

    @property
    def n_patches(self) -> int:
        """Number of endothelial patches (agents)."""
        return math.ceil(self.n / self.patch_voxels) ** 2

    def substances(self, cargo: str = "LMP1") -> Substances:
        """Vesicles (particles/um^3) and their ``cargo`` protein (molecules/um^3)."""
        decay = self.vesicles.degradation_per_h / 60.0
        edge = {"all": Dirichlet(0.0)}
        prov = ("D: Stokes-Einstein / 10 in tissue (Nance 2012); decay: "
                "VesicleParameters.degradation_per_h")  # fmt: skip
        return Substances([
            Substance("vesicles", self.diffusion_um2_per_min, decay, "particles/um^3", edge, prov),
            Substance(cargo, self.diffusion_um2_per_min, decay, "molecules/um^3", edge, prov),
        ])  # fmt: skip


@dataclass
class Egg:
    """The state and accounts of one egg.

    Attributes
    ----------
    fields
        ``(2, 1, n, n)``: vesicles and their cargo protein (LMP1) per um^3.
    graft, endothelium
        Donor population and the endothelial patch agents (one per patch, row-major;
        only their kinetics is stepped, see :func:`kinetics_step`).
    network
        The vessels.
    ec
        Endothelial cells per voxel ``(n, n)``.
    ledger
        Cumulative solver accounts of each substance (concentration x voxel area; times
        ``membrane_um`` gives particles and LMP1 molecules).
    taken_up
        Cumulative particles and LMP1 taken up per voxel ``(2, n, n)``.
    graft_mask, patch
        Voxels under the graft ``(n, n)`` bool; patch index of each voxel ``(n, n)``.
    coupling
        The model ids the egg reads and sets.
    time_h, step, counted_segments
        Time since grafting (h), phenotype steps taken, segments whose cells are counted.
    """

    fields: np.ndarray
    graft: Population
    endothelium: Population
    network: V.Network
    ec: np.ndarray
    ledger: Ledger
    taken_up: np.ndarray
    graft_mask: np.ndarray
    patch: np.ndarray
    coupling: CamCoupling
    time_h: float = 0.0
    step: int = 0
    counted_segments: int = 0


def _add_cells(egg: Egg, cam: CamParameters) -> None:
    """Count the endothelial cells of the segments laid down since the last count."""
    seg = egg.network.used()[egg.counted_segments:]
    if seg.size:
        length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
        mx, my = 0.5 * (seg[:, 0] + seg[:, 2]), 0.5 * (seg[:, 1] + seg[:, 3])
        n = cam.n
        ix = np.clip((mx / cam.dx_um).astype(np.int64), 0, n - 1)
        iy = np.clip((my / cam.dx_um).astype(np.int64), 0, n - 1)
        cells = math.pi * seg[:, 4] * length / cam.ec_area_um2
        egg.ec += np.bincount(iy * n + ix, weights=cells, minlength=n * n).reshape(n, n)
    egg.counted_segments = egg.network.n_segments


def new_egg(graft: Population, endothelium: Population, cam: CamParameters, seed: int,
            egg_key: int, coupling: CamCoupling | None = None) -> Egg:  # fmt: skip
    """An egg at grafting: its plexus (keyed by ``egg_key``), empty fields, the graft.

    ``endothelium`` must have ``cam.n_patches`` agents (patches in row-major order).
    ``coupling`` defaults to :func:`cam_coupling` of the two populations' models.
    """
    if coupling is None:
        coupling = cam_coupling(graft.model.source, endothelium.model.source)
    n, p = cam.n, cam.patch_voxels
    if endothelium.n != cam.n_patches:
        raise ValueError(f"endothelium has {endothelium.n} agents, the field {cam.n_patches} "
                         "patches")  # fmt: skip
    centres = (np.arange(n) + 0.5) * cam.dx_um
    r0 = 0.5 * n * cam.dx_um
    d = np.hypot(centres[:, None] - r0, centres[None, :] - r0)
    graft_mask = d < cam.graft_radius_mm * 1000.0
    iy, ix = np.indices((n, n))
    patch = (iy // p) * math.ceil(n / p) + ix // p
    net = V.plexus((n, n), cam.dx_um, cam.plexus, seed, egg_key)
    zero = np.zeros(2)
    egg = Egg(cam.substances(coupling.cargo).zeros(Grid((n, n), cam.dx_um)), graft,
              endothelium, net, np.zeros((n, n)), Ledger(zero, zero, zero, zero),
              np.zeros((2, n, n)), graft_mask, patch, coupling)  # fmt: skip
    _add_cells(egg, cam)
    return egg


def _sinks(egg: Egg, cam: CamParameters, voxel_um3: float) -> np.ndarray:
    """Uptake rate (1/min) per voxel, shape ``(n, n)``, saturating in vesicles."""
    vp = cam.vesicles
    k_half = vp.uptake_half_saturation_per_ml / UM3_PER_ML
    q = vp.clearance_ml_per_h * UM3_PER_ML / 60.0 * (1.0 - cam.uptake_inhibition)  # um^3/min
    return egg.ec * q / (1.0 + egg.fields[0, 0] / k_half) / voxel_um3


@njit(cache=True)
def _uptaken(rho0, supply, u, decay, dt, out):
    """Add the concentration taken up per voxel over a step to ``out``: the solver's reaction.

    ``u * integral(rho dt)`` with ``d rho/dt = supply - (u + decay) rho`` (per um^3);
    ``rho0`` and ``supply`` ``(n_s, 1, ny, nx)``, ``u`` ``(ny, nx)``, ``out`` ``(n_s, ny, nx)``.
    """
    ns, _, ny, nx = rho0.shape
    for s in range(ns):
        last = math.nan  # exp factors of the last total rate (runs of equal rates)
        e = m1 = 0.0
        for i in range(ny):
            for j in range(nx):
                if u[i, j] <= 0.0:
                    continue
                b = u[i, j] + decay[s]
                if b != last:
                    last = b
                    e, m1 = math.exp(-b * dt), math.expm1(-b * dt)
                r, q = rho0[s, 0, i, j], supply[s, 0, i, j]
                new = r * e - q * m1 / b
                out[s, i, j] += u[i, j] * (q * dt - (new - r)) / b


def kinetics_step(pop: Population, dt: float, report: list[str],
                  threads: int | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Advance the intracellular state of every agent by ``dt`` h (in place), no fates.

    The endothelial patches stand for the cells of a vessel wall, whose number follows
    the network's geometry, so only their kinetics is stepped. Agents with identical
    parameters and states are integrated once (cells are independent, so this changes
    no number). Returns the step averages (Simpson's rule over start, middle and end) of
    ``report``, each ``(n,)``.
    """
    names = pop.state_names()
    keys = sorted(pop.params)
    varying = [pop.params[k] for k in keys if np.ptp(pop.params[k]) > 0]
    rows = np.column_stack([pop.states, *varying])
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    t0 = pop.time
    ds = simulate(pop.model, [t0, t0 + 0.5 * dt, t0 + dt], n_cells=first.size,
                  parameters={k: pop.params[k][first] for k in keys},
                  initial={s: pop.states[first, j] for j, s in enumerate(names)},
                  variables=names + report, threads=threads)  # fmt: skip
    for j, s in enumerate(names):
        pop.states[:, j] = ds[s].values[inverse, -1]
    pop.time = t0 + dt
    pop.step_index += 1
    weights = np.array([1.0, 4.0, 1.0]) / 6.0
    return {r: (ds[r].values @ weights)[inverse] for r in report}


def advance(egg: Egg, cam: CamParameters, hours: float, seed: int, egg_key: int,
            threads: int | None = None) -> Egg:  # fmt: skip
    """Advance an egg by ``hours`` in phenotype steps (in place; see the module docstring)."""
    dt_h = cam.phenotype_step_h
    n_steps = int(round(hours / dt_h))
    n_sub = int(round(dt_h * 60.0 / cam.diffusion_step_min))
    if abs(n_steps * dt_h - hours) > 1e-9 or abs(n_sub * cam.diffusion_step_min
                                                 - dt_h * 60.0) > 1e-9:  # fmt: skip
        raise ValueError("hours and the diffusion step must divide into phenotype steps")
    n = cam.n
    grid = Grid((n, n), cam.dx_um)
    ids = egg.coupling
    subs = cam.substances(ids.cargo)
    decay = np.array([s.decay for s in subs.items])
    voxel_um3 = cam.dx_um**2 * cam.membrane_um
    n_graft = int(egg.graft_mask.sum())
    n_patch = egg.endothelium.n
    for _ in range(n_steps):
        # 1. graft cells step and secrete (vesicles/h, LMP1/h) over the graft footprint
        pop = egg.graft
        living = pop.counts[pop.alive, 0].astype(float)
        pop, av = cell_step(pop, dt_h, threads=threads, report=[ids.secretion, ids.cargo_output])
        egg.graft = pop
        rate = av[ids.secretion] * living * cam.secretion_scale if living.size else np.zeros(1)
        cargo = rate * av[ids.cargo_output] if living.size else np.zeros(1)
        supply = np.zeros(egg.fields.shape)
        per_voxel_min = 1.0 / (60.0 * n_graft * voxel_um3) if n_graft else 0.0
        supply[0, 0][egg.graft_mask] = rate.sum() * per_voxel_min
        supply[1, 0][egg.graft_mask] = cargo.sum() * per_voxel_min
        # 2. diffusion, decay and uptake; amounts taken up per voxel this step
        took = np.zeros((2, n, n))
        for _ in range(n_sub):
            u = _sinks(egg, cam, voxel_um3)
            _uptaken(egg.fields, supply, u, decay, cam.diffusion_step_min, took)
            egg.fields, led = step_with_ledger(egg.fields, grid, subs, cam.diffusion_step_min,
                                               Sources(supply=supply),
                                               np.broadcast_to(u, egg.fields.shape))  # fmt: skip
            egg.ledger = egg.ledger + led
        took *= voxel_um3
        egg.taken_up += took
        # 3. endothelium: LMP1 received per cell per h over the step -> kinetics
        lmp1 = np.bincount(egg.patch.ravel(), weights=took[1].ravel(), minlength=n_patch)
        cells = np.bincount(egg.patch.ravel(), weights=egg.ec.ravel(), minlength=n_patch)
        endo = egg.endothelium
        per_cell = np.divide(lmp1, cells * dt_h, out=np.zeros(n_patch), where=cells > 0)
        endo.params[ids.uptake] = np.where(per_cell < cam.min_uptake, 0.0, per_cell)
        ea = kinetics_step(endo, dt_h, [ids.sprouting, ids.migration, ids.division], threads)
        act = ea[ids.sprouting][egg.patch]
        speed = np.minimum(ea[ids.migration],
                           ea[ids.division] * cam.stalk_cells * cam.ec_length_um)
        speed = np.clip(speed, 0.0, None)[egg.patch]
        # 4. guidance: gradient of the LMP1 an endothelial cell here would take up (/cell/h)
        vp = cam.vesicles
        q_h = vp.clearance_ml_per_h * UM3_PER_ML * (1.0 - cam.uptake_inhibition)
        k_half = vp.uptake_half_saturation_per_ml / UM3_PER_ML
        sense = q_h * egg.fields[1, 0] / (1.0 + egg.fields[0, 0] / k_half)
        gy, gx = np.gradient(sense, cam.dx_um)
        scale = cam.guidance * cam.guidance_length_um / (cam.guidance_half + sense)
        bx, by = gx * scale, gy * scale
        net = egg.network
        V.sprout(net, act, cam.sprout_per_h, dt_h, cam.dx_um, bx, by, cam.sprout_width_um,
                 seed, egg_key, egg.step)  # fmt: skip
        ix = np.clip((net.x / cam.dx_um).astype(np.int64), 0, n - 1)
        iy = np.clip((net.y / cam.dx_um).astype(np.int64), 0, n - 1)
        rules = V.GrowthRules(speed=speed[iy, ix], branch_per_h=cam.branch_per_h * act[iy, ix],
                              stop_per_h=cam.tip_stop_per_h, bias_x=bx[iy, ix],
                              bias_y=by[iy, ix], noise=cam.tip_noise,
                              min_width=cam.sprout_width_um)  # fmt: skip
        V.grow(net, rules, dt_h, cam.dx_um, seed, egg_key, egg.step)
        _add_cells(egg, cam)
        egg.step += 1
        egg.time_h += dt_h
    return egg


def photograph(egg: Egg | np.ndarray, cam: CamParameters, seed: int, egg_key: int) -> np.ndarray:
    """The stereo-microscope image of the egg's field ``(ny, nx)`` (grey, vessels dark).

    ``egg`` is an egg or its vessel segments (``Network.used()``, ``(n_segments, 6)``):
    the same segments, seed and key give the same image.
    """
    size = cam.field_mm * 1000.0
    segments = egg.network.used() if isinstance(egg, Egg) else egg
    return V.render(segments, (size, size), cam.imaging, seed, egg_key)


def measure(image: np.ndarray, cam: CamParameters) -> dict[str, float]:
    """The lab's readouts of a CAM photograph centred on the graft (see :data:`READOUTS`).

    Around the graft: vessel area % and skeleton branch points in the annulus from the
    graft's edge to 1 mm beyond it, and vessels crossing a circle 0.5 mm outside the edge.
    Inside the graft footprint: skeleton branches per mm^2 (microvessel density).
    """
    px = cam.imaging.pixel_um
    shape = image.shape
    centre = (shape[0] / 2.0, shape[1] / 2.0)
    r_g = cam.graft_radius_mm * 1000.0 / px
    ring = V.disc(shape, centre, r_g, r_g + 1000.0 / px)
    inside = V.disc(shape, centre, 0.0, r_g)
    mask = V.vessel_mask(image)
    skel = V.skeleton(mask)
    _, points = V.junctions(skel)
    d = np.hypot(points[:, 0] + 0.5 - centre[0], points[:, 1] + 0.5 - centre[1])
    area_mm2 = inside.sum() * (px / 1000.0) ** 2
    return {
        "vessel area % (around graft)": 100.0 * float(mask[ring].mean()),
        "branch points (around graft)": float(np.sum((d >= r_g) & (d < r_g + 1000.0 / px))),
        "vessels crossing ring": float(V.ring_crossings(mask, centre, r_g + 500.0 / px)),
        "intra-graft microvessel density": V.branches(skel, inside) / area_mm2,
    }


def with_overrides(cam: CamParameters, values: dict[str, float]) -> CamParameters:
    """``cam`` with top-level numeric fields replaced (names checked by the caller)."""
    return replace(cam, **{k: float(v) for k, v in values.items()})


__all__ = [
    "READOUTS",
    "CamCoupling",
    "CamParameters",
    "Egg",
    "advance",
    "cam_coupling",
    "measure",
    "new_egg",
    "photograph",
    "with_overrides",
]
