"""The assay registry: how each assay type of a culture protocol measures a well.

A measurement function takes an :class:`AssayContext` (the protocol, the well, which
group, replicate and time, the seed, where files go) and returns tidy rows
(:data:`exotwin.assays.TIDY_COLUMNS`). :data:`MEASURES` maps the ``type`` of a protocol
assay to its function and, optionally, a pydantic model of the assay's ``options``; the
schema validates a protocol against it, so adding an assay is one entry here.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exotwin.assays import (
    angiogenesis,
    cck8,
    endothelial,
    exosomes,
    flow,
    microscopy,
    qpcr,
    western,
)
from exotwin.cells import outputs
from exotwin.culture import confluence_scale
from exotwin.protocols import units

# bounds that keep measurement-noise keys unique (checked by ``run`` before anything runs)
MAX_STEPS = 1000  # phenotype steps per run, reading times included
MAX_WELLS = 1000  # groups x replicates + donors
FLOW_READOUTS = ("early_apoptotic_%", "late_apoptotic_%", "apoptotic_%")  # PE+7AAD-, ++, sum


def stream_seed(seed: int, protocol_id: str) -> int:
    """The key of a protocol's random streams: the run seed with the protocol id mixed in.

    Two protocols with the same layout are independent experiments, so their cells and
    measurement noise must differ under one recorded seed. The CRC-32 of the id goes into
    the upper 32 bits of the 64-bit Philox key, so ids and keys of cells and samples keep
    their full range; the result depends only on the recorded seed and the protocol id.
    """
    return (int(seed) ^ (zlib.crc32(protocol_id.encode()) << 32)) & 0xFFFF_FFFF_FFFF_FFFF


FLOW_THRESHOLDS = {"PE-A": 700.0, "7-AAD-A": 450.0}  # from the unstained populations


@dataclass
class AssayContext:
    """Everything one measurement of one well at one time needs.

    Attributes
    ----------
    protocol, assay
        The protocol and the assay entry being read.
    well
        The culture well (``exotwin.culture.Well``).
    group, group_index, replicate
        Group label, its index in the protocol, replicate number (1-based).
    time_h
        Time of the reading (h).
    seed
        Key of the protocol's random streams (:func:`stream_seed`).
    out
        Output directory for files (FCS, images), or ``None`` to write nothing.
    files
        Files written so far (appended to).
    recorded_seed
        The run's seed as the user gave it (written into output files).
    """

    protocol: Any
    assay: Any
    well: Any
    group: str
    group_index: int
    replicate: int
    time_h: float
    seed: int
    out: Path | None = None
    files: list[Path] = field(default_factory=list)
    recorded_seed: int | None = None

    @property
    def sample_id(self) -> int:
        """Integer key of this sample's measurement noise (unique per well and time)."""
        p = self.protocol
        step = int(round(self.time_h / units.time_h(p.phenotype_step)))
        well = (self.group_index * p.replicates + self.replicate - 1) * MAX_STEPS + step
        return well  # < 2**20: callers multiply by <= 2**24

    def row(self, assay: str, readout: str, value: float, unit: str) -> dict:
        """One tidy row of this sample."""
        return {"assay": assay, "sample": f"{self.group} #{self.replicate}", "group": self.group,
                "replicate": self.replicate, "time_h": self.time_h, "readout": readout,
                "value": float(value), "unit": unit}  # fmt: skip

    def file_name(self, suffix: str) -> str:
        """A file name for this sample: protocol, group, replicate and time."""
        name = f"{self.protocol.id}_{self.group}_r{self.replicate}_{self.time_h:g}h{suffix}"
        return name.replace("+", "_").replace(" ", "_").replace("/", "_")


def _cck8(ctx: AssayContext) -> list[dict]:
    params = cck8.CCK8Parameters.for_line(ctx.protocol.cell_line)  # the wells' line
    od = cck8.od450([ctx.well], ctx.seed, np.array([ctx.sample_id]), params,
                    ctx.assay.parsed_options().incubation_h)[0]  # fmt: skip
    return [ctx.row("cck8", "OD450", od, "AU")]


def _western(ctx: AssayContext) -> list[dict]:
    targets = list(ctx.assay.targets)
    ratios = western.band_ratios(ctx.well, western.bands(targets), ctx.seed, ctx.sample_id)
    return [ctx.row("western", k, v, "ratio")
            for k, v in western.readouts(targets, ratios).items()]  # fmt: skip


