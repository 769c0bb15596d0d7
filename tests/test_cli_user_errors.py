"""What a new user runs into: bad inputs, interrupted runs and reused output directories.

Every bad input is one ``error:`` line with exit status 2 and nothing written; a run that
fails or is interrupted leaves no partial output.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from exotwin.protocols import measure
from test_cli import assert_one_line_error, run

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "knockdown_cisplatin.yaml"
# the docs example, small: 5 cohorts of 10 cells, 24 h, flow at 24 h
SMALL = (EXAMPLE.read_text().replace("cells_per_well: 10000", "cells_per_well: 50")
         .replace("agents_per_well: 100", "agents_per_well: 5")
         .replace("duration: 48 h", "duration: 24 h").replace("[24 h, 48 h]", "[24 h]")
         .replace("times: [48 h], events: 5000", "times: [24 h], events: 500")
         .replace("time: 48 h", "time: 24 h"))  # fmt: skip


def _protocol(tmp_path: Path, text: str = SMALL, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_or_interrupted_run_writes_nothing(tmp_path, capsys, monkeypatch, error):
    def fail_in_second_group(ctx):
        if ctx.group == "knockdown":  # after the control group's FCS files were written
            raise error("stop")
        return original(ctx)

    registered = measure.MEASURES["cck8"]
    original = registered.function
    failing = replace(registered, function=fail_in_second_group)
    monkeypatch.setitem(measure.MEASURES, "cck8", failing)
    out = tmp_path / "out"
    try:  # click turns Ctrl-C into its Abort (exit status 1)
        code = run(["run", _protocol(tmp_path), "--out", out], capsys)[0]
    except RuntimeError:
        code = None
    assert code != 0
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "p.yaml"]  # no stage left either


def test_rerun_into_same_out_replaces_the_earlier_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(["run", _protocol(tmp_path), "--out", out], capsys)
    assert code == 0, err
    assert len(list((out / "fcs").glob("*.fcs"))) == 6
    (out / "notes.txt").write_text("mine")
    fewer = _protocol(tmp_path, SMALL.replace("replicates: 3", "replicates: 2"), "q.yaml")
    code, _, err = run(["run", fewer, "--out", out], capsys)
    assert code == 0, err
    assert len(list((out / "fcs").glob("*.fcs"))) == 4  # no stale replicate-3 files
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p.yaml", "q.yaml"]


def test_another_protocol_into_the_same_out_keeps_the_first_ones_outputs(tmp_path, capsys):
    """Nothing already saved is lost: only a rerun of the same protocol supersedes files."""
    import re

    out = tmp_path / "out"
    first = _protocol(tmp_path)
    pid = re.search(r"^id: (\S+)", SMALL, re.M)[1]
    other = _protocol(tmp_path, SMALL.replace(f"id: {pid}", "id: other-run"), "o.yaml")
    assert run(["run", first, "--out", out], capsys)[0] == 0
    mine = sorted(f.relative_to(out) for f in out.rglob("*") if f.is_file())
    assert run(["run", other, "--out", out], capsys)[0] == 0
    now = sorted(f.relative_to(out) for f in out.rglob("*") if f.is_file())
    assert set(mine) - {Path("claims.json"), Path(".exotwin-files.json")} <= set(now)
    assert (out / "readouts" / f"{pid}.parquet").is_file()
    assert (out / "readouts" / "other-run.parquet").is_file()
    assert len(list((out / "fcs").glob(f"{pid}_*.fcs"))) == 6
    assert len(list((out / "fcs").glob("other-run_*.fcs"))) == 6


@pytest.mark.parametrize(("edit", "message"), [
    (("gene: ERp44, efficiency: 0.75", "gene: ERP44, efficiency: 0.75"),
     "groups.1.treatments.0.gene: no model input for gene 'ERP44'; known: ERp44"),
    (("agents_per_well: 5", "agents_per_well: 500"),
     "agents_per_well: 500 cohorts cannot share 50 cells"),
    (("efficiency: 0.75", "efficiency: true"),  # a YAML boolean is not 1
     "groups.1.treatments.0: efficiency: expected a number, got true"),
    (("concentration: 66.7 uM", "concentration: yes"),
     "concentration: expected a number, got true"),
    (("replicates: 3", "replicates: false"), "replicates: expected a number, got false"),
    (("replicates: 3", "replicates: 3\nparameters: {SV_k_nfkb_ERp44: .nan}"),  # hung the run
     "parameters.SV_k_nfkb_ERp44: Input should be a finite number"),
])
def test_protocol_errors_found_at_load(tmp_path, capsys, edit, message):
    out = tmp_path / "out"
    code, out_text, err = run(["run", _protocol(tmp_path, SMALL.replace(*edit)), "--out", out],
                              capsys)  # fmt: skip
    assert message in assert_one_line_error(code, out_text, err)
    assert not out.exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "{dir}"], "{dir}: is a directory, not a file"),
    (["run", "{empty}"], "{empty}: empty protocol file"),
    (["run", "xia2021-fig2d"], "neither a file nor a built-in protocol id; did you mean "
                               "'xia2021-fig2D'?"),
    (["run", "no-such-protocol"],
     "no-such-protocol: neither a file nor a built-in protocol id; see `exotwin protocols"),
    (["resume", "{dir}", "--until", "1 h"], "{dir}: is a directory, not a file"),
    (["resume", "{empty}", "--until", "1 h"], "{empty}: empty checkpoint"),
    (["analyze", "flow", "{dir}", "--x", "PE-A", "--y", "7-AAD-A", "--x-threshold", "1",
      "--y-threshold", "1"], "{dir}: is a directory, not a file"),
    (["analyze", "flow", "{empty}", "--x", "PE-A", "--y", "7-AAD-A", "--x-threshold", "1",
      "--y-threshold", "1"], "{empty}: empty FCS file"),
    (["analyze", "qpcr", "{empty}", "--reference", "GAPDH", "--control", "NC"],
     "{empty}: empty file"),
])
def test_directory_empty_file_and_unknown_id(tmp_path, capsys, argv, message):
    names = {"dir": str(tmp_path / "data"), "empty": str(tmp_path / "empty.yaml")}
    (tmp_path / "data").mkdir()
    (tmp_path / "empty.yaml").write_text("")
    out = tmp_path / "out"
    code, out_text, err = run([a.format(**names) for a in argv] + ["--out", out], capsys)
    assert message.format(**names) in assert_one_line_error(code, out_text, err)
    assert not out.exists()


@pytest.mark.parametrize("seed", ["-1", "1.5", str(2**64)])
@pytest.mark.parametrize("command", [["run", "{protocol}"], ["demo"], ["power", "{protocol}",
                                                                         "--n", "2"]])
def test_seed_outside_0_to_2_64_is_refused(tmp_path, capsys, seed, command):
    protocol = _protocol(tmp_path)
    out = tmp_path / "out"
    argv = [a.format(protocol=protocol) for a in command] + ["--seed", seed, "--out", out]
    code, _, err = run(argv, capsys)
    assert code == 2 and "--seed" in err  # -1 used to wrap silently to 2**64 - 1
    assert not out.exists()


def test_tissue_durations_take_the_protocols_units():
    from exotwin.tissue.runner import parse_minutes

    assert parse_minutes("2 days") == parse_minutes("48 h") == 2880.0
    assert parse_minutes("1.5 hours") == 90.0


def test_misspelt_kind_is_named_not_the_tissue_options(tmp_path, capsys):
    tissue = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tissue_small.yaml"
    bad = _protocol(tmp_path, tissue.read_text().replace("kind: tissue", "kind: tisue"))
    code, out, err = run(["run", bad, "--until", "1 min", "--out", tmp_path / "o"], capsys)
    line = assert_one_line_error(code, out, err)
    assert "kind: unknown protocol kind 'tisue'; known: culture" in line and "tissue" in line
    good = _protocol(tmp_path, tissue.read_text(), "t.yaml")
    code, out, err = run(["sweep", good, "--vary", "seed=1,2", "--out", tmp_path / "o"], capsys)
    assert "a tissue scenario runs with `exotwin run" in err and code == 2


def test_protocols_list_shows_whole_ids_on_a_narrow_terminal(monkeypatch, capsys):
    from exotwin.protocols import library

    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["protocols", "list"], capsys)
    assert code == 0
    cells = {c.strip() for line in out.splitlines() for c in line.split("│")}
    assert set(library()) <= cells  # every id whole in its own cell, none cut with '…'


def test_fit_data_may_be_the_parquet_readouts_of_exotwin_run(tmp_path):
    import pandas as pd

    from exotwin.fit import load_data

    frame = pd.DataFrame({"assay": "western", "group": ["A", "B"], "replicate": [1, 1],
                          "time_h": [24.0, 24.0], "readout": "ERp44/GAPDH",
                          "value": [1.0, 0.5], "unit": "ratio"})  # fmt: skip
    frame.to_parquet(tmp_path / "r.parquet", index=False)
    frame.to_csv(tmp_path / "r.csv", index=False)
    from_parquet = load_data(tmp_path / "r.parquet", ["A", "B"], "log")
    pd.testing.assert_frame_equal(from_parquet, load_data(tmp_path / "r.csv", ["A", "B"], "log"))


def test_comparison_of_a_readout_no_assay_measures_is_an_error(tmp_path, capsys):
    out = tmp_path / "out"
    bad = _protocol(tmp_path, SMALL.replace("readout: OD450", "readout: OD405"))
    code, out_text, err = run(["run", bad, "--out", out], capsys)  # was: not_tested, exit 0
    line = assert_one_line_error(code, out_text, err)
    assert ("comparisons.0.readout: not measured: 'OD405' (did you mean 'OD450'?); "
            "measured: OD450, ") in line  # found at load, before anything runs
    assert not out.exists()


@pytest.mark.parametrize("samples", ["0", "1", "-4"])
def test_sensitivity_samples_below_2_are_refused_not_defaulted(tmp_path, capsys, samples):
    out = tmp_path / "out"
    code, out_text, err = run(["sensitivity", _protocol(tmp_path), "--readout", "OD450",
                               "--vary", "model.ERp44_expression=0.2:1", "--samples", samples,
                               "--out", out], capsys)  # fmt: skip
    assert "--samples: must be at least 2" in assert_one_line_error(code, out_text, err)
    assert not out.exists()  # --samples 0 ran the default 16 before


@pytest.mark.parametrize("command", [["sweep", "no-such-protocol", "--vary", "replicates=2,3"],
                                     ["power", "no-such-protocol", "--n", "2"],
                                     ["replicate", "--paper", "xia2022"]])
def test_progress_bar_leaves_no_empty_line_in_redirected_output(tmp_path, capsys, command):
    code, out, err = run([*command, "--out", tmp_path / "out"], capsys)
    assert_one_line_error(code, out, err)  # stdout stays empty, not "\n"


BLOT = EXAMPLE.parent / "analysis" / "western_blot.png"


@pytest.mark.parametrize(("option", "message"), [
    (["--radius", "-5"], "radius: -5: the rolling-ball radius must be at least 1 px"),
    (["--radius", "0"], "radius: 0: the rolling-ball radius must be at least 1 px"),
    (["--lanes", "400"], "lanes: 400: a 240 px wide image holds 1 to 80 lanes"),
])
def test_western_image_options_out_of_range(tmp_path, capsys, option, message):
    out = tmp_path / "out"
    code, out_text, err = run(["analyze", "western", BLOT, *option, "--out", out], capsys)
    assert message in assert_one_line_error(code, out_text, err)
    assert not out.exists()


@pytest.mark.parametrize("ct", ["-18.0", "0"])
def test_qpcr_ct_must_be_a_positive_cycle_number(tmp_path, capsys, ct):
    table = (EXAMPLE.parent / "analysis" / "qpcr_ct.csv").read_text()
    bad = _protocol(tmp_path, table.replace("NC-1,NC,GAPDH,18.0", f"NC-1,NC,GAPDH,{ct}"), "ct.csv")
    out = tmp_path / "out"
    code, out_text, err = run(["analyze", "qpcr", bad, "--reference", "GAPDH", "--control", "NC",
                               "--out", out], capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)  # was: a fold change of 0.000691
    assert f"ct.csv: ct: row 1: '{ct}' is not a positive number" in line
    assert not out.exists()


@pytest.mark.parametrize("option", [["--q-cutoff", "5"], ["--q-cutoff", "-0.1"],
                                    ["--log2fc-cutoff", "-1"]])
def test_expression_cutoffs_out_of_range(tmp_path, capsys, option):
    data = EXAMPLE.parent / "analysis"
    out = tmp_path / "out"
    code, _, err = run(["analyze", "expression", data / "expression_tpm.csv",
                        data / "expression_samples.csv", *option, "--out", out], capsys)
    assert code == 2 and option[0] in err  # --q-cutoff 5 called every gene significant
    assert not out.exists()


def test_failed_replicate_writes_nothing(tmp_path, capsys, monkeypatch):
    import exotwin.replicate as rep

    def flow_then_fail(ctx):
        if calls:
            raise KeyboardInterrupt  # Ctrl-C after the first well's FCS file was written
        calls.append(ctx)
        return original(ctx)

    calls = []
    original = measure.MEASURES["flow_annexin_7aad"].function
    monkeypatch.setattr(rep, "protocols_for", lambda paper: ["xia2021-fig2E"])
    monkeypatch.setitem(measure.MEASURES, "flow_annexin_7aad", measure.Measure(flow_then_fail))
    code = run(["replicate", "--paper", "xia2021", "--out", tmp_path / "out"], capsys)[0]
    assert code != 0 and len(calls) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("edit", "message"), [
    (("time: 24 h,", "time: 12 h,"),
     "comparisons.0.time: 'OD450' is measured at 24 h, not at 12 h"),
    (("  - {type: cck8, times: [24 h]}", "  - {type: cck8, times: [24 h]}\n" * 2),
     "assays: 'OD450' is read twice per well at 24 h"),  # was: n = 6 from 3 wells
])
def test_comparison_time_unmeasured_or_read_twice(tmp_path, capsys, edit, message):
    assert edit[0] in SMALL
    out = tmp_path / "out"
    code, out_text, err = run(["run", _protocol(tmp_path, SMALL.replace(*edit)), "--out", out],
                              capsys)  # fmt: skip
    assert message in assert_one_line_error(code, out_text, err)
    assert not out.exists()


def test_tissue_run_into_the_directory_of_another_scenario_is_refused(tmp_path, capsys):
    tissue = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tissue_small.yaml"
    out = tmp_path / "A"
    code, _, err = run(["run", tissue, "--until", "0.03 min", "--out", out], capsys)
    assert code == 0, err
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    other = _protocol(tmp_path, tissue.read_text().replace("seed: 7", "seed: 8"), "t8.yaml")
    code, out_text, err = run(["run", other, "--until", "0.02 min", "--out", out], capsys)
    line = assert_one_line_error(code, out_text, err)  # was: checkpoints of both runs mixed
    assert "holds the run of another scenario" in line
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    code, _, err = run(["run", tissue, "--until", "0.02 min", "--out", out], capsys)
    assert code == 0, err  # the same scenario again adds to its own run


def test_cck8_times_take_units_as_protocols_do(tmp_path, capsys):
    data = EXAMPLE.parent / "analysis"
    argv = ["analyze", "cck8", data / "cck8_plate.csv", "--layout", data / "cck8_layout.csv",
            "--control", "NC"]
    code, hours, err = run([*argv, "--times", "24,48", "--out", tmp_path / "a"], capsys)
    assert code == 0, err
    code, units, err = run([*argv, "--times", "24 h,2 d", "--out", tmp_path / "b"], capsys)
    assert code == 0, err  # was: "--times takes comma-separated hours"
    assert units.replace(str(tmp_path / "b"), "") == hours.replace(str(tmp_path / "a"), "")
    code, _, err = run([*argv, "--times", "24 mg,48", "--out", tmp_path / "c"], capsys)
    assert code == 2 and "--times" in err and not (tmp_path / "c").exists()


@pytest.mark.parametrize("kind", ["protocol", "tissue"])
def test_a_key_given_twice_is_named_with_its_line(tmp_path, capsys, kind):
    tissue = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tissue_small.yaml"
    text = SMALL if kind == "protocol" else tissue.read_text()
    key = "replicates: 3" if kind == "protocol" else "seed: 7"
    line = text.splitlines().index(key) + 2  # the repeated key, on the next line
    bad = _protocol(tmp_path, text.replace(key, f"{key}\n{key.split(':')[0]}: 6"))
    argv = ["run", bad, "--out", tmp_path / "o"] + (["--until", "1 min"] if kind == "tissue"
                                                    else [])  # fmt: skip
    code, out, err = run(argv, capsys)  # was: the last value silently won
    message = assert_one_line_error(code, out, err)
    name = key.split(":")[0]
    assert f"p.yaml: line {line}: not valid YAML: key '{name}' is given twice" in message


def test_analyze_refuses_a_file_given_twice(tmp_path, capsys, monkeypatch):
    data = EXAMPLE.parent / "analysis"
    monkeypatch.chdir(data)
    out = tmp_path / "out"
    code, out_text, err = run(["analyze", "nta", "nta_bins.csv", "./nta_bins.csv",
                               "--out", out], capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)  # was: the sample reported twice
    assert "nta_bins.csv: given twice among the input files" in line
    assert not out.exists()


def test_testing_suggests_the_closest_protocol_id():
    from exotwin import testing
    from exotwin.errors import ExotwinError

    with pytest.raises(ExotwinError, match="did you mean 'xia2021-fig4B'"):  # was: not found
        testing.assert_reproducible("xia2021-fig4b", engines=("serial",))


@pytest.mark.parametrize("engines, message", [
    (("serial", "procesess"), r"engines\.1: must be one of serial, processes, dask"),
    ("serial", "engines: give a sequence"),
])  # fmt: skip
def test_testing_names_a_bad_engine_by_its_argument(engines, message):
    from exotwin import testing
    from exotwin.errors import ExotwinError

    with pytest.raises(ExotwinError, match=message):  # was: "--engine", an option it has not
        testing.assert_reproducible("xia2021-fig4B", engines=engines)


def test_a_killed_runs_stage_is_removed_by_the_next_run(tmp_path):
    """SIGKILL leaves a hidden stage; the next run into the same --out removes it."""
    import os
    import signal
    import subprocess
    import sys

    from exotwin.atomic import _stage_prefix, atomic_dir

    out = tmp_path / "out"
    code = ("import sys, time; from pathlib import Path; from exotwin.atomic import atomic_dir\n"
            "with atomic_dir(Path(sys.argv[1])) as stage:\n"
            "    (stage / 'half.txt').write_text('x'); print(stage, flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    stage = Path(child.stdout.readline().strip())
    assert stage.is_dir() and stage.name.startswith(_stage_prefix(out, "stage", child.pid))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert stage.is_dir() and not out.exists()  # killed outright: the stage is left
    alive = tmp_path / f"{_stage_prefix(out, 'stage', os.getppid())}keep"
    alive.mkdir()  # a stage of a live process (here our parent) is left alone
    with atomic_dir(out) as new:
        (new / "a.txt").write_text("a")
    assert not stage.exists() and alive.is_dir()
    assert (out / "a.txt").read_text() == "a"


def test_a_tampered_manifest_never_reaches_outside_out(tmp_path):
    import json

    from exotwin.atomic import MANIFEST, atomic_dir

    out, outside = tmp_path / "out", tmp_path / "precious.txt"
    outside.write_text("keep")
    with atomic_dir(out, owner="a") as stage:
        (stage / "x.txt").write_text("1")
    (out / MANIFEST).write_text(json.dumps({"a": ["../precious.txt", str(outside), "x.txt"]}))
    with atomic_dir(out, owner="a") as stage:
        (stage / "y.txt").write_text("2")
    assert outside.read_text() == "keep"
    assert not (out / "x.txt").exists() and (out / "y.txt").read_text() == "2"
    (out / MANIFEST).write_text("[1, 2]")  # not a mapping: no earlier file is superseded
    with atomic_dir(out, owner="a") as stage:
        (stage / "z.txt").write_text("3")
    assert (out / "y.txt").is_file() and (out / "z.txt").is_file()


@pytest.mark.parametrize("option", ["--checkpoint-every", "--snapshot-every"])
def test_tissue_interval_below_one_step_writes_nothing(tmp_path, capsys, option):
    tissue = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tissue_small.yaml"
    out = tmp_path / "A"
    code, out_text, err = run(["run", tissue, "--until", "1 min", option, "0 min", "--out", out],
                              capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)
    assert option.lstrip("-").replace("-", "_") in line
    assert not out.exists()  # was: scenario.json, a snapshot and its image written first


OWN_SCENARIO = """kind: tissue
id: own_model
title: a user's SBML model in a small tissue
seed: 3
grid: {shape: [6, 6], dx_um: 20.0}
time_steps: {diffusion_min: 0.01, mechanics_min: 0.1, phenotype_min: 6.0}
substances:
  - {name: signal, units: molecules/um^3, diffusion_um2_per_min: 300.0, decay_per_min: 0.001,
     boundary_value: null, initial: 0.0, secretion: {output: export, unit: per_min}}
