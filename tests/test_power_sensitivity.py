"""Power by simulation and global sensitivity on tiny protocols."""

from pathlib import Path

import pandas as pd
import pytest

from exotwin.cli import main
from exotwin.errors import ExotwinError
from exotwin.power import parse_ns, power, wilson

DATA = Path(__file__).parent / "data"
HUGE = DATA / "power_huge.yaml"
NULL = DATA / "power_null.yaml"


def test_wilson_interval_and_n_parsing():
    lo, hi = wilson(10, 10)
    assert hi == pytest.approx(1.0) and 0.69 < lo < 0.73
    lo, hi = wilson(0, 20)
    assert lo == 0.0 and 0.15 < hi < 0.17
    assert parse_ns("6,3, 4") == [3, 4, 6] and parse_ns("3..5") == [3, 4, 5]
    with pytest.raises(ExotwinError, match="at least 2"):
        parse_ns("1,3")


def test_huge_effect_is_detected_at_every_n(tmp_path):
    res = power(HUGE, "3,4,5", tmp_path, simulations=8)
    table = pd.read_csv(tmp_path / "power.csv")
    assert list(table["n"]) == [3, 4, 5] and set(table["claim"]) == {"huge"}
    assert (table["power"] == 1.0).all() and (table["ci_low"] > 0.6).all()
    assert (tmp_path / "power.png").stat().st_size > 0 and (tmp_path / "power.svg").is_file()
    pd.testing.assert_frame_equal(res["table"], table, check_dtype=False)


def test_no_effect_gives_the_false_positive_rate(tmp_path):
    # 200 simulated experiments of two identical groups: P < 0.05 in 5 % of them (either
    # direction), a directional pass in 2.5 %. Binomial SD of 5 % at 200: 1.5 %.
    res = power(NULL, "3", tmp_path, simulations=200)
    (row,) = res["table"].itertuples()
    assert row.simulations == 200 and row.not_tested == 0
    # bounds at 99.9 % of the binomial (3.3 SD), so that a valid test fails by chance
    # about once in a thousand seed sets, not once in twenty
    assert 0.005 <= row.significant <= 0.10
    assert row.power <= 0.065


def test_same_seeds_same_power_on_processes(tmp_path):
    a = power(HUGE, "2", tmp_path / "a", simulations=4)["table"]
    b = power(HUGE, "2", tmp_path / "b", simulations=4, engine="processes")["table"]
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "a" / "power.json").read_text() != ""


def test_power_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "p"
    with pytest.raises(SystemExit) as exc:
        main(["power", str(HUGE), "--n", "1,3", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --n:") and "\n" not in err
    assert not out.exists()


SENS = ["--vary", "model.ERp44_expression=0.2:1", "--vary", "model.GSDME_expression=0.2:1"]


@pytest.mark.parametrize("method, key", [("sobol", "ST"), ("morris", "mu_star")])
def test_sensitivity_ranks_the_parameter_the_readout_depends_on(tmp_path, capsys, method, key):
    # ERp44 protein follows its synthesis (ERp44_expression); GSDME does not feed back on it
    out = tmp_path / method
    with pytest.raises(SystemExit) as exc:
        main(["sensitivity", str(NULL), "--readout", "ERp44/GAPDH", *SENS, "--method", method,
              "--samples", "8" if method == "sobol" else "4", "--group", "NC", "--out", str(out)])
    assert exc.value.code == 0
    table = pd.read_csv(out / "indices.csv").set_index("parameter")[key]
    strong, none = table["model.ERp44_expression"], table["model.GSDME_expression"]
    assert strong > 0.3 and abs(none) < 0.01 * strong
    assert (out / "indices.png").stat().st_size > 0 and (out / "samples.csv").is_file()
    assert "runs: " in capsys.readouterr().out


@pytest.mark.parametrize("args, field", [
    (["--vary", "model.nope=0:1"], "model.nope"),
    (["--vary", "model.ERp44_expression=1:0"], "--vary"),
    (["--vary", "model.ERp44_expression=0:1", "--method", "fast"], "--method"),
    (["--vary", "model.ERp44_expression=0:1", "--samples", "6"], "--samples"),
    (["--vary", "model.ERp44_expression=0:1", "--group", "X"], "--group"),
])
def test_sensitivity_bad_input(tmp_path, capsys, args, field):
    out = tmp_path / "s"
    with pytest.raises(SystemExit) as exc:
        main(["sensitivity", str(NULL), "--readout", "ERp44/GAPDH", *args, "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and field in err and "\n" not in err
    assert not out.exists()
