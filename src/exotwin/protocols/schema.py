"""The protocol schema: what a biologist writes in YAML to run an experiment in silico.

A protocol names its cells, plate and seeding, its groups (each a list of treatments),
replicates, the assays and when they are read, and the comparisons that test published
claims. Quantities carry units as text (``"20 ug/mL"``, ``"48 h"``); they are checked
here. The ``expected`` direction of a comparison is read only by the claims layer, never
by the simulation.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from exotwin.errors import ExotwinError
from exotwin.protocols import units
from exotwin.userfiles import read_yaml, validation_reason

Quantity = str | float | int


def _number_field(annotation: Any) -> bool:
    """Whether a field takes numbers (int or float, possibly in a union) but not booleans."""
    from typing import get_args

    found: set[type] = set()

    def walk(a: Any) -> None:
        if a in (bool, int, float):
            found.add(a)
        for arg in get_args(a):
            walk(arg)

    walk(annotation)
    return bool(found & {int, float}) and bool not in found


# Model parameter values a protocol sets (``parameters:``). Every parameter of the built-in
# models is a rate, amount, concentration, copy number, Hill coefficient or fraction, so a
# negative value is a mistake (tested against the models' own values).
ModelParameters = dict[str, Annotated[FiniteFloat, Field(ge=0)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """``efficiency: true`` is a mistake, not 1 (pydantic would take a YAML boolean)."""
        if isinstance(data, dict):
            for name, f in cls.model_fields.items():
                value = data.get(f.alias or name)
                if isinstance(value, bool) and _number_field(f.annotation):
                    raise ValueError(f"{name}: expected a number, got {str(value).lower()}")
        return data


def on_step(hours: float, step: float) -> bool:
    """Whether ``hours`` is a whole number of ``step`` hours (never for NaN or infinity)."""
    n = hours / step
    return math.isfinite(n) and abs(round(n) * step - hours) <= 1e-9


def check_known(values, known, what: str) -> None:
    """Raise ``ValueError`` naming the first of ``values`` not in ``known``."""
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r}; known: {', '.join(known)}")


def _time(v: Quantity) -> Quantity:
    try:
        h = units.time_h(v)
    except units.UnitError as exc:
        raise ValueError(str(exc)) from None
    if h < 0:
        raise ValueError(f"{v!r}: must not be negative")
    return v


class _MediumExposure(_Strict):
    """A substance in the medium from ``start`` for ``duration`` (default: to the end)."""

    concentration: Quantity
    start: Quantity = "0 h"
    duration: Quantity | None = None

    _t = field_validator("start", "duration")(lambda cls, v: v if v is None else _time(v))

    def drug(self) -> str:
        """Name of the substance (keys molar masses and the medium <-> model map)."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _check_concentration(self) -> _MediumExposure:
        try:
            c = units.concentration_um(self.concentration, self.drug())
        except units.UnitError as exc:
            raise ValueError(f"concentration: {exc}") from None
        if c < 0:
            raise ValueError(f"concentration: {self.concentration!r} must not be negative")
        return self

    def concentration_um(self) -> float:
        """Concentration in uM."""
        return units.concentration_um(self.concentration, self.drug())


class Drug(_MediumExposure):
    """A named drug in the medium (cisplatin, ...)."""

    type: Literal["drug"]
    name: str

    def drug(self) -> str:
        """The drug's name."""
        return self.name


class Tunicamycin(_MediumExposure):
    """The ER-stress inducer tunicamycin in the medium."""

    type: Literal["tunicamycin"]

    def drug(self) -> str:
        """Always ``tunicamycin``."""
        return "tunicamycin"


TRANSFECTION_LEAD = "48 h"


class _Vector(_Strict):
    """A transfected vector: reporter, carrying fraction and time since transfection.

    ``transfected_fraction`` is read by reporter assays; the expression change of the
    vector acts on every cell as the population mean. ``since`` is the time from
    transfection to the start of the experiment (t = 0), during which the cells are
    cultured with the vector and no treatment; ``stable`` is a selected stable line,
    at the steady state of its vector. Default 48 h, assumed: after lipofection of a
    shRNA or expression plasmid, knockdown is checked and treatments start 24-72 h later
    (Xia 2021 transfected shRNA plasmids with Lipofectamine 2000 and states no delay).
    """

    reporter: str | None = None
    transfected_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    since: Quantity = TRANSFECTION_LEAD

    @field_validator("since")
    @classmethod
    def _since(cls, v: Quantity) -> Quantity:
        return v if v == "stable" else _time(v)

    def lead_h(self) -> float:
        """Hours of culture with the vector before t = 0 (``inf`` for a stable line)."""
        return float("inf") if self.since == "stable" else units.time_h(self.since)


