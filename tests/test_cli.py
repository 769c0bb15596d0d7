"""Tests of the ``exotwin`` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import libsbml
import pandas as pd
import pytest

import exotwin
from exotwin import models
from exotwin.cli import main

DATA = Path(__file__).parent / "data"


def run(argv, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, out, err):
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def fixture_library(monkeypatch):
    """Make tests/data the built-in model library for the duration of a test."""
    monkeypatch.setattr(models, "_builtin_root", lambda: DATA)
    models._builtin_sbml.cache_clear()
    yield
    models._builtin_sbml.cache_clear()


@pytest.fixture
def tiny_sbml(tmp_path):
    path = tmp_path / "tiny.xml"
    path.write_text(models.antimony_file_to_sbml(DATA / "tiny.ant"), encoding="utf-8")
    return path


def test_version_via_python_m():
    result = subprocess.run(
        [sys.executable, "-m", "exotwin", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"exotwin {exotwin.__version__}"


def test_models_list(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(["models", "list"], capsys)
    assert code == 0, err
    for info in models.list_models():
        assert info.name in out


def test_models_list_shows_fixture_library(capsys, monkeypatch, fixture_library):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(["models", "list"], capsys)
    assert code == 0
    assert "tiny" in out and "Two-species test fixture" in out


def test_models_export_writes_valid_sbml(capsys, tmp_path, fixture_library):
    target = tmp_path / "sub" / "tiny.xml"
    code, out, err = run(["models", "export", "tiny", "-o", target], capsys)
    assert code == 0, err
    assert out.strip() == str(target)
    text = target.read_text(encoding="utf-8")
    doc = libsbml.readSBMLFromString(text)
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    assert models.check_consistency(text) == []
    assert [p.name for p in target.parent.iterdir()] == ["tiny.xml"]


@pytest.mark.parametrize("name", [info.name for info in models.list_models()])
def test_models_export_builtin(capsys, tmp_path, name):
    target = tmp_path / f"{name}.xml"
    code, _, err = run(["models", "export", name, "-o", target], capsys)
    assert code == 0, err
    assert models.check_consistency(target.read_text(encoding="utf-8")) == []


def test_models_export_unknown_name(capsys, tmp_path):
    target = tmp_path / "x.xml"
    code, out, err = run(["models", "export", "no_such_model", "-o", target], capsys)
    line = assert_one_line_error(code, out, err)
    assert "no_such_model" in line and "unknown model" in line
    assert not target.exists()


def test_unknown_model_via_entry_point(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "exotwin", "models", "export", "nope", "-o", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert_one_line_error(result.returncode, result.stdout, result.stderr)


def test_usage_error_exit_code(capsys):
    code, _, _ = run(["sbml", "simulate"], capsys)
    assert code == 2


def test_sbml_simulate_missing_file(capsys, tmp_path):
    missing = tmp_path / "absent.xml"
    out_csv = tmp_path / "out.csv"
    argv = ["sbml", "simulate", missing, "--duration", "1", "--steps", "4", "--out", out_csv]
    line = assert_one_line_error(*run(argv, capsys))
    assert str(missing) in line
    assert not out_csv.exists()


def test_sbml_simulate_malformed_xml(capsys, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<?xml version='1.0'?>\n<sbml><model id='m'>\n", encoding="utf-8")
    out_csv = tmp_path / "out.csv"
    argv = ["sbml", "simulate", bad, "--duration", "1", "--steps", "4", "--out", out_csv]
    line = assert_one_line_error(*run(argv, capsys))
    assert "bad.xml" in line
    assert not out_csv.exists()


def test_sbml_simulate_writes_csv(capsys, tmp_path, tiny_sbml):
    out_csv = tmp_path / "res" / "tc.csv"
    argv = [
        "sbml", "simulate", tiny_sbml, "--start", "0", "--duration", "10", "--steps", "5",
        "--variables", "p_A,B", "--out", out_csv,
    ]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert out.strip() == str(out_csv)
    frame = pd.read_csv(out_csv)
    assert len(frame) == 6
    assert [p.name for p in out_csv.parent.iterdir()] == ["tc.csv"]
