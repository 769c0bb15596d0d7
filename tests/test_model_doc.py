"""Model documentation and provenance: generated from the model, complete."""

import re
from pathlib import Path

from exotwin import models
from exotwin.kinetics import compile_model
from exotwin.models.document import markdown, mermaid

ROOT = Path(__file__).resolve().parents[1]
ANT = ROOT / "src" / "exotwin" / "models" / "antimony"
NUMERIC = re.compile(r"^\s*(\w+)\s*=\s*[-+0-9.eE]+\s*;")
DOCUMENTED = re.compile(r"^\s*\w+\s*=\s*[^;]+;\s*//\s*[^;]+;\s*\S.*$")


def test_every_numeric_parameter_has_a_unit_and_a_provenance():
    missing = [
        f"{path.name}: {line.strip()}"
        for path in sorted(ANT.glob("*.ant"))
        for line in path.read_text().splitlines()
        if NUMERIC.match(line) and not DOCUMENTED.match(line)
    ]
    assert not missing, missing[:5]


def test_diagram_shows_every_species_and_the_docs_are_current():
    for info in models.list_models():
        species = compile_model(info.name).spec.species
        chart = mermaid(info.name)
        for s in species:
            assert re.search(rf"\b{s}\b", chart), s
    page = (ROOT / "docs" / "model.md").read_text()
    for s in compile_model("tumour_cell").spec.species:
        assert f"{s}([{s}])" in page, f"docs/model.md lacks {s}: run exotwin models doc"
    # docs/model.md: the generated tumour_cell page, then hand-written notes on the other models
    assert page.startswith(markdown("tumour_cell").strip() + "\n"), "regenerate docs/model.md"
    for info in models.list_models():
        if info.name != "tumour_cell":
            generated = (ROOT / "docs" / "models" / f"{info.name}.md").read_text()
            assert generated.strip() == markdown(info.name).strip(), f"regenerate {info.name}"
            assert f"models/{info.name}.md" in page
