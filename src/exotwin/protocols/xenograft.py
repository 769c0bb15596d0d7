"""The ``xenograft`` protocol kind: subcutaneous tumours in nude mice, mice per group.

A xenograft protocol (:class:`XenograftProtocol`, ``kind: xenograft``) names the
inoculated cell line and model, the cells injected, the mice per group, the days from
inoculation to sacrifice, the day treatments start ("after tumour formation"), exosome
donors (cultured and isolated like the culture protocols' donors), and per group a
knockdown of the inoculated cells, i.p. cisplatin and intratumoural exosomes. :func:`run`
simulates every mouse (:mod:`exotwin.tissue.xenograft`), weighs each tumour and blots its
lysate, and evaluates the comparisons with the culture protocols' rules
(:func:`exotwin.protocols.run.compare`). Design and provenance: docs/xenograft.md.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from exotwin.protocols import schema as S
from exotwin.protocols import units
from exotwin.protocols.schema import ProtocolHeader, Quantity, _Strict, _time, check_known

MAX_MICE = 255  # mice per group: the mouse key holds the mouse number in 8 bits
MAX_BOX_VOXELS = 128  # voxels per edge: agent ids and spread keys hold a voxel in 21 bits
WESTERN_TARGETS = ("caspase-3", "Bax", "Bcl-2", "Bcl-xL", "GSDME-N", "GSDME")


def _amount(v: Quantity, allowed: dict[str, float], what: str) -> Quantity:
    try:
        value, unit = units.split(v)
    except units.UnitError as exc:
        raise ValueError(str(exc)) from None
    if unit not in allowed:
        raise ValueError(f"{v!r}: expected {what} ({', '.join(allowed)})")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{v!r}: must be a finite, non-negative amount")
    return v


def _volume(v: Quantity) -> Quantity:
    _amount(v, VOLUME_UL, "a volume")
    if not units.split(v)[0] > 0:
        raise ValueError(f"{v!r}: an injection needs a positive volume")
    return v


DOSE_MG_PER_KG = {"mg/kg": 1.0}
EXO_AMOUNT = {"ug": 1.0, "µg": 1.0, "particles": 1.0}
VOLUME_UL = {"uL": 1.0, "µL": 1.0, "mL": 1e3}


class CisplatinIP(_Strict):
    """Cisplatin i.p. bolus of ``dose`` (mg/kg) every ``every`` from ``start`` to sacrifice.

    ``start`` defaults to the protocol's ``treatment_start`` (tumour formation).
    """

    type: Literal["cisplatin_ip"]
    dose: Quantity
    every: Quantity = "2 d"
    start: Quantity | None = None

    _d = field_validator("dose")(lambda cls, v: _amount(v, DOSE_MG_PER_KG, "a dose in mg/kg"))
    _t = field_validator("every", "start")(lambda cls, v: v if v is None else _time(v))

    def mg_per_kg(self) -> float:
        """The dose in mg/kg."""
        return units.split(self.dose)[0]


class IntratumoralExosomes(_Strict):
    """Exosomes of donor ``source`` injected into the tumour every ``every``.

    ``dose`` per injection in ug protein (converted with the vesicles' particles per ug)
    or particles, in ``volume`` (uL); ``start`` defaults to ``treatment_start``.
    """

    type: Literal["intratumoral_exosomes"]
    source: str
    dose: Quantity
    volume: Quantity = "50 uL"
    every: Quantity = "2 d"
    start: Quantity | None = None

    _d = field_validator("dose")(lambda cls, v: _amount(v, EXO_AMOUNT, "ug protein or particles"))
    _v = field_validator("volume")(lambda cls, v: _volume(v))
    _t = field_validator("every", "start")(lambda cls, v: v if v is None else _time(v))

    def particles(self, particles_per_ug: float) -> float:
        """Vesicles per injection."""
        value, unit = units.split(self.dose)
        return value if unit == "particles" else value * particles_per_ug

    def volume_ul(self) -> float:
        """Injected volume (uL)."""
        value, unit = units.split(self.volume)
        return value * VOLUME_UL[unit]


XenoTreatment = Annotated[S.Knockdown | CisplatinIP | IntratumoralExosomes,
                          Field(discriminator="type")]  # fmt: skip


class XenograftGroup(_Strict):
    """Mice inoculated with the same cells and given the same treatments."""

    label: str
    treatments: list[XenoTreatment] = []

    def key_base(self) -> int:
        """Mouse-key base of this group (16 bits from its label, the mouse number below)."""
        return (zlib.crc32(self.label.encode()) & 0xFFFF) << 8


def _xeno_fields() -> list[str]:
    from exotwin.tissue.xenograft import XenograftParameters

    return [f.name for f in fields(XenograftParameters) if f.type in ("float", "int")]


def parameters(values: dict[str, float]):
    """:class:`~exotwin.tissue.xenograft.XenograftParameters` with numeric overrides."""
    from exotwin.tissue.xenograft import XenograftParameters

    kinds = {f.name: f.type for f in fields(XenograftParameters)}
    return replace(XenograftParameters(), **{k: int(v) if kinds[k] == "int" else float(v)
                                             for k, v in values.items()})  # fmt: skip


class XenograftProtocol(ProtocolHeader):
    """A nude-mouse xenograft experiment (see docs/xenograft.md).

    ``xenograft`` overrides numeric fields of
    :class:`exotwin.tissue.xenograft.XenograftParameters`; ``parameters`` the model's.
    ``donors`` are culture donors (:class:`exotwin.protocols.schema.Donor`) whose
    exosome pellets the groups inject.
    """

    kind: Literal["xenograft"]
    cell_line: str = "CNE2"
    cells: Annotated[float, Field(gt=0)] = 1e6
    cell_variation_cv: Annotated[float, Field(ge=0.0, lt=2.0)] = 0.2
    mice: Annotated[int, Field(ge=1, le=MAX_MICE)] = 5
    duration: Quantity = "21 d"
    treatment_start: Quantity = "7 d"
    parameters: S.ModelParameters = {}
    xenograft: dict[str, float] = {}
    donors: list[S.Donor] = []
    groups: Annotated[list[XenograftGroup], Field(min_length=1)]
    western: list[str] = list(WESTERN_TARGETS)
    comparisons: list[S.Comparison] = []
    assumptions: dict[str, str] = {}

    _t = field_validator("duration", "treatment_start")(
        lambda cls, v: _time(v))  # fmt: skip
    _line = field_validator("cell_line")(lambda cls, v: S._known_line(v))

    @field_validator("xenograft")
    @classmethod
    def _xeno(cls, v: dict[str, float]) -> dict[str, float]:
        check_known(v, _xeno_fields(), "xenograft parameter")
        for k, x in v.items():
            if not (math.isfinite(x) and x > 0):
                raise ValueError(f"{k}: must be a finite positive number, got {x}")
            if k == "box_voxels" and (x != int(x) or not 3 <= x <= MAX_BOX_VOXELS):
                raise ValueError(f"box_voxels: an integer from 3 to {MAX_BOX_VOXELS}, got {x}")
        xp = parameters(v)
        order = [("packing", xp.packing <= 1.0, "at most 1 (a volume fraction)"),
                 ("o2_reference_mmhg", xp.o2_reference_mmhg < xp.o2_vascular_mmhg,
                  "below o2_vascular_mmhg"),
                 ("o2_necrosis_max_mmhg",
                  xp.o2_necrosis_max_mmhg < xp.o2_necrosis_threshold_mmhg,
                  "below o2_necrosis_threshold_mmhg"),
                 ("o2_proliferation_saturation_mmhg",
                  xp.o2_proliferation_saturation_mmhg > xp.o2_proliferation_threshold_mmhg,
                  "above o2_proliferation_threshold_mmhg")]  # fmt: skip
        for k, ok, why in order:
            if not ok:
                raise ValueError(f"{k}: must be {why}")
        return v

    @field_validator("western")
    @classmethod
    def _western(cls, v: list[str]) -> list[str]:
        from exotwin.assays.western import TARGETS

        check_known(v, list(TARGETS), "western target")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> XenograftProtocol:
        from exotwin.culture import coupling
        from exotwin.protocols.run import GENE_INPUTS

        labels = S.check_line_and_groups(self.model, self.cell_line, self.groups)
        if len({g.key_base() for g in self.groups}) != len(labels):
            raise ValueError("groups: two labels share a mouse key; rename one")
        donors = [d.label for d in self.donors]
        if len(set(donors)) != len(donors):
            raise ValueError("donors: labels must be unique")
        xp = parameters(self.xenograft)
        if not self.cells <= xp.capacity * xp.box_voxels**3 / 2:
            raise ValueError(f"cells: {self.cells:g} do not fit in half the "
                             f"{xp.box_voxels}^3-voxel box ({xp.capacity:.3g} per voxel)")
        step = xp.phenotype_step_h
        hours = units.time_h(self.duration)
        if hours <= 0 or not S.on_step(hours, step):
            raise ValueError(f"duration: {hours:g} h is not a positive multiple of {step:g} h")
        for name in ("treatment_start",):
            h = units.time_h(getattr(self, name))
            if not S.on_step(h, step) or h > hours:
                raise ValueError(f"{name}: {h:g} h is not a step of {step:g} h within the run")
        S.check_known_genes(self.groups, GENE_INPUTS)
        for gi, g in enumerate(self.groups):
            if sum(isinstance(t, IntratumoralExosomes) for t in g.treatments) > 1:
                raise ValueError(f"groups.{gi}.treatments: one intratumoral_exosomes "
                                 "treatment per group")  # fmt: skip
            for ti, t in enumerate(g.treatments):
                where = f"groups.{gi}.treatments.{ti}"
                if isinstance(t, CisplatinIP) and "cisplatin" not in coupling(self.model).drugs:
                    raise ValueError(f"{where}: cisplatin reaches no input of model "
                                     f"{self.model!r} (culture/couplings.yaml)")  # fmt: skip
                if isinstance(t, IntratumoralExosomes) and t.source not in donors:
                    raise ValueError(f"{where}.source: no donor named {t.source!r} "
                                     f"(donors: {', '.join(donors) or 'none declared'})")
                if isinstance(t, CisplatinIP | IntratumoralExosomes):
                    every = units.time_h(t.every)
                    start = units.time_h(t.start if t.start is not None else self.treatment_start)
                    for name, h in (("every", every), ("start", start)):
                        if not S.on_step(h, step) or (name == "every" and h <= 0):
                            raise ValueError(f"{where}.{name}: {h:g} h is not a positive "
                                             f"multiple of the {step:g}-h step")  # fmt: skip
        S.check_end_point(self.comparisons, labels, self.measured(), self.duration,
                          "tumours are read at sacrifice")  # fmt: skip
        return self

    def measured(self) -> list[str]:
        """Readouts of every mouse: tumour weight and volume, and ``<target>/GAPDH``."""
        from exotwin.tissue.xenograft import READOUTS

        return [*READOUTS, *(f"{t}/GAPDH" for t in self.western)]

    def describe(self, seed: int) -> str:
        """One sentence on the design, for the report."""
        return (f"Nude-mouse xenograft {self.id}: {self.cells:g} {self.cell_line} cells s.c., "
                f"treatments from {self.treatment_start}, sacrifice at {self.duration}; "
                f"{self.mice} mice per group, seed {seed}.")  # fmt: skip


def dose_times(t, start_default: float, end: float) -> tuple[float, ...]:
    """Times (h) of a repeated treatment from its start up to (not including) sacrifice."""
    start = units.time_h(t.start) if t.start is not None else start_default
    every = units.time_h(t.every)
    return tuple(float(x) for x in np.arange(start, end - 1e-9, every))


def _schedule(p: XenograftProtocol, g: XenograftGroup, preps: dict, xp):
    from exotwin.tissue.xenograft import Schedule

    start = units.time_h(p.treatment_start)
    end = units.time_h(p.duration)
    cis_t: list[float] = []
    cis_d: list[float] = []
    exo_t: tuple[float, ...] = ()
    particles, cargo, volume = 0.0, {}, xp.injection_volume_ul
    for t in g.treatments:
        if isinstance(t, CisplatinIP):
            times = dose_times(t, start, end)
            cis_t += times
            cis_d += [t.mg_per_kg()] * len(times)
        elif isinstance(t, IntratumoralExosomes):
            exo_t = dose_times(t, start, end)
            particles = t.particles(xp.vesicles.particles_per_ug)
            prep = preps[t.source]
            cargo = {k: prep.per_vesicle(k) for k in prep.cargo}
            volume = t.volume_ul()
    sched = Schedule(tuple(cis_t), tuple(cis_d), exo_t, particles, cargo)
    return sched, replace(xp, injection_volume_ul=volume)


def exosome_preps(p: XenograftProtocol, seed: int, source: str = "") -> dict:
    """Culture and isolate every donor like the culture protocols; pellets by label."""
    from exotwin.protocols.run import condition_donors

    if not p.donors:
        return {}
    culture = S.Protocol(id=p.id, title=p.title, model=p.model, cell_line=p.cell_line,
                         cells_per_well=1.0, agents_per_well=1, duration="1 h",
                         groups=[S.Group(label="none")], donors=list(p.donors),
                         parameters=dict(p.parameters))  # fmt: skip
    media = condition_donors(culture, seed, source)
    return {d.label: media[f"{d.label}:exosomes"] for d in p.donors}


def simulate_mouse(p: XenograftProtocol, g: XenograftGroup, number: int, stream: int,
                   line: dict[str, float], xp, sched, threads: int | None = None):  # fmt: skip
    """Inoculate, grow and treat one mouse; returns its :class:`~exotwin.tissue.xenograft.Tumour`.

    The inoculated cells enter pre-cultured (:func:`exotwin.protocols.run.pre_culture`):
    the line at its steady state, then each vector for its ``since`` lead.
    """
    from exotwin import rng
    from exotwin.cells import new_population
    from exotwin.culture import coupling
    from exotwin.protocols.run import _group_parameters, pre_culture
    from exotwin.tissue import xenograft as X

    key = g.key_base() | number
    take = float(rng.lognormal_factor(stream, "cohort", np.array([key], dtype=np.uint64),
                                      xp.take_cv)[0])  # fmt: skip
    cells = p.cells * take
    voxels = X.seed_voxels(xp, cells)
    group = S.Group(label=g.label, treatments=[t for t in g.treatments
                                               if isinstance(t, S.Knockdown)])  # fmt: skip
    params = _group_parameters(line, group, p.parameters)
    per_agent = max(1, round(cells / voxels.size))
    pop = new_population(p.model, voxels.size, stream, cells_per_agent=per_agent,
                         variation_cv=p.cell_variation_cv, parameters=params,
                         ids=X.agent_ids(key, voxels))  # fmt: skip
    pop = pre_culture(pop, line, group, p.parameters)
    tumour = X.new_tumour(pop, xp, voxels, key, stream)
    link = coupling(p.model)
    X.advance(tumour, xp, units.time_h(p.duration), sched, stream, link.uptake,
              threads=threads, drug_input=link.drugs.get("cisplatin"))  # fmt: skip
    return tumour


def run(protocol: XenograftProtocol, seed: int, out: Path | None = None, source: str = "",
        threads: int | None = None):  # fmt: skip
    """Simulate every mouse, weigh and blot its tumour, evaluate the comparisons.

    Parameters
    ----------
    protocol
        A validated xenograft protocol.
    seed
        Run seed; every draw is keyed by it and the protocol id.
    out
        Directory for the figures (tumour photographs, blots, mid-plane snapshots, a GIF
        of one tumour's growth), the per-mouse record and, apart, the wall-clock
        timing (``<id>_timing.json``), or ``None``.
    source
        Where the protocol came from, for messages.
    threads
        Numba threads of the kinetics (results do not depend on it).

    Returns
    -------
    RunResult
        Tidy readouts (one row per mouse and readout, ``time_h`` the sacrifice) and one
        comparison record per comparison.
    """
    from types import SimpleNamespace

    from exotwin.assays import tidy, western
    from exotwin.cells.lines import cell_line_parameters
    from exotwin.protocols.measure import stream_seed
    from exotwin.protocols.run import RunResult, compare
    from exotwin.tissue import xenograft as X

    p = protocol
    stream = stream_seed(seed, p.id)
    base = parameters(p.xenograft)
    hours = units.time_h(p.duration)
    line = cell_line_parameters(p.cell_line, p.model, file=source)
    preps = exosome_preps(p, stream, source)
    rows: list[dict] = []
    tumours: dict[tuple[str, int], X.Tumour] = {}
    timing: dict[tuple[str, int], float] = {}
    for g in p.groups:
        sched, xp = _schedule(p, g, preps, base)
        for number in range(1, p.mice + 1):
            began = time.perf_counter()
            tumour = simulate_mouse(p, g, number, stream, line, xp, sched, threads)
            timing[(g.label, number)] = time.perf_counter() - began
            tumours[(g.label, number)] = tumour
            cells = float(tumour.occupancy().sum())
            values = {"tumour weight (g)": xp.weight_g(cells),
                      "tumour volume (mm^3)": xp.weight_g(cells) / xp.density_g_per_ml * 1e3}
            lysate = SimpleNamespace(population=tumour.pop)
            ratios = western.band_ratios(lysate, list(p.western), stream,
                                         g.key_base() | number)  # fmt: skip
            values.update(western.readouts(list(p.western), ratios))
            rows += [{"assay": "xenograft", "sample": f"{g.label} mouse {number}",
                      "group": g.label, "replicate": number, "time_h": hours, "readout": r,
                      "value": float(values[r]),
                      "unit": X.READOUTS.get(r, "ratio")} for r in p.measured()]  # fmt: skip
    readouts = tidy(rows)
    files: list[Path] = []
    if out is not None:
        from exotwin.tissue.xenograft_figures import write_figures, write_timing

        files = write_figures(p, tumours, readouts, base, Path(out))
        seconds = {f"{g} mouse {m}": s for (g, m), s in timing.items()}
        files.append(write_timing(p, seconds, Path(out)))
    result = RunResult(p, seed, readouts, files=files)
    result.comparisons = [compare(p, c, readouts) for c in p.comparisons]
    return result


__all__ = ["CisplatinIP", "IntratumoralExosomes", "XenograftGroup", "XenograftProtocol",
           "dose_times", "exosome_preps", "run", "simulate_mouse"]  # fmt: skip