intracellular: {model: MODEL, time_unit: min}
cells: {count: 3, radius_um: 8.41, spread_um: 10.0}
phenotype: {growth_per_min: 0.0, division_rate_per_min: 0.0, uptake_per_min: 0.0}
"""


def test_tissue_scenario_reads_its_sbml_model_beside_it(tmp_path, capsys, monkeypatch):
    from helpers import sbml_from_antimony

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mine.xml").write_text(sbml_from_antimony(
        "model mine\n species S = 1\n J1: S -> ; k*S\n k = 0.1\n export := k*S\nend"))
    (folder / "ev.xml").write_text(sbml_from_antimony(
        "model ev\n species S = 1\n J1: S -> ; k*S\n k = 0.1\n export := k*S\n"
        " E1: at time > 1: k = 1\nend"))  # fmt: skip
    monkeypatch.chdir(tmp_path)  # not the scenario's folder
    good = _protocol(folder, OWN_SCENARIO.replace("MODEL", "mine.xml"), "s.yaml")
    code, _, err = run(["run", good, "--until", "0.02 min", "--out", tmp_path / "A"], capsys)
    assert code == 0, err  # was: "s.yaml: no such file", naming the scenario, not the model
    bad = _protocol(folder, OWN_SCENARIO.replace("MODEL", "ev.xml"), "e.yaml")
    code, out_text, err = run(["run", bad, "--until", "0.02 min", "--out", tmp_path / "B"],
                              capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)
    assert "intracellular.model: " in line and "ev.xml: event 'E1'" in line
    assert not (tmp_path / "B").exists()


def test_sensitivity_readout_typo_stops_at_the_first_run_naming_the_readouts(
        tmp_path, capsys, monkeypatch):  # fmt: skip
    import exotwin.engines.serial as engines

    calls = []
    real = engines.run_task
    monkeypatch.setattr(engines, "run_task", lambda t: calls.append(t) or real(t))
    out = tmp_path / "out"
    code, out_text, err = run(["sensitivity", _protocol(tmp_path), "--readout", "OD45",
                               "--vary", "model.ERp44_expression=0.2:1", "--samples", "2",
                               "--out", out], capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)
    assert "--readout: no value of 'OD45'" in line and "readouts: OD450, " in line
    assert len(calls) == 1  # was: all 6 runs, then "in some runs"
    assert not out.exists()


def test_fit_and_sensitivity_name_the_protocols_groups_for_an_unknown_one(tmp_path, capsys):
    protocol = Path(__file__).resolve().parent / "data" / "power_null.yaml"
    data = tmp_path / "data.csv"
    data.write_text("group,time_h,readout,value\nnc,48,ERp44/GAPDH,0.4\n")
    code, out_text, err = run(["fit", protocol, data, "--free", "model.ERp44_expression=0.05:5",
                               "--out", tmp_path / "fit"], capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)
    assert "group: no group 'nc' in the protocol (its groups: NC, shERp44)" in line
    code, out_text, err = run(["sensitivity", protocol, "--readout", "ERp44/GAPDH", "--group",
                               "nc", "--vary", "model.ERp44_expression=0.2:1", "--out",
                               tmp_path / "sens"], capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)
    assert "--group: no group 'nc' in the protocol (its groups: NC, shERp44)" in line
    assert not (tmp_path / "fit").exists() and not (tmp_path / "sens").exists()


@pytest.mark.parametrize("option", ["--amount", "--concentration"])
def test_sbml_simulate_refuses_an_unknown_id_in_amount_or_concentration(tmp_path, capsys,
                                                                        option):
    from helpers import sbml_from_antimony

    model = tmp_path / "m.xml"
    model.write_text(sbml_from_antimony("model m\n species S1 = 10\n J1: S1 -> ; k*S1\n"
                                        " k = 0.1\nend"))  # fmt: skip
    out = tmp_path / "o.csv"
    code, out_text, err = run(["sbml", "simulate", model, "--duration", "1", "--steps", "2",
                               option, "S2", "--out", out], capsys)  # fmt: skip
    assert "S2: unknown id in this model" in assert_one_line_error(code, out_text, err)
    assert not out.exists()  # was: written, S1 silently in its default unit


def test_a_malformed_scheduler_address_is_one_line(tmp_path, capsys):
    code, out, err = run(["sweep", _protocol(tmp_path), "--vary", "replicates=2",
                          "--engine", "dask", "--scheduler", "HOST:PORT",
                          "--out", tmp_path / "s"], capsys)  # fmt: skip
    line = assert_one_line_error(code, out, err)  # was a ValueError traceback
    assert "'HOST:PORT' is not a scheduler address, tcp://HOST:PORT" in line
    assert not (tmp_path / "s").exists()


def _sweep_until_a_point_is_stored(tmp_path):
    import subprocess
    import sys
    import time

    out = tmp_path / "sw"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "exotwin", "sweep", _protocol(tmp_path),
                             "--vary", "model.SV_k_nfkb_ERp44=0.2:1:40", "--engine",
                             "processes", "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list((out / "points").glob("*.parquet")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    return proc, out


@pytest.mark.parametrize("stop", ["sigterm", "worker_killed"])
def test_a_stopped_process_pool_sweep_says_what_is_stored_and_leaves_no_worker(tmp_path, stop):
    import subprocess

    psutil = pytest.importorskip("psutil")
    proc, out = _sweep_until_a_point_is_stored(tmp_path)
    workers = psutil.Process(proc.pid).children(recursive=True)
    if stop == "sigterm":  # kill, or a batch system ending the job
        proc.send_signal(signal.SIGTERM)
    else:  # the OOM killer taking a worker
        next(w for w in workers if "spawn_main" in " ".join(w.cmdline())).kill()
    try:
        _, err = proc.communicate(timeout=60)  # was: the pool's running tasks finished first
    except subprocess.TimeoutExpired:  # the failing test leaves no orphan behind
        for process in [proc, *workers]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        raise
    # was: exit -15 (SIGTERM) with the workers left running as orphans, or a
    # BrokenProcessPool traceback (a worker killed)
    assert proc.returncode == (130 if stop == "sigterm" else 2), err
    assert err.count("\n") == 1, err
    stored = len(list((out / "points").glob("*.parquet")))
    assert f" {stored} of 40 points are stored in {out}; the same command continues" in err
    if stop == "worker_killed":
        assert err.startswith("error: --engine: a worker process died")
    else:
        assert err.startswith("interrupted: ")
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, [w.cmdline() for w in alive]
    assert not list(out.rglob("*.tmp"))


def test_redirected_progress_is_a_line_with_the_time_left_on_stderr(capsys):
    from exotwin.cli_power import progress_bar

    with progress_bar("sweep p.yaml", every=0.0) as progress:  # stdout is no terminal here
        progress(4, 10)  # 4 points were done before this run
        progress(7, 10)
    out, err = capsys.readouterr()
    # was: nothing at all in a batch job's log, however long the sweep
    assert out == "" and err.startswith("sweep p.yaml: 7/10 done, 0:00:00 elapsed, about ")
    assert err.endswith(" left\n") and err.count("\n") == 1


def test_more_workers_than_cores_is_a_warning(tmp_path, capsys, monkeypatch):
    import exotwin.cli_power

    monkeypatch.setattr(exotwin.cli_power, "_cores", lambda: 2)
    code, out, err = run(["sweep", _protocol(tmp_path), "--vary", "replicates=2", "--engine",
                          "processes", "--workers", "64", "--out", tmp_path / "s"], capsys)
    assert code == 0 and "points: 1 (1 computed" in out
    assert err == ("warning: --workers 64 is more than the 2 cores this process may use; the "
                   "workers will share them (and each holds its own compiled models in "
                   "memory)\n")  # fmt: skip


@pytest.mark.parametrize(("vary", "message"), [
    ("model.SV_k_nfkb_ERp44=0.2:1:1", "N = 1 gives LO alone; write model.SV_k_nfkb_ERp44=0.2"),
    ("model.SV_k_nfkb_ERp44=0.2:1:1:log", "N = 1 gives LO alone"),
    ("model.SV_k_nfkb_ERp44=0.5,1,0.50", "0.5 given twice"),
])
def test_a_sweep_axis_that_drops_or_repeats_values_is_refused(tmp_path, capsys, vary, message):
    # was: 0.2 alone (HI dropped), and one point run twice and counted as two
    code, out, err = run(["sweep", _protocol(tmp_path), "--vary", vary, "--out",
                          tmp_path / "s"], capsys)  # fmt: skip
    assert message in assert_one_line_error(code, out, err)
    assert not (tmp_path / "s").exists()


def test_imagej_results_table_says_which_columns_to_add(tmp_path, capsys):
    results = tmp_path / "Results.csv"  # ImageJ Analyze > Measure with "Display label"
    results.write_text(" ,Label,Area,Mean,IntDen,RawIntDen\n1,blot.tif:1,1200,80.5,96600,96600\n")
    out = tmp_path / "out"
    code, out_text, err = run(["analyze", "western", results, "--loading", "GAPDH",
                               "--control", "NC", "--out", out], capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)  # was: "missing column; found , Label"
    assert "Results.csv: sample: an ImageJ Results table: add the columns sample, group" in line
    assert not out.exists()


def test_fit_data_without_times_says_which_column_is_empty(tmp_path, capsys):
    data = tmp_path / "readouts.csv"  # lab readouts written without a time, as `analyze flow`
    data.write_text("assay,sample,group,replicate,time_h,readout,value,unit\n"
                    "flow,a.fcs,control,1,,apoptotic_%,51.3,%\n")  # was: "no measurements"
    code, out_text, err = run(["fit", EXAMPLE, data, "--free", "model.SV_k_nfkb_ERp44=0.2:1",
                               "--out", tmp_path / "fit"], capsys)  # fmt: skip
    line = assert_one_line_error(code, out_text, err)
    assert "no row gives all of group, time_h, readout, value; empty: time_h (1 rows)" in line


@pytest.mark.parametrize("argv, names", [
    (["power", "xia2021-fig2D", "--simulations", "0"], "'--simulations'"),
    (["run", "--bogus"], "--bogus"),
    (["power"], "'protocol'"),
    (["no-such-command"], "'no-such-command'"),
    (["analyze", "flow", "--quantile", "2", "x.fcs"], "'--quantile'"),
])  # fmt: skip
def test_usage_errors_are_one_line(argv, names, capsys):
    line = assert_one_line_error(*run(argv, capsys))
    assert names in line and "--help" in line


def test_help_and_version_exit_zero(capsys):
    for argv in (["--help"], ["--version"], ["run", "--help"]):
        code, out, err = run(argv, capsys)
        assert code == 0 and out and not err


def test_main_leaves_a_callers_own_sigterm_handler_in_place(monkeypatch):
    # a program running exotwin.cli.main in-process with its own SIGTERM handler (a job
    # runner's clean-up) kept it only after main returned: during the run SIGTERM raised
    # KeyboardInterrupt in the caller's process instead
    import exotwin.cli as cli_module

    seen = []
    monkeypatch.setattr(cli_module, "app",
                        lambda **kwargs: seen.append(signal.getsignal(signal.SIGTERM)))

    def own(signum, frame):
        return None

    previous = signal.signal(signal.SIGTERM, own)
    try:
        with pytest.raises(SystemExit):
            cli_module.main(["--version"])
        assert seen == [own] and signal.getsignal(signal.SIGTERM) is own
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a standalone command: unwinds
        with pytest.raises(SystemExit):
            cli_module.main(["--version"])
        assert seen[1] is cli_module._interrupt
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)
