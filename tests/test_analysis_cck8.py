"""CCK-8 analysis: 4PL known answers, plate formats, ragged plates, the twin's readouts."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_helpers import outputs, read_or_one_line_error, run_cli
from exotwin.analysis import cck8, stats
from exotwin.assays import TIDY_COLUMNS
from exotwin.assays import cck8 as virtual_cck8
from exotwin.cells import new_population
from exotwin.cells.population import ALIVE, EARLY_APOPTOTIC
from exotwin.culture import Well
from exotwin.errors import ExotwinError

TRUE = {"bottom": 5.0, "top": 100.0, "ic50": 12.3, "hill": 1.4}
DOSES = np.array([0.0, 0.5, 1.5, 4.0, 10.0, 25.0, 60.0, 150.0])


def curve(dose):
    return cck8.logistic4(dose, TRUE["bottom"], TRUE["top"], np.log10(TRUE["ic50"]),
                          TRUE["hill"])


def test_4pl_recovers_known_parameters_exactly():
    x = np.repeat(DOSES, 3)
    fit = cck8.fit_4pl(x, curve(x))
    for name, value in TRUE.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-5)
    assert fit.r_squared == pytest.approx(1.0) and fit.n == 24


def test_4pl_confidence_interval_covers_the_truth_about_95_percent():
    rng = np.random.default_rng(7)
    x = np.repeat(DOSES, 3)
    covered, runs = 0, 200
    for _ in range(runs):
        fit = cck8.fit_4pl(x, curve(x) + rng.normal(0, 4.0, x.size))
        covered += fit.ic50_low <= TRUE["ic50"] <= fit.ic50_high
    assert 0.90 <= covered / runs <= 0.99


def test_4pl_needs_enough_doses():
    with pytest.raises(ExotwinError, match="at least 4 positive doses"):
        cck8.fit_4pl([0, 1, 2, 0, 1], [1, 2, 3, 4, 5])


def plate_od(viability, blank=0.08, scale=0.012):
    """OD of wells whose viability (% of control) is known."""
    return blank + scale * np.asarray(viability)


def write_grid(path, od_by_well, times=(24.0,), preamble=True):
    lines = ["Plate reader export,,", "Wavelength,450 nm,"] if preamble else []
    for t in times:
        lines += [f"Read at {t:g} h", "," + ",".join(str(i) for i in range(1, 13))]
        for r in "ABCDEFGH":
            lines.append(r + "," + ",".join(f"{od_by_well[(f'{r}{c}', t)]:.6f}"
                                             for c in range(1, 13)))
    path.write_text("\n".join(lines) + "\n")


def dose_plate(times=(24.0,)):
    """Layout: row A blanks; rows B-H x 12: doses (by column pairs) of one drug."""
    rows, od = [], {}
    doses = list(DOSES[1:]) + [0.0, 0.0, 0.0, 0.0, 0.0]
    for r in "ABCDEFGH":
        for c in range(1, 13):
            well = f"{r}{c}"
            if r == "A":
                rows.append({"well": well, "group": "blank", "dose": ""})
                value = 0.0
            else:
                dose = doses[c - 1]
                rows.append({"well": well, "group": "cisplatin", "dose": dose})
                value = float(curve(dose)) / float(curve(0.0)) * 100
            for t in times:
                od[(well, t)] = plate_od(value) if r != "A" else 0.08
    return pd.DataFrame(rows), od


def test_grid_csv_and_layout_give_exact_viability_and_ic50(tmp_path):
    layout, od = dose_plate(times=(24.0, 48.0))
    layout.to_csv(tmp_path / "layout.csv", index=False)
    write_grid(tmp_path / "plate.csv", od, times=(24.0, 48.0))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "cck8", tmp_path / "plate.csv", "--layout",
                                   tmp_path / "layout.csv", "--times", "24,48", "--out", out)
    assert code == 0, stderr
    fits = pd.read_csv(out / "ic50.csv")
    assert list(fits["time_h"]) == [24.0, 48.0]
    np.testing.assert_allclose(fits["ic50"], TRUE["ic50"], rtol=1e-4)
    np.testing.assert_allclose(fits["hill"], TRUE["hill"], rtol=1e-4)
    wells = pd.read_csv(out / "wells.csv")
    zero = wells[wells["dose"] == 0]
    np.testing.assert_allclose(zero["viability_pct"], 100.0, rtol=1e-6)
    np.testing.assert_allclose(wells["od_corrected"], wells["value"] - 0.08, atol=1e-9)
    assert {"time_course.png", "dose_response_24h.svg", "summary.html", "ic50.parquet"} <= \
        outputs(out)
    assert "IC50 12.3" in stdout


def test_xlsx_grid_and_long_format_read_the_same(tmp_path):
    layout, od = dose_plate()
    grid = pd.DataFrame([[r] + [od[(f"{r}{c}", 24.0)] for c in range(1, 13)] for r in "ABCDEFGH"],
                        columns=[""] + list(range(1, 13)))
    grid.to_excel(tmp_path / "plate.xlsx", index=False)
    long = pd.DataFrame([{"Well": f"{w[0]}{int(w[1:]):02d}", "OD450": v, "Time": t}
                         for (w, t), v in od.items()])
    long.to_csv(tmp_path / "long.csv", index=False)
    a = cck8.read_plate(tmp_path / "plate.xlsx", [24.0]).sort_values("well")
    b = cck8.read_plate(tmp_path / "long.csv").sort_values("well")
    np.testing.assert_allclose(a["od"].to_numpy(), b["od"].to_numpy(), rtol=1e-12)
    assert set(a["well"]) == set(b["well"]) and len(a) == 96 and (b["time_h"] == 24).all()


@pytest.mark.parametrize("damage,reason", [
    ("short_row", "well: well C12 at 0 h: no reading (saturated or not read)"),
    ("missing_row", "plate row H missing"),
    ("text", "well: well D3 at 0 h: 'OVER' is not an OD (saturated or not read): re-read"),
])
def test_ragged_plate_is_one_line_exit_2_and_nothing_written(tmp_path, damage, reason):
    layout, od = dose_plate()
    layout.to_csv(tmp_path / "layout.csv", index=False)
    write_grid(tmp_path / "plate.csv", od)
    lines = (tmp_path / "plate.csv").read_text().splitlines()
    row = {"short_row": 6, "missing_row": 11, "text": 7}[damage]
    if damage == "short_row":
        lines[row] = lines[row].rsplit(",", 1)[0]
    elif damage == "missing_row":
        del lines[row]
    else:
        lines[row] = lines[row].replace(lines[row].split(",")[3], "OVER", 1)
    (tmp_path / "plate.csv").write_text("\n".join(lines))
    out = tmp_path / "out"
    code, _, stderr = run_cli("analyze", "cck8", tmp_path / "plate.csv", "--layout",
                              tmp_path / "layout.csv", "--out", out)
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "plate.csv" in stderr and reason in stderr
    assert not out.exists()


def test_layout_well_without_reading_and_missing_blank_are_errors(tmp_path):
    layout, od = dose_plate()
    pd.DataFrame({"well": ["A1", "B1"], "od": [0.1, 0.5]}).to_csv(tmp_path / "p.csv",
                                                                  index=False)
    layout.to_csv(tmp_path / "layout.csv", index=False)
    with pytest.raises(ExotwinError, match="p.csv: well: layout wells"):
        cck8.analyze([tmp_path / "p.csv"], tmp_path / "layout.csv")
    no_blank = layout.assign(group=layout["group"].replace("blank", "medium"))
    no_blank.to_csv(tmp_path / "layout.csv", index=False)
    write_grid(tmp_path / "plate.csv", od)
    with pytest.raises(ExotwinError, match="no blank wells"):
        cck8.analyze([tmp_path / "plate.csv"], tmp_path / "layout.csv", control="cisplatin")


def twin_readouts(doses, seed=4):
    """The twin's virtual CCK-8 on wells whose living fraction follows the known curve."""
    pop = new_population("tumour_cell", 100, seed=2, cells_per_agent=100)
    rows, wells, sample = [], [], 0
    for dose in doses:
        for rep in range(3):
            p = pop.take(np.arange(100))
            alive = int(round(curve(dose)))  # agents of 100 cells still alive
            p.counts[alive:, EARLY_APOPTOTIC] = p.counts[alive:, ALIVE]
            p.counts[alive:, ALIVE] = 0
            wells.append(Well.seed(p, "96-well"))
            rows.append({"assay": "cck8", "sample": f"d{dose:g} #{rep + 1}", "group": "drug",
                         "replicate": rep + 1, "time_h": 48.0, "readout": "OD450",
                         "unit": "AU", "dose": dose})
            sample += 1
    od = virtual_cck8.od450(wells, seed, np.arange(sample))
    return pd.DataFrame(rows).assign(value=od)


