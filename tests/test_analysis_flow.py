"""`exotwin analyze flow` on virtual FCS files: gates equal a direct count; bad input."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_helpers import outputs, read_or_one_line_error, run_cli, virtual_fcs
from exotwin.analysis import stats
from exotwin.analysis.flow import FcsData, compensate, gate, read_fcs
from exotwin.assays import flow
from exotwin.errors import ExotwinError

X, Y = "PE-A", "7-AAD-A"


def direct_percent(path, tx, ty):
    """Quadrant percentages counted on the events, compensated here with numpy alone."""
    import flowio

    raw = np.asarray(flowio.FlowData(str(path)).as_array(preprocess=False), float)
    true = raw[:, 2:4] @ np.linalg.inv(flow.spillover_matrix(flow.FlowParameters()))
    xp, yp = true[:, 0] > tx, true[:, 1] > ty
    masks = {"x-y-": ~xp & ~yp, "x+y-": xp & ~yp, "x-y+": ~xp & yp, "x+y+": xp & yp}
    return {q: 100.0 * m.sum() / len(raw) for q, m in masks.items()}


def test_cli_quadrants_equal_a_direct_count_on_virtual_files(tmp_path):
    a, _ = virtual_fcs(tmp_path / "a.fcs", early=0.2, late=0.1, sample_id=1)
    b, _ = virtual_fcs(tmp_path / "b.fcs", early=0.05, late=0.3, sample_id=2)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "flow", a, b, "--x", X, "--y", Y,
                                   "--x-threshold", 700, "--y-threshold", 450, "--out", out)
    assert code == 0, stderr
    table = pd.read_csv(out / "quadrants.csv")
    assert list(table.columns) == ["file", "quadrant", "events", "percent"]
    assert list(table["quadrant"][:4]) == ["x-y-", "x+y-", "x-y+", "x+y+"]
    for path in (a, b):
        got = table[table["file"] == path.name].set_index("quadrant")["percent"]
        expected = direct_percent(path, 700, 450)
        for q, value in expected.items():
            assert got[q] == pytest.approx(value, abs=1e-9)
    got_a = table[table["file"] == "a.fcs"].set_index("quadrant")["percent"]
    assert got_a["x+y-"] == pytest.approx(20.0, abs=2.5)  # the fates the twin drew
    assert got_a["x+y+"] == pytest.approx(10.0, abs=2.0)
    files = outputs(out)
    assert {"quadrants.parquet", "readouts.csv", "summary.html", "dotplot_a.png",
            "dotplot_b.svg"} <= files
    assert pd.read_parquet(out / "quadrants.parquet").equals(table)


def test_thresholds_from_an_unstained_control(tmp_path):
    control, _ = virtual_fcs(tmp_path / "unstained.fcs", early=0.0, late=0.0, sample_id=9)
    sample, _ = virtual_fcs(tmp_path / "s.fcs", early=0.3, late=0.2, sample_id=3)
    result = gate([sample], X, Y, control=control, quantile=0.99)
    events = compensate(read_fcs(control)).events
    assert result.thresholds == (pytest.approx(np.quantile(events[:, 2], 0.99)),
                                 pytest.approx(np.quantile(events[:, 3], 0.99)))
    on_control = gate([control], X, Y, control=control).quadrants.set_index("quadrant")
    assert on_control.loc["x-y-", "percent"] == pytest.approx(98.0, abs=1.0)
    fixed = gate([sample], X, Y, x_threshold=1000.0, control=control)
    assert fixed.thresholds[0] == 1000.0 and fixed.thresholds[1] == result.thresholds[1]


@pytest.mark.parametrize("version", [b"FCS2.0", b"FCS3.0"])
def test_older_fcs_versions_are_read(tmp_path, version):
    path, _ = virtual_fcs(tmp_path / "v.fcs", early=0.1, late=0.1, n_events=500)
    raw = path.read_bytes()
    older = tmp_path / "older.fcs"
    older.write_bytes(version + raw[6:])
    a, b = read_fcs(path), read_fcs(older)
    np.testing.assert_array_equal(a.events, b.events)
    assert b.channels == list(flow.CHANNELS)


@pytest.mark.parametrize("version", [b"FCS9.9", b"FCS4.0"])
def test_unknown_fcs_version_is_refused(tmp_path, version):
    path, _ = virtual_fcs(tmp_path / "v.fcs", early=0.1, late=0.1, n_events=50)
    bogus = tmp_path / "bogus.fcs"
    bogus.write_bytes(version + path.read_bytes()[6:])
    with pytest.raises(ExotwinError, match=r"bogus.fcs: FCS version '\d\.\d' is not one of"):
        read_fcs(bogus)


def test_without_spillover_compensation_is_identity():
    fcs = FcsData("m.fcs", np.ones((3, 2)), ["A", "B"], {})
    assert compensate(fcs) is fcs


def test_singular_spillover_is_an_error():
    fcs = FcsData("s.fcs", np.ones((3, 2)), ["A", "B"], {"spill": "2,A,B,1,1,1,1"})
    with pytest.raises(ExotwinError, match="s.fcs: spillover matrix is singular"):
        compensate(fcs)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "channel"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, damage):
    good, _ = virtual_fcs(tmp_path / "good.fcs", early=0.1, late=0.1, n_events=300)
    bad, _ = virtual_fcs(tmp_path / "bad.fcs", early=0.1, late=0.1, n_events=300)
    raw = bad.read_bytes()
    if damage == "truncate":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"FCS3.1  " + bytes(range(256)) * 3)
    y = "FITC-A" if damage == "channel" else Y
    out = tmp_path / "out"
    code, _, stderr = run_cli("analyze", "flow", good, bad, "--x", X, "--y", y,
                              "--x-threshold", 1, "--y-threshold", 1, "--out", out)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert ("good.fcs" if damage == "channel" else "bad.fcs") in lines[0]
    if damage == "channel":
        assert "no channel 'FITC-A'" in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_missing_thresholds_without_control_is_an_error(tmp_path):
    good, _ = virtual_fcs(tmp_path / "g.fcs", early=0.1, late=0.1, n_events=100)
    code, _, stderr = run_cli("analyze", "flow", good, "--x", X, "--y", Y, "--out",
                              tmp_path / "o")
    assert code == 2 and "x-threshold" in stderr and not (tmp_path / "o").exists()


def test_real_process_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "broken.fcs"
    bad.write_bytes(b"FCS3.1" + b"\0" * 50)
    proc = subprocess.run([sys.executable, "-m", "exotwin", "analyze", "flow", str(bad),
                           "--x", X, "--y", Y, "--x-threshold", "1", "--y-threshold", "1",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "broken.fcs" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def fcs_bytes(tmp_path_factory):
    path, _ = virtual_fcs(tmp_path_factory.mktemp("fcs") / "m.fcs", 0.1, 0.1, n_events=50)
    return path.read_bytes()


@settings(max_examples=int(os.environ.get("FUZZ", 60)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_fcs_is_read_or_a_one_line_error(tmp_path, fcs_bytes, data):
    raw = bytearray(fcs_bytes)
    kind = data.draw(st.sampled_from(["flip", "cut", "splice", "random"]))
    if kind == "flip":
        for i in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
            raw[i] = data.draw(st.integers(0, 255))
    elif kind == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "splice":
        at = data.draw(st.integers(0, len(raw)))
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=40))
    else:
        raw = bytearray(data.draw(st.binary(max_size=300)))
    path = tmp_path / "mutant.fcs"
    path.write_bytes(bytes(raw))
    fcs = read_or_one_line_error(read_fcs, path)
    assert fcs is None or (fcs.events.ndim == 2 and fcs.events.shape[1] == len(fcs.channels))


def test_unreadable_byte_order_is_an_error_not_garbage(tmp_path):
    path, _ = virtual_fcs(tmp_path / "b.fcs", 0.1, 0.1, n_events=50)
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"1,2,3,4", b"1,2,9,4", 1))
    with pytest.raises(ExotwinError, match="b.fcs: not a readable FCS file: unsupported byte"):
        read_fcs(path)


def test_files_with_the_same_name_get_their_own_dot_plots(tmp_path):
    (tmp_path / "r1").mkdir()
    (tmp_path / "r2").mkdir()
    a, _ = virtual_fcs(tmp_path / "r1" / "s.fcs", 0.1, 0.1, n_events=200, sample_id=1)
    b, _ = virtual_fcs(tmp_path / "r2" / "s.fcs", 0.3, 0.1, n_events=200, sample_id=2)
    code, _, stderr = run_cli("analyze", "flow", a, b, "--x", X, "--y", Y, "--x-threshold", 700,
                              "--y-threshold", 450, "--out", tmp_path / "o")
    assert code == 0, stderr
    assert {"dotplot_s.png", "dotplot_s_2.png"} <= outputs(tmp_path / "o")


def test_rerun_into_the_same_out_drops_figures_of_inputs_no_longer_given(tmp_path):
    from exotwin.analysis.flow import analyze

    a, _ = virtual_fcs(tmp_path / "a.fcs", early=0.1, late=0.1, n_events=300)
    b, _ = virtual_fcs(tmp_path / "b.fcs", early=0.2, late=0.1, n_events=300)
    out = tmp_path / "out"
    options = dict(x_threshold=1000.0, y_threshold=1000.0)
    analyze([a, b], flow.CHANNELS[2], flow.CHANNELS[3], out, **options)
    assert (out / "dotplot_b.png").is_file()
    (out / "my_notes.txt").write_text("mine")
    analyze([a], flow.CHANNELS[2], flow.CHANNELS[3], out, **options)
    assert (out / "dotplot_a.png").is_file() and not (out / "dotplot_b.png").exists()
    assert (out / "my_notes.txt").read_text() == "mine"


def write_by_hand(path, events, names, datatype="F", bits=None, ranges=None,
                  byteord="1,2,3,4", delim="/", header_zero=False, pne=None, extra=None,
                  analysis=None, stains=None):
    """An FCS 3.1 file written here with numpy (not exotwin's or flowio's writer)."""
    n, p = events.shape
    order = ">" if byteord == "4,3,2,1" else "<"
    size = {"F": [32] * p, "D": [64] * p}.get(datatype, bits)
    kind = {"F": "f", "D": "f"}.get(datatype, "u")
    record = np.dtype([(f"c{i}", f"{order}{kind}{b // 8}") for i, b in enumerate(size)])
    rows = np.zeros(n, dtype=record)
    for i in range(p):
        rows[f"c{i}"] = events[:, i]
    data = rows.tobytes()
    keys = {"$BYTEORD": byteord, "$DATATYPE": datatype, "$MODE": "L", "$NEXTDATA": "0",
            "$PAR": str(p), "$TOT": str(n), **(extra or {})}
    for i, name in enumerate(names, 1):
        keys |= {f"$P{i}N": name, f"$P{i}B": str(size[i - 1]), f"$P{i}S": (stains or names)[i - 1],
                 f"$P{i}E": (pne or ["0,0"] * p)[i - 1],
                 f"$P{i}R": str((ranges or [262144] * p)[i - 1])}

    def segment(pairs):
        d = delim
        return (d + d.join(str(x).replace(d, d + d) for kv in pairs.items() for x in kv)
                + d).encode()  # fmt: skip

    ana = segment(analysis) if analysis else b""
    offsets = dict.fromkeys(("$BEGINDATA", "$ENDDATA", "$BEGINANALYSIS", "$ENDANALYSIS"), 0)
    for _ in range(4):  # the offsets' own digits move the segments: iterate to a fixed point
        text = segment(keys | {k: str(v) for k, v in offsets.items()})
        end_text = 256 + len(text) - 1
        start = end_text + 1 + len(ana)
        offsets = {"$BEGINDATA": start, "$ENDDATA": start + len(data) - 1,
                   "$BEGINANALYSIS": end_text + 1 if ana else 0,
                   "$ENDANALYSIS": end_text + len(ana) if ana else 0}
    data_offsets = (0, 0) if header_zero else (offsets["$BEGINDATA"], offsets["$ENDDATA"])
    header = b"FCS3.1    " + b"".join(f"{v:>8}".encode() for v in (
        256, end_text, *data_offsets, offsets["$BEGINANALYSIS"], offsets["$ENDANALYSIS"]))
    path.write_bytes(header.ljust(256) + text + ana + data)
    return path


RNG_EVENTS = np.random.default_rng(5).integers(0, 60000, (500, 3)).astype(float)


@pytest.mark.parametrize("options", [
    {"datatype": "F"}, {"datatype": "F", "byteord": "4,3,2,1"},
    {"datatype": "D"}, {"datatype": "D", "byteord": "4,3,2,1"},
    {"datatype": "I", "bits": [16] * 3, "ranges": [65536] * 3},
    {"datatype": "I", "bits": [32] * 3, "byteord": "4,3,2,1"},
    {"datatype": "I", "bits": [16, 32, 32], "ranges": [65536, 2**20, 2**20]},
    {"datatype": "F", "delim": "|", "extra": {"$FIL": "x|y.fcs"}},
    {"datatype": "F", "delim": "\x0c", "analysis": {"GATE": "R1"}},
    {"datatype": "F", "header_zero": True},  # was: "discrepancy in the DATA start byte"
])
def test_instrument_fcs_layouts_read_back_exactly(tmp_path, options):
    path = write_by_hand(tmp_path / "lab.fcs", RNG_EVENTS, ["FSC-A", "FITC-A", "PI-A"],
                         **options)  # fmt: skip
    fcs = read_fcs(path)
    assert fcs.channels == ["FSC-A", "FITC-A", "PI-A"]
    np.testing.assert_array_equal(fcs.events, RNG_EVENTS)


def test_integer_channels_are_masked_to_their_range_and_log_ones_linearised(tmp_path):
    ten_bit = np.random.default_rng(6).integers(0, 1024, (400, 2))
    flags = np.random.default_rng(7).integers(0, 64, (400, 2)) << 10  # bits above $PnR
    path = write_by_hand(tmp_path / "calibur.fcs", (ten_bit + flags).astype(float),
                         ["FL1-H", "FL2-H"], datatype="I", bits=[16, 16],
                         ranges=[1024, 1024], pne=["0,0", "4,1"])  # fmt: skip
    fcs = read_fcs(path)
    np.testing.assert_array_equal(fcs.events[:, 0], ten_bit[:, 0])
    # a 4-decade log channel: 10 ** (4 * channel / 1024); was read as the channel number
    np.testing.assert_allclose(fcs.events[:, 1], 10.0 ** (4 * ten_bit[:, 1] / 1024), rtol=1e-12)


@pytest.mark.parametrize(("edit", "reason"), [
    ({"extra": {"$TOT": "900"}}, "$TOT says 900 events, the DATA segment holds 500"),
    ({"extra": {"$MODE": "C"}}, "$MODE C is a histogram, not list-mode events"),
    ({"datatype": "A", "bits": [32] * 3}, "$DATATYPE 'A' is not read"),
    ({"extra": {"$NEXTDATA": "99"}}, "holds several data sets ($NEXTDATA is not 0)"),
    (None, "not an FCS file (it does not begin with 'FCS')"),
])
def test_fcs_the_reader_cannot_trust_is_one_line_exit_2(tmp_path, edit, reason):
    path = tmp_path / "lab.fcs"
    if edit is None:
        path.write_text("Well,FITC-A\nA1,100\n")
    else:
        options = {"datatype": "F", **edit}
        if options["datatype"] == "A":
            write_by_hand(path, RNG_EVENTS, ["A", "B", "C"], datatype="I", bits=[32] * 3)
            path.write_bytes(path.read_bytes().replace(b"$DATATYPE/I", b"$DATATYPE/A"))
        else:
            write_by_hand(path, RNG_EVENTS, ["A", "B", "C"], **options)
    code, _, stderr = run_cli("analyze", "flow", path, "--x", "A", "--y", "B",
                              "--x-threshold", 1, "--y-threshold", 1, "--out", tmp_path / "o")
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {path}: {reason}")
    assert not (tmp_path / "o").exists()


def test_channels_and_spillover_may_name_the_stain(tmp_path):
    # FlowJo shows $PnS ("Annexin V-FITC"); some instruments name the $SPILLOVER channels
    # by it; was "no channel 'Annexin V-FITC'" and "spillover names channels the file lacks"
    spill = {"$SPILLOVER": "2,Annexin V-FITC,PI,1,0.1,0.05,1"}
    stains = ["FSC-A", "Annexin V-FITC", "PI"]
    path = write_by_hand(tmp_path / "s.fcs", RNG_EVENTS, ["FSC-A", "FL1-A", "FL3-A"],
                         stains=stains, extra=spill)  # fmt: skip
    by_stain = gate([path], "Annexin V-FITC", "PI", 30000, 30000).quadrants
    by_name = gate([path], "FL1-A", "FL3-A", 30000, 30000).quadrants
    pd.testing.assert_frame_equal(by_stain, by_name)
    fcs = read_fcs(path)
    want = RNG_EVENTS[:, 1:] @ np.linalg.inv([[1, 0.1], [0.05, 1]])
    np.testing.assert_allclose(compensate(fcs).events[:, 1:], want, rtol=1e-12)
    with pytest.raises(ExotwinError, match=r"no channel 'PE-A'; channels are FSC-A, "
                                           r"FL1-A \(Annexin V-FITC\), FL3-A \(PI\)"):
        fcs.column("PE-A")


def test_groups_sheet_compares_each_quadrant_per_file_replicate(tmp_path):
    # triplicate tubes per group, as a paper's apoptosis panel; was: no way to name the
    # groups, every file its own group and no test
    files, rows = [], ["file,group"]
    for g, early in (("NC", 0.05), ("sh", 0.2)):
        for r in range(3):
            path, _ = virtual_fcs(tmp_path / f"{g}_{r}.fcs", early, 0.1, n_events=1500,
                                  seed=r + 1, sample_id=len(files))  # fmt: skip
            files.append(path)
            rows.append(f"{path.name},{g}")
    (tmp_path / "sheet.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "flow", *files, "--x", X, "--y", Y,
                                   "--x-threshold", 700, "--y-threshold", 450, "--groups",
                                   tmp_path / "sheet.csv", "--control-group", "NC", "--out", out)
    assert code == 0, stderr
    q = pd.read_csv(out / "quadrants.csv")
    x_pos = q[q["quadrant"].isin(["x+y-", "x+y+"])].groupby("file", sort=False)["percent"].sum()
    nc, sh = x_pos.to_numpy()[:3], x_pos.to_numpy()[3:]
    row = pd.read_csv(out / "comparisons.csv").set_index("quadrant").loc["x+"]
    assert (row["group"], row["n"], row["control_n"]) == ("sh", 3, 3)
    assert row["mean"] == pytest.approx(sh.mean()) and row["control_mean"] == pytest.approx(
        nc.mean())
    assert row["p"] == pytest.approx(stats.t_test(sh, nc), rel=1e-12)
    assert "x+ sh: " in stdout and (out / "quadrant_bars.png").exists()
    readouts = pd.read_csv(out / "readouts.csv")
    assert list(readouts["group"].unique()) == ["NC", "sh"]
    (tmp_path / "sheet.csv").write_text("\n".join(rows[:-1]) + "\n")
    code, _, stderr = run_cli("analyze", "flow", *files, "--x", X, "--y", Y, "--x-threshold", 7,
                              "--y-threshold", 4, "--groups", tmp_path / "sheet.csv",
                              "--control-group", "NC", "--out", tmp_path / "o2")  # fmt: skip
    assert code == 2 and f"file: no group for {files[-1]}" in stderr


def test_lab_readouts_of_the_twins_own_fcs_files_equal_the_twins(tmp_path):
    # --apoptosis --time name the rows as the twin's flow assay does, so lab files can be
    # set beside the twin's (and fitted); was "x+y- %" rows with no time, which `exotwin
    # fit` refused as "no measurements"
    from pathlib import Path

    from exotwin.protocols.measure import FLOW_THRESHOLDS

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "knockdown_cisplatin.yaml"
    code, _, stderr = run_cli("run", example, "--out", tmp_path / "kd", "--seed", 1)
    assert code == 0, stderr
    files = sorted((tmp_path / "kd" / "fcs").glob("*.fcs"))
    sheet = ["file,group"] + [f"{f.name},{f.name.split('_')[1]}" for f in files]
    (tmp_path / "sheet.csv").write_text("\n".join(sheet) + "\n")
    code, _, stderr = run_cli("analyze", "flow", *files, "--x", X, "--y", Y, "--x-threshold",
                              FLOW_THRESHOLDS[X], "--y-threshold", FLOW_THRESHOLDS[Y],
                              "--groups", tmp_path / "sheet.csv", "--time", 48, "--apoptosis",
                              "--out", tmp_path / "lab")  # fmt: skip
    assert code == 0, stderr
    lab = pd.read_csv(tmp_path / "lab" / "readouts.csv")
    twin = pd.read_parquet(next((tmp_path / "kd" / "readouts").glob("*.parquet")))
    twin = twin[twin["assay"] == "flow"]
    key = ["group", "replicate", "time_h", "readout"]
    both = lab.merge(twin, on=key, suffixes=("_lab", "_twin"), validate="one_to_one")
    assert len(both) == len(twin) == len(lab) == 18
    np.testing.assert_allclose(both["value_lab"], both["value_twin"], rtol=1e-12)


def test_groups_sheet_of_same_named_files_in_two_folders_is_not_matched_by_name(tmp_path):
    # one tube name per day, each day's files in its own folder: was the first row's
    # group for both files (matched by name), NC vs NC without a word
    from exotwin.analysis.flow import read_groups

    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "s1.fcs").write_bytes(b"")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("file,group\nday1/s1.fcs,NC\nday2/s1.fcs,sh\n")
    files = [tmp_path / "day1" / "s1.fcs", tmp_path / "day2" / "s1.fcs"]
    assert read_groups(sheet, files) == ["NC", "sh"]  # paths relative to the sheet
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    (elsewhere / "s1.fcs").write_bytes(b"")
    with pytest.raises(ExotwinError, match="matches the rows day1/s1.fcs, day2/s1.fcs by its "
                                           "name only"):  # fmt: skip
        read_groups(sheet, [elsewhere / "s1.fcs"])
    sheet.write_text("file,group\ns1.fcs,NC\n")  # a unique name still matches
    assert read_groups(sheet, [elsewhere / "s1.fcs"]) == ["NC"]
