"""Unit and provenance of every parameter kept outside the Antimony models.

The Antimony models are checked by tests/test_model_doc.py. Here: the parameter dataclasses
(each field named in the numpydoc ``Attributes`` section of its class; each numeric field's
text names a unit and a provenance) and the YAML parameter tables.
"""

import dataclasses
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import yaml

import exotwin

SRC = Path(exotwin.__file__).resolve().parent

# Classes whose role is parameters (module, class).
PARAMETER_CLASSES = [
    ("exotwin.assays.angiogenesis", "TubeParameters"),
    ("exotwin.assays.cck8", "CCK8Parameters"),
    ("exotwin.assays.endothelial", "ScratchParameters"),
    ("exotwin.assays.endothelial", "TranswellParameters"),
    ("exotwin.assays.endothelial", "DextranParameters"),
    ("exotwin.assays.exosomes", "ExosomeMarkers"),
    ("exotwin.assays.exosomes", "NTAParameters"),
    ("exotwin.assays.flow", "FlowParameters"),
    ("exotwin.assays.microscopy", "MicroscopyParameters"),
    ("exotwin.assays.microscopy", "EduParameters"),
    ("exotwin.assays.qpcr", "QpcrParameters"),
    ("exotwin.assays.western", "WesternParameters"),
    ("exotwin.cells.population", "FateParameters"),
    ("exotwin.cohort.tissue", "CohortParameters"),
    ("exotwin.tissue.agents", "MechanicsParams"),
    ("exotwin.tissue.cam", "CamParameters"),
    ("exotwin.tissue.pk", "CisplatinPK"),
    ("exotwin.tissue.vessels", "GrowthRules"),
    ("exotwin.tissue.vessels", "PlexusParameters"),
    ("exotwin.tissue.vessels", "Imaging"),
    ("exotwin.tissue.xenograft", "XenograftParameters"),
    ("exotwin.vesicles", "VesicleParameters"),
]

# Dataclasses with numeric defaults that hold state or inputs, not parameters.
STATE_CLASSES = {
    "exotwin.analysis.qpcr.QpcrResult",  # a result: count of Undetermined wells
    "exotwin.cells.population.Population",  # time, step and birth counters, seed
    "exotwin.culture.Well",  # uptake_inhibition is an input; confluent density is the
    # module constant CONFLUENT_CELLS_PER_CM2, documented where it is defined
    "exotwin.tissue.agents.Agents",  # next id
    "exotwin.tissue.cam.Egg",  # time and counters
    "exotwin.tissue.checkpoint.SimulationState",  # time, seed
    "exotwin.tissue.diffusion.Grid",  # dx: BioFVM's 20 um, documented
    "exotwin.tissue.diffusion.Substance",  # decay 0 unless given, provenance is a field
    "exotwin.tissue.vessels.Network",  # counters
    "exotwin.tissue.xenograft.Schedule",  # protocol input (no exosomes by default)
    "exotwin.tissue.xenograft.Tumour",  # time and step
    "exotwin.vesicles.VesiclePool",  # vesicle count
}

_UNIT = (r"(?:1/)?(?:um|µm|nm|mm|cm|um2|um\^2|um3|um\^3|cm2|mm2|mm\^2|cm\^2|cm\^3|mL|ml|uL|µL"
         r"|h|min|s|days?|hours?|uM|nM|ug|µg|pg|ng|mg|g|kg|mg/kg|mmHg|RFU|OD450|OD|a\.u\."
         r"|pixels?|px|grey levels?|rad|degrees?|%|particles|cells|molecules|copies|cycles"
         r"|vesicles|voxels|EVs|TPM)(?:[/^][\w.-]+)*")
UNIT = re.compile(
    rf"\(\s*{_UNIT}(?![\w-])[^()]*\)"  # "(um/h)", "(1/h)", "(grey levels, Gaussian)"
    rf"|\d\s*{_UNIT}(?![\w-])"  # "1600 um", "0.33 cm2"
    r"|\b(?:dimensionless|fraction|count)\b", re.IGNORECASE)
_YEAR = r"\b(?:19[5-9]\d|20[0-4]\d)\b"
PROVENANCE = re.compile(
    rf"doi|params\.md|\bXia\b|\bDeng\b|assumed|{_YEAR}(?!\s*{_UNIT}(?![\w-]))",
    re.IGNORECASE)