def check_virtual_dose_response(tmp_path):
    """The twin's virtual CCK-8 over a dose series: IC50 recovered, CLI on its tidy table."""
    readouts = twin_readouts(DOSES)
    result = cck8.analyze_table(readouts, blank=virtual_cck8.CCK8Parameters().blank)
    (fit,) = result.fits.itertuples()
    assert fit.ic50_low <= TRUE["ic50"] <= fit.ic50_high
    assert fit.ic50 == pytest.approx(TRUE["ic50"], rel=0.15)
    readouts[list(TIDY_COLUMNS) + ["dose"]].to_parquet(tmp_path / "twin.parquet")
    code, stdout, stderr = run_cli("analyze", "cck8", tmp_path / "twin.parquet", "--blank",
                                   "0.1", "--out", tmp_path / "out")
    assert code == 0, stderr
    assert pd.read_csv(tmp_path / "out" / "ic50.csv")["ic50"].iloc[0] == pytest.approx(fit.ic50)


def check_protocol_run(tmp_path):
    """A protocol run's readouts and FCS files through cck8 and ``analyze flow``."""
    from exotwin.protocols import load
    from exotwin.protocols.run import run
    from test_protocol_run import PROTOCOL

    path = tmp_path / "mini.yaml"
    path.write_text(PROTOCOL)
    readouts = run(load(path), seed=3, out=tmp_path / "run").readouts
    result = cck8.analyze_table(readouts, control="NC", blank=0.1)
    nc = result.wells[result.wells["group"] == "NC"]
    assert nc.groupby("time_h")["viability_pct"].mean().to_numpy() == pytest.approx(100.0)
    c = result.comparisons
    assert list(c["time_h"]) == [12.0, 24.0] and set(c["group"]) == {"sh"}
    od = readouts[readouts["readout"] == "OD450"]
    for t, row in c.set_index("time_h").iterrows():
        sh = od[(od["group"] == "sh") & (od["time_h"] == t)]["value"] - 0.1
        nc_od = od[(od["group"] == "NC") & (od["time_h"] == t)]["value"] - 0.1
        assert row["mean"] == pytest.approx(100 * sh.mean() / nc_od.mean())
    fcs = sorted((tmp_path / "run" / "fcs").glob("*.fcs"))
    code, _, stderr = run_cli("analyze", "flow", *fcs, "--x", "PE-A", "--y", "7-AAD-A",
                              "--x-threshold", 700, "--y-threshold", 450, "--out",
                              tmp_path / "flow")
    assert code == 0, stderr
    q = pd.read_csv(tmp_path / "flow" / "quadrants.csv")
    flow_rows = readouts[readouts["readout"] == "early_apoptotic_%"]
    np.testing.assert_allclose(np.sort(q[q["quadrant"] == "x+y-"]["percent"]),
                               np.sort(flow_rows["value"]), rtol=1e-9)


