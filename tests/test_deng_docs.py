"""The code blocks of docs/cam.md and docs/endothelial.md run as written.

Python blocks are executed; the YAML blocks are protocols (or a protocol's ``assays``) and
must load; the CAM protocol of docs/cam.md also runs, shrunk to a smoke size.
"""

import re
from pathlib import Path

import pytest
import yaml

from helpers import write_protocol

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
DOCS = ("cam.md", "endothelial.md")


def blocks(name: str, lang: str) -> list[str]:
    return [text for kind, text in BLOCK.findall((ROOT / "docs" / name).read_text())
            if kind == lang]  # fmt: skip


def test_every_block_has_a_known_language():
    for name in DOCS:
        kinds = {kind for kind, _ in BLOCK.findall((ROOT / "docs" / name).read_text())}
        assert kinds <= {"python", "yaml"}, (name, kinds)  # each kind is exercised below


@pytest.mark.parametrize("name", DOCS)
def test_python_blocks_run(name):
    code = blocks(name, "python")
    assert code, name
    for i, text in enumerate(code):
        exec(compile(text, f"docs/{name} python block {i + 1}", "exec"), {})


def test_cam_protocol_block_loads_and_runs(tmp_path):
    from exotwin.protocols import load, run_protocol

    (text,) = blocks("cam.md", "yaml")
    p = load(write_protocol(tmp_path, text))
    assert p.kind == "cam" and p.eggs == 6 and p.primary_readout() == (
        "intra-graft microvessel density")  # fmt: skip
    # the same protocol at the size of the CAM smoke tests
    small = p.model_copy(update={"eggs": 2, "duration": "1 d", "graft_cells": 1e4,
                                 "graft_agents": 4,
                                 "cam": {"field_mm": 2.0, "graft_radius_mm": 0.5}})
    small = small.model_copy(update={"comparisons": [
        c.model_copy(update={"time": "1 d"}) for c in p.comparisons]})  # fmt: skip
    r = run_protocol(small, seed=1, out=tmp_path / "out")
    assert set(r.readouts["group"]) == {"shNC", "shSTIM1"} and len(r.files) == 2
    assert r.comparisons[0]["p_value"] is not None


def test_endothelial_assays_block_loads_in_a_protocol(tmp_path):
    from exotwin.protocols import library, load

    (text,) = blocks("endothelial.md", "yaml")
    base = yaml.safe_load(library()["deng2023-abs-exo-prolif"].read_text())
    body = {**base, **yaml.safe_load(text), "comparisons": []}
    p = load(write_protocol(tmp_path, yaml.safe_dump(body)))
    assert [a.type for a in p.assays] == ["scratch_wound", "transwell_migration",
                                          "tube_formation", "fitc_dextran"]  # fmt: skip