class Knockdown(_Vector):
    """shRNA knockdown: synthesis of ``gene`` scaled by (1 - efficiency)."""

    type: Literal["knockdown"]
    gene: str
    efficiency: Annotated[float, Field(ge=0.0, le=1.0)]

    @model_validator(mode="after")
    def _carried(self) -> Knockdown:
        if self.efficiency > self.transfected_fraction:
            raise ValueError("efficiency: a population knockdown cannot exceed the "
                             f"transfected_fraction ({self.transfected_fraction:g})")  # fmt: skip
        return self


class Overexpression(_Vector):
    """Overexpression vector: synthesis of ``gene`` scaled by ``fold``."""

    type: Literal["overexpression"]
    gene: str
    fold: Annotated[float, Field(gt=0.0)]


class Exosomes(_Strict):
    """Exosomes isolated from a donor culture, added to the medium at ``start``.

    ``source`` names an entry of the protocol's ``donors``; ``dose`` is in particles/mL
    or ug protein/mL of the recipient medium; ``label: PKH67`` (or ``PKH26``) stains the
    vesicles' membranes with that dye so that an uptake assay can see them.
    """

    type: Literal["exosomes"]
    source: str
    dose: Quantity
    start: Quantity = "0 h"
    label: Literal["none", "PKH67", "PKH26"] = "none"

    def particles_per_ml(self, particles_per_ug: float) -> float:
        """The dose in particles per mL of medium."""
        value, unit = units.split(self.dose)
        return value if unit in units.PARTICLES_PER_ML else value * particles_per_ug

    _t = field_validator("start")(lambda cls, v: _time(v))

    @field_validator("dose")
    @classmethod
    def _dose(cls, v: Quantity) -> Quantity:
        try:
            value, unit = units.split(v)
        except units.UnitError as exc:
            raise ValueError(str(exc)) from None
        if unit not in units.PARTICLES_PER_ML and unit not in units.PROTEIN_UG_PER_ML:
            raise ValueError(f"{v!r}: expected particles/mL or ug/mL (protein)")
        if value < 0:
            raise ValueError(f"{v!r}: must not be negative")
        return v


class ConditionedMedium(_Strict):
    """A donor's conditioned medium transferred to the recipient well at ``start``.

    ``part`` is the whole medium or the exosome-depleted supernatant of its
    ultracentrifugation; ``share`` is the fraction of the recipient's medium it replaces.
    Drugs of the donor medium come along with it.
    """

    type: Literal["conditioned_medium"]
    source: str
    part: Literal["whole", "exosome_depleted"] = "whole"
    share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    start: Quantity = "0 h"

    _t = field_validator("start")(lambda cls, v: _time(v))


class UptakeInhibitor(_Strict):
    """Blocks exosome uptake by the given efficiency (0-1)."""

    type: Literal["uptake_inhibitor"]
    efficiency: Annotated[float, Field(ge=0.0, le=1.0)]


class MediumChange(_Strict):
    """Replace the medium (drugs and vesicles removed) at ``at``."""

    type: Literal["medium_change"]
    at: Quantity

    _t = field_validator("at")(lambda cls, v: _time(v))


Treatment = Annotated[
    Drug | Tunicamycin | Knockdown | Overexpression | Exosomes | ConditionedMedium
    | UptakeInhibitor | MediumChange,
    Field(discriminator="type"),
]


class Group(_Strict):
    """One experimental group: a label and its treatments."""

    label: str
    treatments: list[Treatment] = []


def _known_line(v: str) -> str:
    from exotwin.cells.lines import cell_lines

    if v not in cell_lines():
        raise ValueError(f"unknown cell line {v!r}; known: {', '.join(cell_lines())}")
    return v


def line_model(line: str) -> str | None:
    """The intracellular model a registered cell line belongs to (``None`` if unstated)."""
    from exotwin.cells.lines import cell_lines

    return cell_lines()[line].get("model")