def test_twin_readouts_go_through_the_same_functions(tmp_path):
    # one test, so that the model kernel is built once per session, not once per worker
    check_protocol_run(tmp_path)
    check_virtual_dose_response(tmp_path)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["1", "2", "0.5", "", "A", "B", "x", "1e3", "-"]),
                         max_size=14), max_size=12))
def test_random_plate_text_is_read_or_a_one_line_error(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("p") / "rand.csv"
    path.write_text("\n".join(",".join(r) for r in rows))
    frame = read_or_one_line_error(cck8.read_plate, path)
    assert frame is None or len(frame) % 96 == 0 or "well" in path.read_text()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_plate_grid_is_read_whole_or_a_one_line_error(tmp_path_factory, data):
    _, od = dose_plate()
    path = tmp_path_factory.mktemp("m") / "mut.csv"
    write_grid(path, od)
    cells = [line.split(",") for line in path.read_text().splitlines()]
    for _ in range(data.draw(st.integers(1, 4))):
        r = data.draw(st.integers(0, len(cells) - 1))
        if not cells[r]:
            continue
        c = data.draw(st.integers(0, len(cells[r]) - 1))
        action = data.draw(st.sampled_from(["drop", "text", "number", "dropline"]))
        if action == "drop":
            del cells[r][c]
        elif action == "text":
            cells[r][c] = data.draw(st.sampled_from(["", "OVER", "A", "1", "nan", "1e999"]))
        elif action == "number":
            cells[r][c] = str(data.draw(st.floats(-5, 5)))
        else:
            del cells[r]
    path.write_text("\n".join(",".join(c) for c in cells))
    frame = read_or_one_line_error(cck8.read_plate, path)
    assert frame is None or (len(frame) == 96 and frame["od"].notna().all())


@pytest.mark.parametrize("export", ["gen5", "decimal_comma", "tabs", "partial", "over"])
def test_plate_reader_exports_read_as_readers_write_them(tmp_path, export):
    # BioTek Gen5 puts the wavelength after column 12; readers in comma-decimal locales
    # write ';' (or tabs) and 0,095; a partial read leaves unused wells empty; a saturated
    # unused well reads OVER. Each was "plate row A has 13 (or 12, or 10) readings, not
    # 12 numbers"; wells the layout does not use are not needed
    layout, od = dose_plate()
    layout = layout[~layout["well"].str.endswith("12")]  # column 12 unused
    layout.to_csv(tmp_path / "layout.csv", index=False)
    write_grid(tmp_path / "plain.csv", od)
    lines = (tmp_path / "plain.csv").read_text().splitlines()
    grid = [i for i, line in enumerate(lines) if line[:2] in {f"{r}," for r in "ABCDEFGH"}]
    if export == "gen5":
        lines = [line + ",450" if i in grid else line for i, line in enumerate(lines)]
    elif export in ("decimal_comma", "tabs"):
        sep = ";" if export == "decimal_comma" else "\t"
        lines = [line.replace(",", sep).replace(".", ",") for line in lines]
    else:
        fill = "" if export == "partial" else "OVER"
        lines = [line.rsplit(",", 1)[0] + "," + fill if i in grid else line
                 for i, line in enumerate(lines)]  # fmt: skip
    (tmp_path / "plate.txt").write_text("\n".join(lines) + "\n")
    got = cck8.plate_readouts([tmp_path / "plate.txt"], tmp_path / "layout.csv")
    want = cck8.plate_readouts([tmp_path / "plain.csv"], tmp_path / "layout.csv")
    pd.testing.assert_frame_equal(got, want)
    assert len(got) == 88


def replicate_plates(tmp_path, n_plates=3):
    """Plates of independent experiments: blanks A1-A3, NC B1-B3, sh C1-C3 (triplicates)."""
    rng = np.random.default_rng(11)
    layout = pd.DataFrame({"well": [f"{r}{c}" for r in "ABC" for c in (1, 2, 3)],
                           "group": ["blank"] * 3 + ["NC"] * 3 + ["sh"] * 3, "dose": 0.0})
    layout.to_csv(tmp_path / "layout.csv", index=False)
    plates, expected = [], {"NC": [], "sh": []}
    for k in range(n_plates):
        blank, scale = 0.08 + 0.02 * k, 1.0 + 0.3 * k  # each experiment its own
        od = {(f"{r}{c}", 24.0): 0.05 for r in "ABCDEFGH" for c in range(1, 13)}
        truth = {"A": 0.0, "B": 1.0, "C": 0.55 + 0.05 * k}
        for r in "ABC":
            for c in (1, 2, 3):
                od[(f"{r}{c}", 24.0)] = round(blank + scale * truth[r] * rng.uniform(0.9, 1.1), 6)
        corrected = {r: np.mean([od[(f"{r}{c}", 24.0)] for c in (1, 2, 3)]) - blank
                     for r in "BC"}  # fmt: skip
        expected["NC"].append(100.0)
        expected["sh"].append(100.0 * corrected["C"] / corrected["B"])
        write_grid(tmp_path / f"plate{k + 1}.csv", od)
        plates.append(tmp_path / f"plate{k + 1}.csv")
    return plates, expected


def test_plates_of_independent_experiments_are_the_replicates(tmp_path):
    # three experiments' plates, triplicate wells each: each plate is blanked and
    # normalised by its own wells, its triplicates averaged, and n = 3 plates (was:
    # "two plates read at the same time; give --times")
    plates, expected = replicate_plates(tmp_path)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "cck8", *plates, "--layout",
                                   tmp_path / "layout.csv", "--times", "24", "--control", "NC",
                                   "--out", out)  # fmt: skip
    assert code == 0, stderr
    assert "3 plates read at the same times: each plate is one replicate" in stdout
    row = pd.read_csv(out / "comparisons.csv").iloc[0]
    assert row["n"] == 3 and row["control_n"] == 3
    assert row["mean"] == pytest.approx(np.mean(expected["sh"]), rel=1e-12)
    assert row["sd"] == pytest.approx(np.std(expected["sh"], ddof=1), rel=1e-9)
    assert row["p"] == pytest.approx(stats.t_test(expected["sh"], expected["NC"]), rel=1e-9)