def _flow(ctx: AssayContext) -> list[dict]:
    from exotwin.analysis.flow import FcsData, compensate, quadrants, read_fcs

    data, _ = flow.events(ctx.well.population.counts, ctx.assay.events, ctx.seed, ctx.sample_id)
    if ctx.out is not None:
        seed = ctx.seed if ctx.recorded_seed is None else ctx.recorded_seed
        meta = {"exotwin_seed": str(seed), "exotwin_protocol": ctx.protocol.id}
        path = flow.write_fcs(Path(ctx.out) / "fcs" / ctx.file_name(".fcs"), data, meta)
        ctx.files.append(path)
        fcs = compensate(read_fcs(path))
    else:
        fcs = compensate(FcsData(f"{ctx.protocol.id}.fcs", data.astype(float),
                                 list(flow.CHANNELS), {"spill": flow.spill_keyword()}))  # fmt: skip
    q = quadrants(fcs, "PE-A", "7-AAD-A", FLOW_THRESHOLDS["PE-A"],
                  FLOW_THRESHOLDS["7-AAD-A"]).set_index("quadrant")["percent"]  # fmt: skip
    values = (q["x+y-"], q["x+y+"], q["x+y-"] + q["x+y+"])
    return [ctx.row("flow", name, v, "%") for name, v in zip(FLOW_READOUTS, values, strict=True)]


def _exosome_western(ctx: AssayContext) -> list[dict]:
    bands = exosomes.exosome_western(ctx.well, ctx.assay.parsed_options(), ctx.seed,
                                     ctx.sample_id)  # fmt: skip
    return [ctx.row("exosome_western", k, v, "ratio") for k, v in bands.items()]


def _nta(ctx: AssayContext) -> list[dict]:
    values = exosomes.nta(ctx.well, ctx.assay.parsed_options(), ctx.seed, ctx.sample_id,
                          ctx.well.vesicle_params)  # fmt: skip
    return [ctx.row("nta", k, v, "particles/mL" if k.endswith("/mL") else "nm")
            for k, v in values.items()]  # fmt: skip


def _pkh(ctx: AssayContext) -> list[dict]:
    values = exosomes.pkh67_uptake(ctx.well, ctx.assay.parsed_options(), ctx.seed, ctx.sample_id)
    return [ctx.row(ctx.assay.type, k, v, "%" if k.endswith("(%)") else "vesicles/cell")
            for k, v in values.items()]  # fmt: skip


def _qpcr(ctx: AssayContext) -> list[dict]:
    opts = ctx.assay.parsed_options()
    cts = qpcr.measure(ctx.well, opts, ctx.seed, ctx.sample_id)
    mean = {g: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            for g, v in cts.items()}  # fmt: skip
    rows = [ctx.row("qpcr", f"Ct:{g}", m, "cycles") for g, m in mean.items()]
    for g in opts.genes:
        dct = mean[g] - mean[opts.reference]
        rows += [ctx.row("qpcr", f"dCt:{g}", dct, "cycles"),
                 ctx.row("qpcr", f"{g} mRNA (2^-dCt)", 2.0**-dct, "ratio")]  # fmt: skip
    return rows


def _fields(ctx: AssayContext, assay: str, classes: np.ndarray, readout: str) -> list[dict]:
    """Count the first class among all cells of ``fields`` fields of the well."""
    n = microscopy.field_counts(classes, ctx.well.plate.area_cm2,
                                ctx.assay.parsed_options().fields, ctx.seed, ctx.sample_id,
                                microscopy.MicroscopyParameters()).sum(axis=0)  # fmt: skip
    total = int(n.sum())
    percent = 100.0 * n[0] / total if total else float("nan")
    return [ctx.row(assay, readout, percent, "%"), ctx.row(assay, "cells_counted", total, "cells")]


def _nuclear_stain(ctx: AssayContext) -> list[dict]:
    classes = microscopy.pyknotic_classes(ctx.well.population.counts)
    return _fields(ctx, "nuclear_stain", classes, "pyknotic_%")


def _brightfield(ctx: AssayContext) -> list[dict]:
    classes = microscopy.pyroptotic_classes(ctx.well.population.counts)
    return _fields(ctx, "brightfield", classes, "pyroptotic_%")


def _edu(ctx: AssayContext) -> list[dict]:
    pop = ctx.well.population
    rate = outputs(pop, [pop.fates.division])[pop.fates.division]
    classes = microscopy.edu_classes(pop.counts, rate, confluence_scale(ctx.well),
                                     ctx.assay.parsed_options().pulse_h,
                                     microscopy.EduParameters())  # fmt: skip
    return _fields(ctx, "edu", classes, "EdU+ (%)")


