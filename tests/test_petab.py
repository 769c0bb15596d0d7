"""PEtab export of a fit problem: petab's linter accepts it, libRoadRunner simulating the
exported SBML under each exported condition agrees with exotwin's own single-cell kinetics
of that group, and bad input is one line, exit 2, nothing written."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exotwin.cells import new_population
from exotwin.cells.lines import cell_line_parameters
from exotwin.cli import main
from exotwin.culture import coupling
from exotwin.engines import result_frame, run_task, task
from exotwin.kinetics import simulate
from exotwin.power import load_protocol
from exotwin.protocols import schema as S
from exotwin.protocols import units
from exotwin.protocols.run import _drugs_at, _group_parameters, pre_culture
from test_fit import FREE, NULL, synthetic  # noqa: F401  (fixture)

pytest.importorskip("petab.v1")
pytestmark = pytest.mark.filterwarnings("ignore:::petab")  # its pandas 4 deprecations
roadrunner = pytest.importorskip("roadrunner")

KNOCKDOWN = Path(__file__).parent / "data" / "petab_knockdown.yaml"
KD_FREE = ["model.ERp44_expression=0.05:5", "model.k_dil=0.001:1"]


@pytest.fixture(scope="module")
def kd_data(tmp_path_factory) -> Path:
    """Westerns (ERp44, GRP78; 24 h and 48 h) of the knockdown protocol, seed 5."""
    spec = load_protocol(KNOCKDOWN).model_dump(by_alias=True)
    res = run_task(task("d", spec, 5, {"model.ERp44_expression": 0.5}))
    path = tmp_path_factory.mktemp("petab") / "kd.csv"
    result_frame(res["readouts"]).to_csv(path, index=False)
    return path


def _export(protocol: Path, data: Path, free: list[str], out: Path) -> Path:
    args = ["export-petab", str(protocol), str(data), "--out", str(out)]
    for f in free:
        args += ["--free", f]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 0
    return out / "problem.yaml"


def _lint(problem: Path) -> None:
    cli = subprocess.run([str(Path(sys.executable).parent / "petablint"), "-v", str(problem)],
                         capture_output=True, text=True)  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "completed successfully" in cli.stdout + cli.stderr
    from petab.v1 import Problem
    from petab.v1.lint import lint_problem

    assert not lint_problem(Problem.from_yaml(str(problem)))  # True means errors


def test_fit_problem_passes_petablint(synthetic, tmp_path, capsys):  # noqa: F811
    clock = time.perf_counter()
    problem = _export(NULL, synthetic, [FREE], tmp_path / "pe")
    print(f"export {time.perf_counter() - clock:.2f} s")
    assert "problem: " in capsys.readouterr().out
    _lint(problem)
    meas = pd.read_csv(problem.parent / "measurements.tsv", sep="\t")
    data = pd.read_csv(synthetic)
    assert len(meas) == len(data)
    assert np.allclose(np.sort(meas["measurement"]), np.sort(data["value"]))
    obs = pd.read_csv(problem.parent / "observables.tsv", sep="\t")
    # log-normal noise of the data's pooled replicate SD of ln(values)
    logs = np.log(data["value"])
    pooled = np.sqrt(logs.groupby(data["group"]).apply(lambda y: ((y - y.mean()) ** 2).sum()).sum()
                     / (len(data) - data["group"].nunique()))  # fmt: skip
    assert obs["observableTransformation"].tolist() == ["log"]
    assert float(obs["noiseFormula"].iloc[0]) == pytest.approx(pooled, rel=1e-12)


def test_linear_scale_and_no_replicates_pass_petablint(synthetic, tmp_path):  # noqa: F811
    single = tmp_path / "single.csv"
    pd.read_csv(synthetic).groupby("group").head(1).to_csv(single, index=False)
    problem = _export(NULL, single, [FREE], tmp_path / "single")
    _lint(problem)
    obs = pd.read_csv(problem.parent / "observables.tsv", sep="\t")
    par = pd.read_csv(problem.parent / "parameters.tsv", sep="\t")
    assert obs["noiseFormula"].tolist() == ["noise_sd"] and "noise_sd" in set(par["parameterId"])
    with pytest.raises(SystemExit) as exc:
        main(["export-petab", str(NULL), str(synthetic), "--free", FREE, "--scale", "linear",
              "--out", str(tmp_path / "lin")])  # fmt: skip
    assert exc.value.code == 0
    _lint(tmp_path / "lin" / "problem.yaml")
    obs = pd.read_csv(tmp_path / "lin" / "observables.tsv", sep="\t")
    assert obs["observableTransformation"].tolist() == ["lin"]


def _roadrunner(model: Path, pre: dict, values: dict, times: np.ndarray,
                names: list[str]) -> np.ndarray:  # fmt: skip
    """PEtab semantics: steady state under ``pre``, then ``values`` from t = 0 on."""
    rr = roadrunner.RoadRunner(str(model))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    rr.integrator.maximum_num_steps = 200_000
    for _ in range(2):  # as the reference test: set, reset (initial assignments), set again
        for k, v in pre.items():
            rr[k] = float(v)
        rr.reset()
    rr.simulate(0.0, 5000.0, 2)  # pre-equilibration (the slowest mode relaxes in ~20 h)
    for k, v in values.items():
        rr[k] = float(v)
    species = set(rr.model.getFloatingSpeciesIds())
    sel = [f"[{n}]" if n in species else n for n in names]
    return np.asarray(rr.simulate(times=[0.0, *times], selections=sel))[1:]


@pytest.mark.parametrize("case", ["null", "knockdown"])
def test_round_trip_matches_exotwin_kinetics(case, request, tmp_path):
    protocol, free, n_values = ((NULL, [FREE], 2) if case == "null"
                                else (KNOCKDOWN, KD_FREE, 12))  # fmt: skip
    data = request.getfixturevalue("synthetic" if case == "null" else "kd_data")
    problem = _export(protocol, data, free, tmp_path / case)
    _lint(problem)
    d = problem.parent
    cond = pd.read_csv(d / "conditions.tsv", sep="\t").set_index("conditionId")
    obs = pd.read_csv(d / "observables.tsv", sep="\t").set_index("observableId")
    meas = pd.read_csv(d / "measurements.tsv", sep="\t")
    # parameter values other than the nominal ones
    theta = {"ERp44_expression": 0.5, "k_dil": 0.05}
    theta = {k: v for k, v in theta.items() if any(f"model.{k}=" in f for f in free)}
    p = load_protocol(protocol)
    line = cell_line_parameters(p.cell_line, p.model)
    end = units.time_h(p.duration)
    worst, checked = 0.0, 0
    lead = units.time_h(S.TRANSFECTION_LEAD)  # the knockdown protocol's vectors' default
    for cid, m in meas.groupby("simulationConditionId"):
        row = cond.loc[cid]
        values = {**row.drop("conditionName").to_dict(), **theta}
        pre = {**cond.loc[m["preequilibrationConditionId"].iloc[0]].drop("conditionName")
               .to_dict(), **theta}  # fmt: skip
        times = np.unique(m["time"].to_numpy(float))
        formulas = obs.loc[sorted(m["observableId"].unique()), "observableFormula"].tolist()
        got = _roadrunner(d / "model.xml", pre, values, times, formulas)
        # exotwin's own mean cell of the same group, from the protocol (not the export):
        # the pre-culture of the protocol runner, then the group's drugs from t = 0
        group = next(g for g in p.groups if g.label == row["conditionName"])
        fixed = {**p.parameters, **theta}
        params = _group_parameters(line, group, fixed)
        cell = pre_culture(new_population(p.model, 1, 0, parameters=params), line, group,
                           fixed)  # fmt: skip
        drugs = _drugs_at(group, 0.0, end)
        params.update({coupling(p.model).drugs[k]: v for k, v in drugs.items()})
        shifted = times - (lead if case == "knockdown" else 0.0)
        ds = simulate(p.model, [0.0, *shifted], parameters=params, rtol=1e-10, atol=1e-14,
                      initial={n: cell.states[:, j] for j, n in enumerate(cell.state_names())},
                      variables=formulas)  # fmt: skip
        want = np.stack([ds[f].values[0, 1:] for f in formulas], axis=1)
        rel = np.abs(got - want) / np.abs(want)
        worst, checked = max(worst, float(rel.max())), checked + rel.size
    print(f"round trip {case}: {checked} observable values, max relative difference "
          f"{worst:.2e}")  # fmt: skip
    assert checked == n_values  # knockdown: 3 conditions x 2 observables x 2 times
    assert worst < 1e-6


def test_knockdown_of_a_free_parameter_is_a_fold(kd_data, tmp_path):
    d = _export(KNOCKDOWN, kd_data, KD_FREE, tmp_path / "kd").parent
    cond = pd.read_csv(d / "conditions.tsv", sep="\t").set_index("conditionName")
    assert cond.loc["shERp44", "ERp44_expression_fold"] == pytest.approx(0.4)
    assert cond.loc["ERp44 OE+cisplatin", "ERp44_expression_fold"] == pytest.approx(2.0)
    assert "ERp44_expression" not in cond.columns and "k_dil" not in cond.columns
    assert (cond["SV_k_div_basal"] == 0.0289).all() and (cond["GSDME_expression"] == 0.8).all()
    assert cond.loc["NC", "cisplatin_uM"] == 0
    assert cond.loc["ERp44 OE+cisplatin", "cisplatin_uM"] > 0
    par = pd.read_csv(d / "parameters.tsv", sep="\t").set_index("parameterId")
    assert par.loc["k_dil", "nominalValue"] == pytest.approx(0.0289)  # the 5-8F value
    assert (par["parameterScale"] == "log10").all() and (par["estimate"] == 1).all()
    # pre-culture: each group pre-equilibrates without its 48-h vectors and without drug
    assert cond.loc["shERp44 pre-culture", "ERp44_expression_fold"] == 1.0
    assert cond.loc["ERp44 OE+cisplatin pre-culture", "cisplatin_uM"] == 0
    meas = pd.read_csv(d / "measurements.tsv", sep="\t")
    ids = pd.read_csv(d / "conditions.tsv", sep="\t").set_index("conditionId")["conditionName"]
    pre = meas["preequilibrationConditionId"].map(ids)
    assert (pre == meas["simulationConditionId"].map(ids) + " pre-culture").all()
    data = pd.read_csv(kd_data)
    assert sorted(meas["time"].unique()) == sorted(data["time_h"].unique() + 48.0)


def test_a_label_like_a_pre_culture_condition_keeps_its_measurements(kd_data, tmp_path):
    """Group "X pre-culture" next to group "X": each measurement keeps its own condition."""
    text = KNOCKDOWN.read_text().replace("label: NC\n", "label: shERp44 pre-culture\n")
    protocol = tmp_path / "clash.yaml"
    protocol.write_text(text)
    data = pd.read_csv(kd_data)
    data["group"] = data["group"].replace("NC", "shERp44 pre-culture")
    data.to_csv(tmp_path / "clash.csv", index=False)
    d = _export(protocol, tmp_path / "clash.csv", KD_FREE, tmp_path / "out").parent
    ids = pd.read_csv(d / "conditions.tsv", sep="\t").set_index("conditionId")["conditionName"]
    meas = pd.read_csv(d / "measurements.tsv", sep="\t")
    assert ids.index.is_unique
    # a simulation condition is never some group's pre-culture condition
    assert not set(meas["simulationConditionId"]) & set(meas["preequilibrationConditionId"])
    assert meas["simulationConditionId"].nunique() == data["group"].nunique() == 3


def _bad_protocol(tmp_path: Path, change: str, extra: str) -> Path:
    text = KNOCKDOWN.read_text().replace(
        "{type: drug, name: cisplatin, concentration: 5 ug/mL}", change)
    path = tmp_path / "bad.yaml"
    path.write_text(text + extra)
    return path


DRUG = "{type: drug, name: cisplatin, concentration: 5 ug/mL"
DONOR = "donors:\n  - {label: D, cells: 2000000, duration: 48 h}\n"


@pytest.mark.parametrize("kind, change, extra, field", [
    ("data", "readout=OD450", "", "OD450"),
    ("data", "group=nope", "", "'nope'"),
    ("protocol", DRUG + ", start: 12 h}", "", "constant"),
    ("protocol", DRUG + ", duration: 24 h}", "", "constant"),
    ("protocol", "{type: exosomes, source: D, dose: 20 ug/mL}", DONOR, "vesicle exchange"),
    ("protocol", "{type: knockdown, gene: GSDME, efficiency: 0.5, since: 24 h}", "",
     "one lead"),
])  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(kd_data, tmp_path, capsys, kind, change,
                                                  extra, field):  # fmt: skip
    protocol, data = KNOCKDOWN, kd_data
    if kind == "data":
        col, value = change.split("=")
        data = tmp_path / "bad.csv"
        pd.read_csv(kd_data).assign(**{col: value}).to_csv(data, index=False)
    else:
        protocol = _bad_protocol(tmp_path, change, extra)
    out = tmp_path / "pe"
    with pytest.raises(SystemExit) as exc:
        main(["export-petab", str(protocol), str(data), "--free", KD_FREE[0], "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and field in err and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob(".pe.*"))
