"""Tests of the built-in model library and its SBML export."""

from __future__ import annotations

from pathlib import Path

import libsbml
import pytest

from exotwin import models
from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.errors import ExotwinError

DATA = Path(__file__).parent / "data"
BUILTIN = [info.name for info in models.list_models()]


def _assert_flat_l3v2(text: str) -> libsbml.SBMLDocument:
    doc = libsbml.readSBMLFromString(text)
    assert doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    assert doc.getModel() is not None
    assert not doc.isPackageEnabled("comp"), "submodels must be flattened"
    return doc


def test_builtin_headers_are_well_formed():
    infos = models.list_models()
    names = [info.name for info in infos]
    assert names == sorted(set(names))
    for info in infos:
        assert info.description and "\n" not in info.description
        assert info.path.is_file() and info.path.suffix == ".ant"
        assert models.antimony_source(info.name) == info.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_model_exports_consistent_l3v2(name, tmp_path):
    text = models.to_sbml(name)
    _assert_flat_l3v2(text)
    assert models.check_consistency(text) == []
    assert models.to_sbml(name) is text  # cached per process

    written = models.export(name, tmp_path / "out" / f"{name}.xml")
    assert written.read_text(encoding="utf-8") == text
    assert [p.name for p in written.parent.iterdir()] == [f"{name}.xml"]


def test_fixture_with_import_converts_to_flat_l3v2():
    text = models.antimony_file_to_sbml(DATA / "tiny.ant")
    doc = _assert_flat_l3v2(text)
    model = doc.getModel()
    assert model.getId() == "tiny"
    species = {model.getSpecies(i).getId() for i in range(model.getNumSpecies())}
    assert species == {"p_A", "B"}
    assert model.getNumReactions() == 3
    assert models.check_consistency(text) == []


def test_directory_scan_skips_imported_modules():
    infos = models.list_models(DATA)
    assert [info.name for info in infos] == ["tiny"]
    assert infos[0].description.startswith("Two-species test fixture")
    assert infos[0].path == DATA / "tiny.ant"


def test_duplicate_names_are_rejected(tmp_path):
    source = "// name: same\n// description: x\nmodel same()\nend\n"
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.ant").write_text(source)
    with pytest.raises(ExotwinError, match="same"):
        models.list_models(tmp_path)


def test_unknown_model_names_the_choices():
    with pytest.raises(ExotwinError) as info:
        models.to_sbml("no_such_model")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("no_such_model: unknown model; built-in models are:")
    for name in BUILTIN:
        assert name in message
    with pytest.raises(ExotwinError):
        models.antimony_source("no_such_model")


def test_antimony_syntax_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.ant"
    bad.write_text("// name: bad\n// description: broken\nmodel bad()\n  J0: -> ; \nend end\n")
    with pytest.raises(ExotwinError) as info:
        models.antimony_file_to_sbml(bad)
    message = str(info.value)
    assert "\n" not in message
    assert str(bad) in message and "antimony" in message


def test_missing_antimony_file(tmp_path):
    with pytest.raises(ExotwinError, match="file not found"):
        models.antimony_file_to_sbml(tmp_path / "absent.ant")


def test_explicit_missing_module(tmp_path):
    with pytest.raises(ExotwinError, match="no such module"):
        models.antimony_file_to_sbml(DATA / "tiny.ant", module="nope")


def test_check_consistency_reports_errors_not_warnings():
    text = models.antimony_file_to_sbml(DATA / "tiny.ant")
    # Undeclared units give libsbml warnings only: not reported.
    assert models.check_consistency(text) == []
    broken = text.replace("<ci> k_conv </ci>", "<ci> undefined_symbol </ci>")
    errors = models.check_consistency(broken)
    assert errors and all("\n" not in e for e in errors)
    assert any("undefined_symbol" in e for e in errors)
    assert models.check_consistency("<sbml><unclosed") != []


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "file.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]