class Isolation(_Strict):
    """Exosome isolation from conditioned medium by differential ultracentrifugation.

    ``yield`` is the fraction of the medium's vesicles recovered in the 100,000 g pellet;
    the rest stays in the exosome-depleted supernatant. assumed: 0.3 by default, a
    minority recovery as is usual for differential ultracentrifugation (vesicles lost in
    pelleting and washing; compare Lane et al., Sci Rep 2015, doi:10.1038/srep07639).
    """

    method: Literal["ultracentrifugation"] = "ultracentrifugation"
    yield_: Annotated[float, Field(gt=0.0, lt=1.0, alias="yield")] = 0.3


class Donor(_Strict):
    """A donor culture whose conditioned medium (or its exosomes) treats recipient wells.

    It is cultured like a group (``treatments``) for ``duration`` with ``cells`` cells on
    ``plate``, then its medium is collected and ultracentrifuged (``isolation``).
    ``cell_line`` (default: the protocol's) selects the donor's line and thereby its
    intracellular model, e.g. NPC donor cells for endothelial recipients.
    """

    label: str
    cell_line: str | None = None
    cells: Annotated[float, Field(gt=0)]
    plate: Literal["96-well", "24-well", "12-well", "6-well", "10-cm dish"] = "10-cm dish"
    agents: Annotated[int, Field(gt=0)] = 50
    duration: Quantity
    treatments: list[Treatment] = []
    isolation: Isolation = Isolation()

    _t = field_validator("duration")(lambda cls, v: _time(v))

    @field_validator("cell_line")
    @classmethod
    def _cell_line(cls, v: str | None) -> str | None:
        return v if v is None else _known_line(v)


class Assay(_Strict):
    """An assay read at the given times.

    ``type`` names an entry of :data:`exotwin.protocols.measure.MEASURES`; western blots
    take antibody ``targets``, flow ``events``; other assays take their own ``options``,
    validated by the assay's options model.
    """

    type: str
    times: list[Quantity]
    events: Annotated[int, Field(gt=0, le=2**24)] = 10_000
    targets: list[str] = []
    options: dict[str, Any] = {}

    _t = field_validator("times")(lambda cls, v: [_time(x) for x in v])

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        from exotwin.protocols.measure import MEASURES

        if v not in MEASURES:
            raise ValueError(f"unknown assay type {v!r}; known: {', '.join(MEASURES)}")
        return v

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        from exotwin.assays.western import PAIRS, TARGETS

        check_known(v, [*TARGETS, *PAIRS], "western target")
        return v

    @model_validator(mode="after")
    def _options(self) -> Assay:
        from exotwin.protocols.measure import MEASURES

        model = MEASURES[self.type].options
        if model is None and self.options:
            raise ValueError(f"options: assay {self.type!r} takes no options")
        if model is not None:
            try:
                model.model_validate(self.options)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                raise ValueError(f"options.{where}: {err['msg']}") from None
        return self

    def readout_names(self) -> list[str] | None:
        """The readouts this assay writes, or ``None`` if only a run can tell."""
        from exotwin.protocols.measure import MEASURES

        names = MEASURES[self.type].names
        return None if names is None else names(self)

    def parsed_options(self) -> Any:
        """The options as the assay's validated options model (``None`` if it has none)."""
        from exotwin.protocols.measure import MEASURES

        model = MEASURES[self.type].options
        return None if model is None else model.model_validate(self.options)


class Comparison(_Strict):
    """A statistical comparison testing one published claim.

    ``groups`` are compared first against second (``expected``: the first is
    ``greater`` or ``less``); with more than two groups, ANOVA with Tukey HSD is used
    and the named pair is read from the post-hoc table. ``test: visible`` judges a
    qualitative claim (a representative blot or image in the paper): the group means must
    differ in the expected direction by at least :data:`exotwin.protocols.run.VISIBLE_FOLD`.
    One group with a ``reference`` value compares the group against that constant (a
    one-sample test, or the fold over it); ``expected: within`` with ``test: range``
    checks that the group mean lies in ``range``. ``than_groups`` (with ``visible``) makes
    an interaction: the first/second shift must also exceed the shift between the two
    baseline groups (e.g. knockdown vs control under cisplatin, more than without it).
    """

    claim: str
    readout: str
    time: Quantity
    groups: Annotated[list[str], Field(min_length=1)]
    expected: Literal["greater", "less", "within"]
    test: Literal["t-test", "anova-tukey", "visible", "range"] = "t-test"
    reference: float | None = None
    range: tuple[float, float] | None = None
    than_groups: tuple[str, str] | None = None

    _t = field_validator("time")(lambda cls, v: _time(v))

    @model_validator(mode="after")
    def _shape(self) -> Comparison:
        if (self.expected == "within") != (self.test == "range") or (
            self.test == "range") != (self.range is not None):  # fmt: skip
            raise ValueError("expected: within goes with test: range and a range [low, high]")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("range: the low end must not exceed the high end")
        if len(self.groups) < 2 and self.reference is None and self.range is None:
            raise ValueError("groups: two groups, or one group with a reference value")
        return self