def attributes(cls) -> dict[str, str]:
    """Field name -> text of its entry in the class's numpydoc ``Attributes`` section."""
    lines = (inspect.getdoc(cls) or "").splitlines()
    out: dict[str, str] = {}
    try:
        start = next(i for i, (a, b) in enumerate(zip(lines, lines[1:], strict=False))
                     if a.strip() == "Attributes" and set(b.strip()) == {"-"}) + 2
    except StopIteration:
        return out
    names: list[str] = []
    for i, line in enumerate(lines[start:], start):
        if i + 1 < len(lines) and line and set(lines[i + 1].strip()) == {"-"}:
            break  # next section
        if line and not line[0].isspace():
            names = [n.strip() for n in line.split(":")[0].split(",")]
            for n in names:
                out[n] = ""
        elif line.strip():
            for n in names:
                out[n] += " " + line.strip()
    return out


def numeric(f: dataclasses.Field) -> bool:
    value = f.default
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        if isinstance(value, dict):  # e.g. QpcrParameters.copies_per_cell
            value = next(iter(value.values()), None)
    return isinstance(value, int | float) and not isinstance(value, bool)


def gaps(cls) -> list[str]:
    """``Class.field: what is missing`` for every field lacking its documentation."""
    doc = attributes(cls)
    out = []
    for f in dataclasses.fields(cls):
        text = doc.get(f.name)
        if text is None:
            out.append(f"{cls.__name__}.{f.name}: not in the Attributes section")
        elif numeric(f):
            if not UNIT.search(text):
                out.append(f"{cls.__name__}.{f.name}: no unit")
            if not PROVENANCE.search(text):
                out.append(f"{cls.__name__}.{f.name}: no provenance")
    return out


def test_every_parameter_field_has_a_unit_and_a_provenance():
    missing = [g for mod, name in PARAMETER_CLASSES
               for g in gaps(getattr(importlib.import_module(mod), name))]
    assert not missing, "\n".join(missing)


def test_every_dataclass_with_numeric_defaults_is_classified():
    checked = {f"{m}.{c}" for m, c in PARAMETER_CLASSES}
    unclassified = []
    for info in pkgutil.walk_packages(exotwin.__path__, "exotwin."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and dataclasses.is_dataclass(obj)
                    and obj.__module__ == info.name
                    and any(numeric(f) for f in dataclasses.fields(obj)
                            if f.default is not dataclasses.MISSING)):
                qual = f"{info.name}.{name}"
                if qual not in checked | STATE_CLASSES:
                    unclassified.append(qual)
    assert not unclassified, f"add to PARAMETER_CLASSES or STATE_CLASSES: {unclassified}"


def test_the_checks_catch_a_missing_unit_or_provenance():
    @dataclasses.dataclass(frozen=True)
    class Bad:
        """A test class.

        Attributes
        ----------
        a
            Rate (1/h). assumed: 1.
        b
            A rate, 2 (Smith 2000).
        c
            A length (um).
        """

        a: float = 1.0
        b: float = 2.0
        c: float = 3.0
        d: float = 4.0

    assert gaps(Bad) == ["Bad.b: no unit", "Bad.c: no provenance",
                         "Bad.d: not in the Attributes section"]
    assert not PROVENANCE.search("width 2000 um2"), "a number with a unit is not a year"


def yaml_gaps(path: Path) -> list[str]:
    """Numeric leaves of a YAML table that are not the value of an entry with unit and
    provenance."""
    out = []

    def walk(node, where):
        if isinstance(node, dict):
            if "value" in node:
                if not str(node.get("unit") or "").strip():
                    out.append(f"{path.name}: {where}: no unit")
                if not PROVENANCE.search(str(node.get("provenance") or "")):
                    out.append(f"{path.name}: {where}: no provenance")
            for k, v in node.items():
                if k != "value":
                    walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}.{i}")
        elif isinstance(node, int | float) and not isinstance(node, bool):
            out.append(f"{path.name}: {where}: a number outside a value/unit/provenance entry")

    walk(yaml.safe_load(path.read_text()), "")
    return out


def test_yaml_parameter_tables_have_units_and_provenance():
    missing = [g for p in (SRC / "cells" / "lines.yaml", SRC / "culture" / "couplings.yaml")
               for g in yaml_gaps(p)]
    # training data: each row's numbers are measurements; its source (the row's or the
    # file's) must cite
    for path in sorted((SRC / "models").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for row in data["rows"]:
            source = str(row.get("source") or data.get("source") or "")
            if not (PROVENANCE.search(source) or re.search(r"PMID|https?://", source)):
                missing.append(f"{path.name}: {row['id']}: no source")
    assert not missing, "\n".join(missing)
