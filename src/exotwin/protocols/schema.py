"""The protocol schema: what a biologist writes in YAML to run an experiment in silico.

A protocol names its cells, plate and seeding, its groups (each a list of treatments),
replicates, the assays and when they are read, and the comparisons that test published
claims. Quantities carry units as text (``"20 ug/mL"``, ``"48 h"``); they are checked
here. The ``expected`` direction of a comparison is read only by the claims layer, never
by the simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from exotwin.errors import ExotwinError
from exotwin.protocols import units

Quantity = str | float | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class _Vector(_Strict):
    """A transfected vector: an optional fluorescent reporter and the carrying fraction.

    ``transfected_fraction`` is read by reporter assays; the expression change of the
    vector acts on every cell as the population mean.
    """

    reporter: str | None = None
    transfected_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0


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
    """Exosomes added to the medium at ``start`` (dose in particles/mL or ug protein/mL)."""

    type: Literal["exosomes"]
    source: str
    dose: Quantity
    start: Quantity = "0 h"

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
    Drug | Tunicamycin | Knockdown | Overexpression | Exosomes | UptakeInhibitor | MediumChange,
    Field(discriminator="type"),
]


class Group(_Strict):
    """One experimental group: a label and its treatments."""

    label: str
    treatments: list[Treatment] = []


class Assay(_Strict):
    """An assay read at the given times.

    ``type`` names an entry of :data:`exotwin.protocols.measure.MEASURES`; western blots
    take antibody ``targets``, flow ``events``; other assays take their own ``options``,
    validated by the assay's options model.
    """

    type: str
    times: list[Quantity]
    events: Annotated[int, Field(gt=0)] = 10_000
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
        from exotwin.assays.western import TARGETS

        unknown = [t for t in v if t not in TARGETS]
        if unknown:
            raise ValueError(f"unknown western target {unknown[0]!r}; known: {', '.join(TARGETS)}")
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
    """

    claim: str
    readout: str
    time: Quantity
    groups: Annotated[list[str], Field(min_length=2)]
    expected: Literal["greater", "less"]
    test: Literal["t-test", "anova-tukey", "visible"] = "t-test"

    _t = field_validator("time")(lambda cls, v: _time(v))


class Protocol(_Strict):
    """A whole in-silico experiment (see docs/protocols.md)."""

    kind: Literal["culture"] = "culture"
    id: str
    title: str
    paper: str | None = None
    figure: str | None = None
    claims: list[str] = []
    model: str = "tumour_cell"
    cell_line: str = "CNE2"
    plate: Literal["96-well", "24-well", "12-well", "6-well", "10-cm dish"] = "96-well"
    cells_per_well: Annotated[float, Field(gt=0)]
    agents_per_well: Annotated[int, Field(gt=0)] = 200
    cell_variation_cv: Annotated[float, Field(ge=0.0, lt=2.0)] = 0.2
    replicates: Annotated[int, Field(ge=1)] = 3
    duration: Quantity
    phenotype_step: Quantity = "1 h"
    groups: Annotated[list[Group], Field(min_length=1)]
    assays: list[Assay] = []
    comparisons: list[Comparison] = []
    assumptions: dict[str, str] = {}

    _t = field_validator("duration", "phenotype_step")(lambda cls, v: _time(v))

    @field_validator("cell_line")
    @classmethod
    def _cell_line(cls, v: str) -> str:
        from exotwin.cells.lines import cell_lines

        if v not in cell_lines():
            raise ValueError(f"unknown cell line {v!r}; known: {', '.join(cell_lines())}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        labels = [g.label for g in self.groups]
        if len(set(labels)) != len(labels):
            raise ValueError("groups: labels must be unique")
        for i, c in enumerate(self.comparisons):
            for g in c.groups:
                if g not in labels:
                    raise ValueError(f"comparisons.{i}.groups: no group named {g!r}")
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
                      "uptake_inhibitor", "medium_change", "function-after"):  # fmt: skip
            continue  # discriminator tags pydantic inserts into the location
        else:
            parts.append(str(item))
    return ".".join(parts)


def load(path: str | Path) -> Any:
    """Read and validate a protocol file; any problem is one ExotwinError line.

    The message names the file, the field (dotted path, e.g. ``groups.1.treatments.0.dose``)
    and the reason.
    """
    path = Path(path)
    if not path.is_file():
        raise ExotwinError("file not found", file=str(path))
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ExotwinError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                           field=where) from None  # fmt: skip
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
        err = exc.errors()[0]
        field = _field_path(err["loc"]) or None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            tag = err.get("input", {}).get("type") if isinstance(err.get("input"), dict) else None
            msg = f"unknown treatment type {tag!r}" if tag else msg
        if err["type"] == "missing":
            msg = "required field is missing"
        raise ExotwinError(msg, file=str(path), field=field) from None