def check_line_and_groups(model: str, cell_line: str, groups: list) -> list[str]:
    """The model agrees with the cell line's and group labels are unique; returns them."""
    own = line_model(cell_line)
    if own is not None and own != model:
        raise ValueError(f"model: {model!r} disagrees with the model {own!r} of "
                         f"cell line {cell_line!r}")  # fmt: skip
    labels = [g.label for g in groups]
    if len(set(labels)) != len(labels):
        raise ValueError("groups: labels must be unique")
    return labels


def check_known_genes(groups: list, known, where: str = "groups") -> None:
    """Every knockdown or overexpression of ``groups`` names a gene of ``known``."""
    for gi, g in enumerate(groups):
        for ti, t in enumerate(g.treatments):
            if isinstance(t, Knockdown | Overexpression) and t.gene not in known:
                raise ValueError(f"{where}.{gi}.treatments.{ti}.gene: no model input for "
                                 f"gene {t.gene!r}; known: {', '.join(known)}")  # fmt: skip


def not_measured(readout: str, measured) -> str:
    """The reason a comparison of ``readout`` fails: not among ``measured`` (names, in order).

    Names the closest measured readout when one is close.
    """
    measured = list(measured)
    hint = difflib.get_close_matches(readout, measured, n=1)
    return (f"not measured: {readout!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f"; measured: {', '.join(measured) or 'nothing'}")  # fmt: skip


def check_readouts(comparisons: list, assays: list) -> None:
    """Each comparison's readout is written by an assay read at the comparison's time.

    Checked only when every assay's readout names follow from its declaration
    (:meth:`Assay.readout_names`); otherwise the run checks it, after simulating.
    """
    declared = [(a, a.readout_names()) for a in assays]
    if any(names is None for _, names in declared):
        return
    for i, c in enumerate(comparisons):
        reading = [a for a, names in declared if c.readout in names]
        if not reading:
            measured = dict.fromkeys(n for _, names in declared for n in names)
            raise ValueError(f"comparisons.{i}.readout: {not_measured(c.readout, measured)}")
        hours = sorted({units.time_h(t) for a in reading for t in a.times})
        t = units.time_h(c.time)
        if not np.isclose(hours, t).any():  # as the run matches times
            at = ", ".join(f"{h:g}" for h in hours)
            raise ValueError(f"comparisons.{i}.time: {c.readout!r} is measured at {at} h, "
                             f"not at {t:g} h")  # fmt: skip


def check_end_point(comparisons: list, labels: list[str], measured: list[str],
                    duration: Quantity, reading: str) -> None:  # fmt: skip
    """Comparisons of an end-point experiment name known groups, measured readouts, its end.

    ``reading`` says when samples are read, for the message (e.g. "eggs are read at
    harvest"); ``duration`` is that end.
    """
    hours = units.time_h(duration)
    for i, c in enumerate(comparisons):
        for g in [*c.groups, *(c.than_groups or ())]:
            if g not in labels:
                raise ValueError(f"comparisons.{i}.groups: no group named {g!r}")
        if c.readout not in measured:
            raise ValueError(f"comparisons.{i}.readout: {not_measured(c.readout, measured)}")
        if abs(units.time_h(c.time) - hours) > 1e-9:
            raise ValueError(f"comparisons.{i}.time: {reading} ({duration})")


class ProtocolHeader(_Strict):
    """What every protocol kind names: id, title, the paper's panel and claims, its model."""

    id: str
    title: str
    paper: str | None = None
    figure: str | None = None
    claims: list[str] = []
    model: str = "tumour_cell"


class Protocol(ProtocolHeader):
    """A whole in-silico experiment (see docs/protocols.md).

    ``model`` defaults to the model of ``cell_line``; a ``model`` that disagrees with the
    line's is an error.
    """

    kind: Literal["culture"] = "culture"
    model: str = ""
    cell_line: str = "CNE2"
    plate: Literal["96-well", "24-well", "12-well", "6-well", "10-cm dish"] = "96-well"
    cells_per_well: Annotated[float, Field(gt=0)]
    agents_per_well: Annotated[int, Field(gt=0, le=1_000_000)] = 200
    cell_variation_cv: Annotated[float, Field(ge=0.0, lt=2.0)] = 0.2
    replicates: Annotated[int, Field(ge=1)] = 3
    duration: Quantity
    phenotype_step: Quantity = "1 h"
    groups: Annotated[list[Group], Field(min_length=1)]
    donors: list[Donor] = []
    assays: list[Assay] = []
    comparisons: list[Comparison] = []
    assumptions: dict[str, str] = {}
    parameters: ModelParameters = {}  # model parameter values for every well (and donor)

    _t = field_validator("duration", "phenotype_step")(lambda cls, v: _time(v))

    @field_validator("phenotype_step")
    @classmethod
    def _positive_step(cls, v: Quantity) -> Quantity:
        if units.time_h(v) <= 0:
            raise ValueError(f"{v!r}: must be positive")
        return v

    _line = field_validator("cell_line")(lambda cls, v: _known_line(v))

    @model_validator(mode="before")
    @classmethod
    def _default_model(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("model"):
            from exotwin.cells.lines import cell_lines

            line = data.get("cell_line", "CNE2")
            model = cell_lines().get(line, {}).get("model") if isinstance(line, str) else None
            data = {**data, "model": model or "tumour_cell"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        from exotwin.protocols.run import GENE_INPUTS

        labels = check_line_and_groups(self.model, self.cell_line, self.groups)
        if self.agents_per_well > self.cells_per_well:
            raise ValueError(f"agents_per_well: {self.agents_per_well} cohorts cannot share "
                             f"{self.cells_per_well:g} cells; give at most cells_per_well")
        check_known_genes(self.groups, GENE_INPUTS)
        check_known_genes(self.donors, GENE_INPUTS, "donors")
        for i, c in enumerate(self.comparisons):
            for g in [*c.groups, *(c.than_groups or ())]:
                if g not in labels:
                    raise ValueError(f"comparisons.{i}.groups: no group named {g!r}")
        check_readouts(self.comparisons, self.assays)
        donors = [d.label for d in self.donors]
        if len(set(donors)) != len(donors):
            raise ValueError("donors: labels must be unique")
        for gi, g in enumerate(self.groups):
            for ti, t in enumerate(g.treatments):
                if isinstance(t, Exosomes | ConditionedMedium) and t.source not in donors:
                    known = ", ".join(donors) or "none declared"
                    raise ValueError(f"groups.{gi}.treatments.{ti}.source: no donor named "
                                     f"{t.source!r} (donors: {known})")  # fmt: skip
        return self

    def describe(self, seed: int) -> str:
        """One sentence on the design, for the report."""
        return (f"Protocol {self.id}; {self.replicates} wells per group, "
                f"{self.cells_per_well:g} cells per well ({self.agents_per_well} simulated "
                f"cohorts), seed {seed}.")  # fmt: skip


def _field_path(loc: tuple) -> str:
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(str(item))
        elif item in ("drug", "tunicamycin", "knockdown", "overexpression", "exosomes",
                      "conditioned_medium", "uptake_inhibitor", "medium_change",
                      "function-after", "cisplatin_ip", "intratumoral_exosomes"):  # fmt: skip
            continue  # discriminator tags pydantic inserts into the location
        else:
            parts.append(str(item))
    return ".".join(parts)


def load(path: str | Path) -> Any:
    """Read and validate a protocol file; any problem is one ExotwinError line.

    The message names the file, the field (dotted path, e.g. ``groups.1.treatments.0.dose``)
    and the reason.
    """
    data = read_yaml(path)
    path = Path(path)
    if not isinstance(data, dict):
        raise ExotwinError("a protocol must be a YAML mapping", file=str(path))
    from exotwin.protocols import protocol_model

    try:
        model = protocol_model(data.get("kind", "culture"))
    except KeyError as exc:
        raise ExotwinError(str(exc.args[0]), file=str(path), field="kind") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        field = _field_path(errors[0]["loc"]) or None
        raise ExotwinError(validation_reason(model, errors), file=str(path), field=field) from None
