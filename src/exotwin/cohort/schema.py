"""The cohort protocol schema: groups of people, tissue and serum assays, comparisons.

A cohort protocol (``kind: cohort``) names groups of people (tumour patients or people
with normal epithelium), the assays read from each person and the comparisons that test
published claims. It is validated like a culture protocol, so a malformed file gives
the same one-line ``file: field: reason`` error.
"""

from __future__ import annotations

import zlib
from dataclasses import fields
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from exotwin.protocols.schema import ProtocolHeader, Quantity, _Strict, _time, check_known

MAX_PERSONS = 2**14  # persons per group: the person key holds the index in 14 bits
TISSUE_TARGETS = ("GRP78", "ERp44")
GENES = ("HSPA5", "ERP44")
EXOSOME_TARGETS = ("ERp44",)


class CohortGroup(_Strict):
    """People of one kind: ``tumour`` patients or donors of ``normal`` epithelium."""

    label: str
    tissue: Literal["tumour", "normal"]
    persons: Annotated[int, Field(ge=1, le=MAX_PERSONS)]

    def key_base(self) -> int:
        """Person-key base of this group: depends only on the label (not on its position)."""
        return (zlib.crc32(self.label.encode()) & 0xFFFFF) << 14


class CohortAssay(_Strict):
    """A readout taken from every person.

    ``tissue_western`` (``targets``: GRP78, ERp44; band / GAPDH), ``rnaseq``
    (``targets``: genes HSPA5, ERP44; log2(TPM+1)) or ``serum_exosome_western``
    (``targets``: ERp44; band / Flotillin-1).
    """

    type: Literal["tissue_western", "rnaseq", "serum_exosome_western"]
    targets: Annotated[list[str], Field(min_length=1)]

    @model_validator(mode="after")
    def _targets(self) -> CohortAssay:
        known = {"tissue_western": TISSUE_TARGETS, "rnaseq": GENES,
                 "serum_exosome_western": EXOSOME_TARGETS}[self.type]  # fmt: skip
        try:
            check_known(self.targets, known, f"{self.type} target")
        except ValueError as exc:
            raise ValueError(f"targets: {exc}") from None
        return self

    def readouts(self) -> list[str]:
        """Names of the readouts this assay gives."""
        if self.type == "tissue_western":
            return [f"{t}/GAPDH" for t in self.targets]
        if self.type == "rnaseq":
            return [f"{g} log2(TPM+1)" for g in self.targets]
        return [f"{t}/Flotillin-1" for t in self.targets]


class CohortComparison(_Strict):
    """A comparison testing one claim (see docs/cohort.md for each ``test``).

    ``t-test``, ``anova-tukey`` and ``visible`` are those of culture protocols; with
    ``split_by`` the persons of ``groups`` are pooled and split at the median of that
    readout. ``k-of-n`` counts persons of the first group at least VISIBLE_FOLD above (or
    below) the second group's mean. ``gepia2`` applies GEPIA2's |log2FC| and P cut-offs.
    ``pearson`` correlates ``readout`` with ``versus`` across the persons of one group.
    """

    claim: str
    readout: str
    groups: Annotated[list[str], Field(min_length=1)]
    expected: Literal["greater", "less"]
    test: Literal["t-test", "anova-tukey", "visible", "k-of-n", "gepia2", "pearson"] = "t-test"
    time: Quantity = "0 h"
    k: Annotated[int, Field(ge=1)] | None = None
    versus: str | None = None
    split_by: str | None = None
    log2fc: Annotated[float, Field(ge=0.0)] = 1.0
    p_cutoff: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01

    _t = field_validator("time")(lambda cls, v: _time(v))

    @model_validator(mode="after")
    def _fields_of_test(self) -> CohortComparison:
        if (self.k is None) == (self.test == "k-of-n"):
            raise ValueError("k: required with test k-of-n and only there")
        if (self.versus is None) == (self.test == "pearson"):
            raise ValueError("versus: required with test pearson and only there")
        if self.split_by is not None and self.test not in ("visible", "t-test"):
            raise ValueError("split_by: only with test visible or t-test")
        needed = 1 if self.test == "pearson" or self.split_by else 2
        if self.test != "anova-tukey" and needed == 2 and len(self.groups) != 2:
            raise ValueError(f"groups: test {self.test} compares exactly 2 groups")
        if needed == 1 and self.test == "pearson" and len(self.groups) != 1:
            raise ValueError("groups: test pearson takes exactly 1 group")
        return self


class CohortProtocol(ProtocolHeader):
    """A virtual patient cohort (see docs/cohort.md)."""

    kind: Literal["cohort"]
    cells_per_compartment: Annotated[int, Field(gt=0, le=1000)] = 12
    cell_variation_cv: Annotated[float, Field(ge=0.0, lt=2.0)] = 0.2
    parameters: dict[str, float] = {}
    groups: Annotated[list[CohortGroup], Field(min_length=1)]
    assays: Annotated[list[CohortAssay], Field(min_length=1)]
    comparisons: list[CohortComparison] = []
    assumptions: dict[str, str] = {}

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, v: dict[str, float]) -> dict[str, float]:
        from exotwin.cohort.tissue import CohortParameters

        check_known(v, [f.name for f in fields(CohortParameters)], "cohort parameter")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CohortProtocol:
        labels = [g.label for g in self.groups]
        if len(set(labels)) != len(labels):
            raise ValueError("groups: labels must be unique")
        if len({g.key_base() for g in self.groups}) != len(labels):
            raise ValueError("groups: two labels share a person key; rename one")
        given = [r for a in self.assays for r in a.readouts()]
        persons = {g.label: g.persons for g in self.groups}
        for i, c in enumerate(self.comparisons):
            for g in c.groups:
                if g not in persons:
                    raise ValueError(f"comparisons.{i}.groups: no group named {g!r}")
            for name in ("readout", "versus", "split_by"):
                value = getattr(c, name)
                if value is not None and value not in given:
                    raise ValueError(f"comparisons.{i}.{name}: no assay gives {value!r}; "
                                     f"given: {', '.join(given)}")  # fmt: skip
            if c.k is not None and c.k > persons[c.groups[0]]:
                raise ValueError(f"comparisons.{i}.k: more than the {persons[c.groups[0]]} "
                                 f"persons of {c.groups[0]!r}")  # fmt: skip
        return self

    def describe(self, seed: int) -> str:
        """One sentence on the design, for the report."""
        people = ", ".join(f"{g.persons} {g.label} ({g.tissue})" for g in self.groups)
        return (f"Cohort {self.id}: {people}; {self.cells_per_compartment} simulated cells "
                f"per tissue compartment, seed {seed}.")  # fmt: skip
