"""Culture wells: a cell population in a well-mixed medium with drugs and exosomes.

The coupling between medium and cells is declared, not buried in code: a
:class:`Coupling` per intracellular model (``couplings.yaml`` next to this module) names
which model input each medium substance sets (``cisplatin`` -> ``cisplatin_uM``), which
model outputs give exosome secretion and cargo, and which inputs receive the cargo of
taken-up exosomes; :meth:`Well.seed` picks the one of its population's model.
:func:`advance` alternates a phenotype step of the cells with an exact step of the
medium's vesicle pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import yaml

from exotwin.cells import Population
from exotwin.cells import step as cell_step
from exotwin.cells.population import ALIVE, EARLY_APOPTOTIC
from exotwin.vesicles import VesicleParameters, VesiclePool


@dataclass(frozen=True)
class Plate:
    """Well geometry of a plate format: growth area (cm2) and working volume (mL).

    Values are the usual vendor figures for tissue-culture plates (assumed: typical
    Corning/Falcon surface areas and mid-range working volumes).
    """

    area_cm2: float
    volume_ml: float


# Cells per cm2 of a confluent monolayer: division stops as the attached cells fill the
# well (contact inhibition, linear in the occupied fraction). assumed: 1.5e5 cells/cm2,
# the usual confluent density of carcinoma lines such as HeLa (~1.3e5/cm2: 1e7 cells in
# a confluent 75 cm2 flask, Thermo Fisher Cell Culture Basics).
CONFLUENT_CELLS_PER_CM2 = 1.5e5


PLATES = {
    "96-well": Plate(0.32, 0.1),
    "24-well": Plate(1.9, 0.5),
    "12-well": Plate(3.8, 1.0),
    "6-well": Plate(9.5, 2.0),
    "10-cm dish": Plate(55.0, 10.0),
}


@dataclass(frozen=True)
class Coupling:
    """Medium substance <-> model quantity maps (ids of one intracellular model).

    Attributes
    ----------
    drugs
        Medium drug name -> model input holding its extracellular concentration (uM).
    secretion
        Model output: exosomes secreted per cell per hour (``None``: no secretion); by
        default the conventional ``exosome_secretion_rate``.
    cargo
        Cargo protein -> model output: molecules per secreted vesicle.
    uptake
        Cargo protein -> model input: molecules received per cell per hour.
    vessels
        Role (``sprouting``, ``migration``, ``division``) -> model output read by the
        vessels of a CAM egg (:mod:`exotwin.tissue.cam`; units in couplings.yaml).
    """

    drugs: dict[str, str] = field(default_factory=dict)
    secretion: str | None = "exosome_secretion_rate"
    cargo: dict[str, str] = field(default_factory=dict)
    uptake: dict[str, str] = field(default_factory=dict)
    vessels: dict[str, str] = field(default_factory=dict)


@cache
def _couplings() -> dict[str, dict]:
    text = (resources.files("exotwin.culture") / "couplings.yaml").read_text()
    return yaml.safe_load(text)


def coupling(model: str) -> Coupling:
    """The declared coupling of a model (by name); an empty one for an undeclared model."""
    entry = _couplings().get(model)
    if entry is None:
        return Coupling(secretion=None)
    return Coupling(dict(entry.get("drugs") or {}), entry.get("secretion"),
                    dict(entry.get("cargo") or {}), dict(entry.get("uptake") or {}),
                    dict(entry.get("vessels") or {}))  # fmt: skip


def confluence_scale(well: Well) -> float:
    """Free fraction of the growth area: division slows linearly to 0 at confluence."""
    attached = float(well.population.counts[:, [ALIVE, EARLY_APOPTOTIC]].sum())
    return 1.0 - attached / (well.plate.area_cm2 * well.confluent_cells_per_cm2)


@dataclass
class Well:
    """One culture well: cells (cohort agents), medium volume, drugs (uM) and vesicles."""

    population: Population
    plate: Plate
    volume_ml: float
    drugs: dict[str, float] = field(default_factory=dict)
    vesicles: VesiclePool = field(default_factory=VesiclePool)
    uptake_inhibition: float = 0.0
    confluent_cells_per_cm2: float = CONFLUENT_CELLS_PER_CM2
    coupling: Coupling = field(default_factory=Coupling)
    vesicle_params: VesicleParameters = field(default_factory=VesicleParameters)

    @classmethod
    def seed(cls, population: Population, plate: str = "96-well", **kw) -> Well:
        """A well of a named plate format holding ``population``.

        The coupling is the declared one of the population's model unless ``coupling``
        is given.
        """
        geometry = PLATES[plate]
        kw.setdefault("coupling", coupling(population.model.source))
        return cls(population=population, plate=geometry, volume_ml=geometry.volume_ml, **kw)


def advance(well: Well, hours: float, dt: float = 0.5, threads: int | None = None) -> Well:
    """Advance a well by ``hours`` in phenotype steps of ``dt`` hours (in place).

    Each step: drug concentrations and the exosomal cargo received in the previous step
    set the cells' inputs; the cells step (kinetics, fates; division slows linearly to
    zero as the attached cells approach a confluent monolayer); the cells that were alive
    secrete vesicles at their step-averaged rate and cargo; the living cells take vesicles
    up in proportion to their number and clearance (reduced by ``uptake_inhibition``, and
    saturating with the vesicle concentration at the start of the step).
    """
    c = well.coupling
    n_steps = int(round(hours / dt))
    if n_steps * dt - hours > 1e-9 * max(hours, 1.0) or hours < 0:
        raise ValueError(f"hours={hours} is not a non-negative multiple of dt={dt}")
    for _ in range(n_steps):
        pop = well.population
        for drug, model_input in c.drugs.items():
            pop.params[model_input] = np.full(pop.n, float(well.drugs.get(drug, 0.0)))
        report = [*([c.secretion] if c.secretion else []), *c.cargo.values()]
        living_before = pop.counts[pop.alive, ALIVE].astype(float)
        free = confluence_scale(well)
        pop, averages = cell_step(pop, dt, threads=threads, report=report, division_scale=free)
        if not living_before.size:
            secretion = np.zeros(0)
        elif c.secretion:
            secretion = averages[c.secretion] * living_before
        else:
            secretion = np.zeros_like(living_before)
        cargo = {k: averages[name] for k, name in c.cargo.items()} if living_before.size else {}
        living_now = pop.counts[:, ALIVE].astype(float)
        vp = well.vesicle_params
        saturation = 1.0 + well.vesicles.count / well.volume_ml / vp.uptake_half_saturation_per_ml
        per_cell = vp.clearance_ml_per_h * (1.0 - well.uptake_inhibition) / saturation
        _, delivered = well.vesicles.step(
            dt, secretion, cargo, per_cell * living_now, well.volume_ml,
            well.vesicle_params.degradation_per_h,
        )  # fmt: skip
        for protein, model_input in c.uptake.items():
            received = delivered.get(protein, np.zeros(pop.n))
            per_agent = np.divide(received, living_now * dt, out=np.zeros(pop.n),
                                  where=living_now > 0)  # fmt: skip
            pop.params[model_input] = per_agent  # molecules per cell per h
        well.population = pop
    return well