def test_layout_replicate_column_averages_its_wells_first(tmp_path):
    # one plate, the layout's replicate column groups wells: n counts replicates, not wells
    plates, _ = replicate_plates(tmp_path, n_plates=1)
    layout = pd.read_csv(tmp_path / "layout.csv").assign(replicate=[1, 1, 2, 1, 1, 2, 1, 1, 2])
    layout.to_csv(tmp_path / "layout.csv", index=False)
    result = cck8.analyze(plates, tmp_path / "layout.csv", times=[24.0], control="NC")
    wells = result.wells[result.wells["group"] == "sh"]
    want = [wells["viability_pct"].iloc[:2].mean(), wells["viability_pct"].iloc[2]]
    row = result.comparisons.iloc[0]
    assert row["n"] == 2 and row["mean"] == pytest.approx(np.mean(want), rel=1e-12)
    summary = result.summary.set_index("group").loc["sh"]
    assert (summary["n"], summary["wells"]) == (2, 3)


def _fit_plate(tmp_path, name, table):
    """``analyze cck8`` of one 24-h plate with tmp_path/layout.csv: (its fit, stdout)."""
    write_grid(tmp_path / f"{name}.csv", table)
    code, stdout, stderr = run_cli("analyze", "cck8", tmp_path / f"{name}.csv", "--layout",
                                   tmp_path / "layout.csv", "--times", "24",
                                   "--out", tmp_path / name)  # fmt: skip
    assert code == 0, stderr
    return pd.read_csv(tmp_path / name / "ic50.csv").iloc[0], stdout