def _reporter(ctx: AssayContext) -> list[dict]:
    reporter = ctx.assay.parsed_options().reporter
    group = ctx.protocol.groups[ctx.group_index]
    fraction = max((t.transfected_fraction for t in group.treatments
                    if getattr(t, "reporter", None) == reporter), default=0.0)  # fmt: skip
    pop = ctx.well.population
    carrier = microscopy.carriers(pop.ids, fraction, ctx.seed)
    classes = microscopy.reporter_classes(pop.counts, carrier, microscopy.MicroscopyParameters())
    return _fields(ctx, "fluorescence_reporter", classes, "reporter_positive_%")


def _western_names(assay) -> list[str]:
    return [t if t in western.PAIRS else f"{t}/GAPDH" for t in assay.targets]


def _qpcr_names(assay) -> list[str]:
    opts = assay.parsed_options()
    relative = [name for g in opts.genes for name in (f"dCt:{g}", f"{g} mRNA (2^-dCt)")]
    return [f"Ct:{g}" for g in [*opts.genes, opts.reference]] + relative


def _fixed(*names: str) -> Callable[[Any], list[str]]:
    return lambda assay: list(names)


@dataclass(frozen=True)
class Measure:
    """A registered assay: its measurement function and its options model (or None).

    ``readouts`` describes the readouts for people; ``names``, where the assay's readout
    names follow from its declaration alone, gives them for an assay (the schema then
    checks a protocol's comparisons before anything runs; tests check each against the
    rows the function writes).
    """

    function: Callable[[AssayContext], list[dict]]
    options: type | None = None
    readouts: str = ""
    names: Callable[[Any], list[str]] | None = None


MEASURES: dict[str, Measure] = {
    "cck8": Measure(_cck8, cck8.CCK8Options, "OD450", _fixed("OD450")),
    "western": Measure(_western, readouts="<target>/GAPDH", names=_western_names),
    "flow_annexin_7aad": Measure(_flow, readouts="early_apoptotic_%, late_apoptotic_%, "
                                 "apoptotic_%", names=_fixed(*FLOW_READOUTS)),  # fmt: skip
    "exosome_western": Measure(_exosome_western, exosomes.ExosomeWesternOptions,
                               "<cargo>/Flotillin-1, <marker> EV/cell"),  # fmt: skip
    "nta": Measure(_nta, exosomes.NTAOptions, "NTA mode/mean/D10/D50/D90 (nm), particles/mL",
                   _fixed(*(f"NTA {s} (nm)" for s in ("mode", "mean", "D10", "D50", "D90")),
                          "NTA particles/mL")),  # fmt: skip
    "pkh67_uptake": Measure(_pkh, exosomes.UptakeOptions,
                            "PKH67+ cells (%), PKH67 vesicles per cell"),  # fmt: skip
    "pkh26_uptake": Measure(_pkh, exosomes.PKH26UptakeOptions,
                            "PKH26+ cells (%), PKH26 vesicles per cell"),  # fmt: skip
    "qpcr": Measure(_qpcr, qpcr.QpcrOptions, "Ct:<gene>, dCt:<gene>, <gene> mRNA (2^-dCt)",
                    _qpcr_names),  # fmt: skip
    "nuclear_stain": Measure(_nuclear_stain, microscopy.FieldOptions, "pyknotic_%, cells_counted",
                             _fixed("pyknotic_%", "cells_counted")),  # fmt: skip
    "edu": Measure(_edu, microscopy.EduOptions, "EdU+ (%), cells_counted",
                   _fixed("EdU+ (%)", "cells_counted")),  # fmt: skip
    "brightfield": Measure(_brightfield, microscopy.FieldOptions, "pyroptotic_%, cells_counted",
                           _fixed("pyroptotic_%", "cells_counted")),  # fmt: skip
    "fluorescence_reporter": Measure(_reporter, microscopy.ReporterOptions,
                                     "reporter_positive_%, cells_counted",
                                     _fixed("reporter_positive_%", "cells_counted")),
    "scratch_wound": Measure(endothelial.measure, endothelial.ScratchOptions,
                             "wound closure (%), wound closure <t> h (%), wound area 0 h (um2)"),
    "transwell_migration": Measure(endothelial.measure, endothelial.TranswellOptions,
                                   "migrated cells/field, migrated cells (%)"),
    "tube_formation": Measure(endothelial.measure, angiogenesis.TubeOptions,
                              "total tube length (um), junctions, segments, branches, meshes"),
    "fitc_dextran": Measure(endothelial.measure, endothelial.DextranOptions,
                            "FITC-dextran (RFU), permeability coefficient (cm/s)"),
}