def test_dose_of_half_viability_is_reported_beside_the_curves_midpoint(tmp_path):
    # the 4PL "IC50" is the midpoint between top and bottom; a resistant line whose
    # viability stays above 70 % has a midpoint but no dose of 50 % viability (was printed
    # as its IC50 without a word)
    layout, od = dose_plate()
    layout.to_csv(tmp_path / "layout.csv", index=False)
    resistant = {}
    for (well, t), v in od.items():
        dose = layout.set_index("well").loc[well, "dose"]
        viability = cck8.logistic4(dose, 70.0, 100.0, np.log10(12.3), 1.4) if well[0] != "A" \
            else 0.0
        resistant[(well, t)] = plate_od(viability) if well[0] != "A" else v
    for name, table in {"sensitive": od, "resistant": resistant}.items():
        fit, stdout = _fit_plate(tmp_path, name, table)
        assert fit["ic50"] == pytest.approx(12.3, rel=1e-4)
        if name == "sensitive":  # 12.3 * ((100 - 50) / (50 - 5)) ** (1 / 1.4)
            assert fit["ic50_absolute"] == pytest.approx(12.3 * (50 / 45) ** (1 / 1.4), rel=1e-4)
            assert fit["within_doses"] and "50 % viability at 13.2" in stdout
        else:
            assert np.isnan(fit["ic50_absolute"]) and not fit["within_doses"]
            assert "50 % viability not reached within the doses tested" in stdout


def test_an_ic50_interval_the_doses_cannot_pin_down_is_not_printed_as_numbers(tmp_path):
    # a line that does not respond: the Wald interval spans dozens of decades (it was
    # printed as '95% CI 1.4e-47-7.9e+47')
    layout, od = dose_plate()
    layout.to_csv(tmp_path / "layout.csv", index=False)
    jitter = np.random.default_rng(0).normal(0.0, 2.0, size=len(od))
    flat = {key: (plate_od(100.0 + j) if key[0][0] != "A" else v)
            for (key, v), j in zip(od.items(), jitter, strict=True)}  # fmt: skip
    for name, table in {"responding": od, "flat": flat}.items():
        fit, stdout = _fit_plate(tmp_path, name, table)
        if name == "responding":
            assert fit["ci_determined"] and "95% CI " in stdout
            assert fit["ic50_low"] < fit["ic50"] < fit["ic50_high"]
        else:
            assert not fit["ci_determined"]
            assert "95% CI not determined by these doses" in stdout, stdout


def test_a_grid_with_both_decimal_marks_is_refused_not_misread(tmp_path):
    # a ';' grid written with decimal points where one well reads "1,234" (a thousands
    # separator, or a typed-in value): was read as OD 1.234 without a word
    layout, od = dose_plate()
    layout.to_csv(tmp_path / "layout.csv", index=False)
    write_grid(tmp_path / "plain.csv", od)
    lines = [line.replace(",", ";") for line in (tmp_path / "plain.csv").read_text().splitlines()]
    b = next(i for i, line in enumerate(lines) if line.startswith("B;"))
    cells = lines[b].split(";")
    cells[3] = "1,234"  # well B3
    lines[b] = ";".join(cells)
    (tmp_path / "plate.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ExotwinError, match="well B3 at 24 h: '1,234' is not an OD"):
        cck8.plate_readouts([tmp_path / "plate.csv"], tmp_path / "layout.csv", [24.0])
