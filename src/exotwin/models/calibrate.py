"""Re-derive the fitted model parameters from their training data.

Owns the calibration of the tumour_cell ER-stress death and arrest arm (PERK -> eIF2a-P ->
ATF4 -> CHOP) against measurements that are not claims of the twinned paper
(``training_data.yaml``), the calibration of the Deng 2023 donor model ``npc_ebv_cell``
against outside measurements (``training_data_deng2023.yaml``), and the recomputation of each
composed model's unperturbed steady state written as its initial state. Run
``python -m exotwin.models.calibrate [--model npc_ebv_cell]`` to print the fit, ``--write`` to
also write the fitted values and the steady state into the Antimony sources. It also checks the
tumour_cell NF-kB target arm (``training_data_nfkb.yaml``, ``--directions``) and the virtual
cohort's hypoxic unfolded-protein load (``training_data_cohort.yaml``, ``--cohort``) against
outside directions: no source gives a number the model can reproduce, so they fit nothing.
"""

from __future__ import annotations

import argparse
import re
from importlib import resources
from pathlib import Path

import numpy as np
import yaml
from scipy.integrate import cumulative_trapezoid
from scipy.optimize import least_squares

from exotwin.atomic import atomic_write_text
from exotwin.errors import ExotwinError
from exotwin.kinetics import CompiledModel, compile_model, simulate

MODEL = "tumour_cell"
READOUTS = ("relative_viability", "dead_fraction")
#: fitted parameter (flattened SBML id) -> (Antimony file, name there, lower bound, upper bound)
FITTED = {
    "ER_K_perk": ("er_stress.ant", "K_perk", 0.02, 3.0),
    # lower bound 1: GADD34 feedback exists (Novoa et al. 2001, doi:10.1083/jcb.153.5.1011)
    "ER_GADD34_gain": ("er_stress.ant", "GADD34_gain", 1.0, 100.0),
    "AP_k_adduct": ("cisplatin_apoptosis.ant", "k_adduct", 0.002, 0.2),
    "SV_K_chop_arrest": ("survival.ant", "K_chop_arrest", 0.01, 10.0),
    "AP_CHOP_BH3_gain": ("cisplatin_apoptosis.ant", "CHOP_BH3_gain", 0.01, 50.0),
}
STEADY_HOURS = 5000.0
#: unstressed CNE2 division rate, ln2 / 19 h (doubling time: Jiang et al., Ai Zheng 2003;22:337)
DIVISION_RATE = float(np.log(2.0) / 19.0)


def antimony_dir() -> Path:
    """Folder of the built-in Antimony sources."""
    return Path(str(resources.files("exotwin.models") / "antimony"))


def _table_rows(path: str | Path | None, default: str, need: tuple[str, ...],
                readouts: tuple[str, ...], positive: str | None) -> list[dict]:  # fmt: skip
    """Validated ``rows`` of a training table (``default``: a packaged file name).

    Every row needs the fields ``need``, a readout among ``readouts`` and (unless ``positive``
    is None) the field ``positive`` > 0.
    """
    path = Path(path) if path else Path(str(resources.files("exotwin.models") / default))
    doc = yaml.safe_load(path.read_text())
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not rows:
        raise ExotwinError(f"{path}: field 'rows': no training data")
    for i, row in enumerate(rows):
        missing = [k for k in need if k not in row]
        if missing:
            raise ExotwinError(f"{path}: rows[{i}]: missing field(s) {', '.join(missing)}")
        if row["readout"] not in readouts:
            raise ExotwinError(
                f"{path}: rows[{i}].readout: {row['readout']!r} is not one of {readouts}"
            )
        if positive is not None and not float(row[positive]) > 0:
            raise ExotwinError(f"{path}: rows[{i}].{positive}: must be > 0")
    return rows


def load_training_data(path: str | Path | None = None) -> list[dict]:
    """Rows of the training table (default: the packaged ``training_data.yaml``).

    Raises
    ------
    ExotwinError
        If a row lacks a field or names an unknown readout.
    """
    need = ("id", "tunicamycin_uM", "cisplatin_uM", "time_h", "readout", "value", "sd")
    return _table_rows(path, "training_data.yaml", need, READOUTS, "sd")


def steady_state(cm: CompiledModel, params: dict[str, float], **tolerances) -> dict[str, float]:
    """Steady state under ``params`` (other inputs at their defaults).

    ``tolerances`` (``rtol``, ``atol``) are passed to the solver.
    """
    species = list(cm.spec.species)
    ds = simulate(cm, [0.0, STEADY_HOURS / 2, STEADY_HOURS], parameters=params, variables=species,
                  **tolerances)  # fmt: skip
    mid, end = ds.isel(time=1), ds.isel(time=2)
    for s in species:
        a, b = float(mid[s].values[0]), float(end[s].values[0])
        if abs(a - b) > 1e-6 * max(1.0, abs(b)):
            raise ExotwinError(f"{s} not at steady state after {STEADY_HOURS} h ({params})")
    return {s: float(end[s].values[0]) for s in species}


def population(
    cm: CompiledModel, params: dict[str, float], tm: np.ndarray, cis: np.ndarray, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected viable and dead cells (per initial cell) under constant treatments.

    Parameters
    ----------
    cm
        The compiled tumour_cell model.
    params
        Parameter overrides (flattened SBML ids), the same in every condition.
    tm, cis
        Tunicamycin and cisplatin in uM, shape ``(n_conditions,)``.
    times
        Output times in h from the start of treatment, shape ``(n_times,)``, from 0.

    Returns
    -------
    viable, dead
        Shape ``(n_conditions, n_times)``; dead cells are kept (not cleared).
    """
    n = tm.size
    init = steady_state(cm, params)
    per_cell = {k: np.full(n, v) for k, v in params.items()}
    per_cell.update(tunicamycin_uM=tm, cisplatin_uM=cis)
    ds = simulate(cm, times, n_cells=n, parameters=per_cell, initial=init,
                  variables=["division_rate", "apoptosis_hazard", "pyroptosis_hazard"])  # fmt: skip
    death = (ds["apoptosis_hazard"] + ds["pyroptosis_hazard"]).values
    net = ds["division_rate"].values * division_scale(cm, params) - death
    viable = np.exp(cumulative_trapezoid(net, times, axis=1, initial=0.0))
    dead = cumulative_trapezoid(death * viable, times, axis=1, initial=0.0)
    return viable, dead


def division_scale(cm: CompiledModel, params: dict[str, float]) -> float:
    """Factor on ``k_div_basal`` that makes the unstressed cell divide at ``DIVISION_RATE``.

    Basal PERK/CHOP activity slows division a little; ``k_div_basal`` is derived so that the
    composed model keeps the measured doubling time (the division rate is an output, linear
    in ``k_div_basal``, and feeds back on no species).
    """
    init = steady_state(cm, params)
    ds = simulate(cm, [0.0], parameters=params, initial=init, variables=["division_rate"])
    return DIVISION_RATE / float(ds["division_rate"].values[0, 0])


def predict(cm: CompiledModel, params: dict[str, float], rows: list[dict]) -> np.ndarray:
    """Model value of every training row, shape ``(n_rows,)``."""
    conditions = sorted(
        {(0.0, 0.0)} | {(float(r["tunicamycin_uM"]), float(r["cisplatin_uM"])) for r in rows}
    )
    tm, cis = (np.array(c) for c in zip(*conditions, strict=True))
    times = np.arange(0.0, max(float(r["time_h"]) for r in rows) + 0.25, 0.5)
    viable, dead = population(cm, params, tm, cis, times)
    control = conditions.index((0.0, 0.0))
    out = []
    for r in rows:
        i = conditions.index((float(r["tunicamycin_uM"]), float(r["cisplatin_uM"])))
        k = int(np.argmin(np.abs(times - float(r["time_h"]))))
        if r["readout"] == "relative_viability":
            out.append(viable[i, k] / viable[control, k])
        else:
            out.append(dead[i, k] / (viable[i, k] + dead[i, k]))
    return np.array(out)


def fit(
    cm: CompiledModel,
    rows: list[dict],
    start: dict[str, float],
    fitted: dict | None = None,
    predictor=None,
    sd_field: str = "sd",
) -> tuple[dict[str, float], object]:
    """Weighted least squares of the fitted parameters (log scale) to ``rows``.

    ``fitted`` (default ``FITTED``) maps parameter -> (file, name, lower, upper); ``predictor``
    (default :func:`predict`) gives the model value of every row; residuals are divided by
    each row's ``sd_field``.
    """
    fitted = FITTED if fitted is None else fitted
    predictor = predict if predictor is None else predictor
    names = list(fitted)
    lo = np.log([fitted[n][2] for n in names])
    hi = np.log([fitted[n][3] for n in names])
    x0 = np.clip(np.log([start[n] for n in names]), lo + 1e-9, hi - 1e-9)
    value = np.array([float(r["value"]) for r in rows])
    sd = np.array([float(r[sd_field]) for r in rows])

    def residual(x):
        return (predictor(cm, dict(zip(names, np.exp(x), strict=True)), rows) - value) / sd

    res = least_squares(residual, x0, bounds=(lo, hi), diff_step=1e-3, x_scale=1.0, max_nfev=200)
    return dict(zip(names, np.exp(res.x), strict=True)), res


NFKB_RATES = ("SV_k_nfkb_basal", "SV_k_nfkb_ERp44", "SV_K_nfkb_ERp44", "SV_k_nfkb_off")


def nfkb_reference(values: dict[str, float]) -> float:
    """Steady-state p-NF-kB fraction of the reference cell (ERp44 = 1) at these IKK rates.

    survival.ant normalises NF-kB target synthesis and division to this number; it is a
    written constant (not a rule of the rates), so an IKK perturbation reaches the targets.
    """
    basal, erp44, half, off = (values[k] for k in NFKB_RATES)
    on = basal + erp44 / (half + 1.0)
    return on / (on + off)


def current_values(cm: CompiledModel, names: list[str]) -> dict[str, float]:
    """Values of constants in the model as compiled."""
    ds = simulate(cm, [0.0], variables=names).isel(time=0)
    return {n: float(ds[n].values[0]) for n in names}


def _format(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}" if value != 0 else "0.0"


def write_value(path: Path, name: str, value: float, digits: int = 4) -> None:
    """Replace the numeric value of ``name = value;`` in an Antimony file, keeping comments."""
    text = path.read_text()
    pattern = re.compile(rf"^([ ]*{re.escape(name)} = )([-+0-9.eE]+;)( *)(?=//)", re.M)

    def replace(m: re.Match) -> str:  # keep the comment column
        number = f"{_format(value, digits)};"
        width = len(m.group(2)) + len(m.group(3))
        return f"{m.group(1)}{number}{' ' * max(1, width - len(number))}"

    new, n = pattern.subn(replace, text, count=1)
    if n != 1:
        raise ExotwinError(f"{path}: no line '{name} = <number>;' to update")
    if new != text:
        atomic_write_text(path, new)


# ---------------------------------------------------------------- Deng 2023 donor model
DENG_MODEL = "npc_ebv_cell"
DENG_READOUTS = ("ER_Ca_ratio",)
#: fitted npc_ebv_cell parameter (flattened SBML id) -> (Antimony file, name there, bounds);
#: bounds: resting free ER Ca2+ up to 800 uM (Demaurex & Frieden 2003, Cell Calcium 34:109);
#: below ~232 uM resting SOCE would exceed the whole resting influx (J_pm_leak < 0)
DENG_FITTED = {"CA_Ca_ER_rest": ("soce.ant", "Ca_ER_rest", 240.0, 800.0)}
#: LMP1 molecules per vesicle in the resting donor (assumed, see lmp1_exosomes.ant)
DENG_CARGO_REST = 10.0
DENG_TOL = {"rtol": 1e-9, "atol": 1e-12}


def load_deng_data(path: str | Path | None = None) -> list[dict]:
    """Rows of the Deng 2023 training table (default: ``training_data_deng2023.yaml``).

    Raises
    ------
    ExotwinError
        If a row lacks a field, names an unknown readout or has a non-positive tolerance.
    """
    need = ("id", "model", "source", "system", "condition", "readout", "value", "tolerance",
            "mapping")  # fmt: skip
    return _table_rows(path, "training_data_deng2023.yaml", need, DENG_READOUTS, "tolerance")


def deng_predict(cm: CompiledModel, params: dict[str, float], rows: list[dict]) -> np.ndarray:
    """Model value of every Deng training row, shape ``(n_rows,)``.

    ``ER_Ca_ratio``: steady free ER Ca2+ under the row's condition over the reference cell's.
    """
    ref = steady_state(cm, params, **DENG_TOL)["Ca_ER"]
    out = []
    for r in rows:
        perturbed = steady_state(cm, {**params, **r["condition"]}, **DENG_TOL)
        out.append(perturbed["Ca_ER"] / ref)
    return np.array(out)


def deng_cargo_max(cm: CompiledModel, params: dict[str, float]) -> float:
    """``LMP1_cargo_max`` giving ``DENG_CARGO_REST`` LMP1 per vesicle in the resting donor.

    Cargo = cargo_max x LMP1 x occupancy; at rest LMP1 = 1 - export / turnover with export
    = secretion x DENG_CARGO_REST / LMP1_copies, and the occupancy depends on Ca2+ only.
    """
    c = current_values(cm, ["LX_exo_secretion_basal", "LX_LMP1_copies", "LX_k_lmp1_deg",
                            "k_dil", "LX_K_load"])  # fmt: skip
    init = steady_state(cm, params, **DENG_TOL)
    ds = simulate(cm, [0.0], parameters=params, initial=init, variables=["Ca_local"])
    ca = float(ds["Ca_local"].values[0, 0])
    lmp1 = 1 - c["LX_exo_secretion_basal"] * DENG_CARGO_REST / c["LX_LMP1_copies"] / (
        c["LX_k_lmp1_deg"] + c["k_dil"])  # fmt: skip
    return DENG_CARGO_REST / (lmp1 * ca / (c["LX_K_load"] + ca))


def main_deng(write: bool) -> None:
    """Fit ``npc_ebv_cell`` to its outside data; with ``write`` update the Antimony sources."""
    cm = compile_model(DENG_MODEL)
    rows = load_deng_data()
    start = current_values(cm, list(DENG_FITTED))
    before = deng_predict(cm, start, rows)
    best, _ = fit(cm, rows, start, DENG_FITTED, deng_predict, sd_field="tolerance")
    after = deng_predict(cm, best, rows)
    print(f"{'id':32s} {'value':>7s} {'tol':>5s} {'start':>7s} {'fitted':>7s}")
    for r, b, a in zip(rows, before, after, strict=True):
        print(f"{r['id']:32s} {float(r['value']):7.3f} {float(r['tolerance']):5.2f} "
              f"{b:7.3f} {a:7.3f}")  # fmt: skip
    for name, value in best.items():
        print(f"{name} = {value:.4g}  (bounds {DENG_FITTED[name][2:]})")
    share = simulate(cm, [0.0], parameters=best, variables=["CA_SOCE_share_rest"])
    share = float(share["CA_SOCE_share_rest"].values[0, 0])
    print(f"resting SOCE share of Ca2+ influx: {share:.3f}")
    cargo_max = deng_cargo_max(cm, best)
    state = steady_state(cm, best, **DENG_TOL)
    print(f"LMP1_cargo_max = {cargo_max:.4g}; steady state {state}")
    if write:
        folder = antimony_dir()
        for name, value in best.items():
            write_value(folder / DENG_FITTED[name][0], DENG_FITTED[name][1], value)
        write_value(folder / "lmp1_exosomes.ant", "LMP1_cargo_max", cargo_max)
        write_value(folder / "npc_ebv_cell.ant", "Ca_ER", state["Ca_ER"])
        print("wrote fitted values, LMP1_cargo_max and the resting Ca_ER")


# ------------------------------------------ outside directions: NF-kB targets, hypoxic load
DIRECTION_READOUTS = ("pNFkB", "Bcl2_total", "BclxL_total", "Bax_total", "GRP78_total", "ERp44")
#: the conserved NF-kB p65 pool (NFkB + pNFkB) of tumour_cell
NFKB_POOL = ("NFkB", "pNFkB")
#: smallest relative change counted as a direction; assumed: 1 %, below the resolution of
#: Western blot densitometry and qPCR, so a smaller model change is no change
DIRECTION_MIN_CHANGE = 0.01


def direction_of(ratio: float) -> str:
    """``"up"``, ``"down"`` or ``"none"`` for a perturbed / reference ratio."""
    if ratio > 1 + DIRECTION_MIN_CHANGE:
        return "up"
    return "down" if ratio < 1 - DIRECTION_MIN_CHANGE else "none"


def _direction_rows(
    path: str | Path | None, default: str, need: tuple[str, ...], readouts: tuple[str, ...]
) -> tuple[list[dict], str | Path]:
    """Validated rows of an outside-direction table and the name to report errors under."""
    rows = _table_rows(path, default, need, readouts, None)
    where = path or default
    for i, row in enumerate(rows):
        if row["direction"] not in ("up", "down", "none"):
            raise ExotwinError(
                f"{where}: rows[{i}].direction: {row['direction']!r} is not up/down/none"
            )
    return rows, where


def load_direction_data(path: str | Path | None = None) -> list[dict]:
    """Rows of the outside-direction table (default: ``training_data_nfkb.yaml``).

    Raises
    ------
    ExotwinError
        If a row lacks a field, names an unknown readout or direction, or does not give exactly
        one perturbation (``pool`` > 0 or ``scale``, a mapping to positive factors).
    """
    need = ("id", "source", "system", "observation", "readout", "direction", "mapping")
    rows, where = _direction_rows(path, "training_data_nfkb.yaml", need, DIRECTION_READOUTS)
    for i, row in enumerate(rows):
        if ("pool" in row) == ("scale" in row):
            raise ExotwinError(f"{where}: rows[{i}]: give exactly one of 'pool' and 'scale'")
        if "pool" in row and not float(row["pool"]) > 0:
            raise ExotwinError(f"{where}: rows[{i}].pool: must be > 0")
        scale = row.get("scale", {})
        if not isinstance(scale, dict) or any(not float(v) > 0 for v in scale.values()):
            raise ExotwinError(f"{where}: rows[{i}].scale: a mapping of parameters to factors > 0")
    return rows


def direction_ratios(cm: CompiledModel, rows: list[dict]) -> np.ndarray:
    """Steady-state readout of each row's perturbed cell / the reference cell, shape ``(n_rows,)``.

    ``pool`` scales the conserved NF-kB pool of the start state (it stays scaled: NF-kB has no
    synthesis); ``scale`` multiplies the named parameters.
    """
    reference = steady_state(cm, {})
    names = sorted({k for r in rows for k in r.get("scale", {})})
    base = current_values(cm, names) if names else {}

    def readouts(params: dict[str, float], start: dict[str, float]) -> dict[str, float]:
        ds = simulate(cm, [0.0, STEADY_HOURS], parameters=params, initial=start,
                      variables=list(DIRECTION_READOUTS)).isel(time=-1)  # fmt: skip
        return {v: float(ds[v].values[0]) for v in DIRECTION_READOUTS}

    ref = readouts({}, reference)
    out = []
    for r in rows:
        start = dict(reference)
        for s in NFKB_POOL:
            start[s] = reference[s] * float(r.get("pool", 1.0))
        params = {k: base[k] * float(f) for k, f in r.get("scale", {}).items()}
        out.append(readouts(params, start)[r["readout"]] / ref[r["readout"]])
    return np.array(out)


def main_directions() -> None:
    """Print every outside direction with the model's steady-state ratio."""
    cm = compile_model(MODEL)
    rows = load_direction_data()
    print(f"{'id':28s} {'readout':12s} {'source':>6s} {'model':>7s}")
    for r, ratio in zip(rows, direction_ratios(cm, rows), strict=True):
        flag = "" if direction_of(ratio) == r["direction"] else "  <- model disagrees"
        print(f"{r['id']:28s} {r['readout']:12s} {r['direction']:>6s} {ratio:7.3f}{flag}")


# ------------------------------------------------- outside data: the cohort's hypoxic load
COHORT_READOUTS = ("GRP78_total", "GRP78_mRNA", "ERp44", "ERp44_mRNA")
COHORT_LEVELS = ("cell", "tissue")
#: ``hypoxic_load_factor`` values (fold of ER_k_U_basal in the hypoxic compartment) scanned by
#: ``--cohort``
COHORT_SCAN = (1.0, 1.5, 2.0, 3.0, 6.0, 10.0, 20.0)


def load_cohort_data(path: str | Path | None = None) -> list[dict]:
    """Rows of the cohort's outside table (default: ``training_data_cohort.yaml``).

    Raises
    ------
    ExotwinError
        If a row lacks a field or names an unknown readout, direction or level.
    """
    need = ("id", "source", "system", "observation", "level", "readout", "direction",
            "magnitude", "mapping")  # fmt: skip
    rows, where = _direction_rows(path, "training_data_cohort.yaml", need, COHORT_READOUTS)
    for i, row in enumerate(rows):
        if row["level"] not in COHORT_LEVELS:
            raise ExotwinError(
                f"{where}: rows[{i}].level: {row['level']!r} is not one of {COHORT_LEVELS}"
            )
    return rows


def cohort_ratios(rows: list[dict], load_factor: float, model: str = MODEL) -> np.ndarray:
    """Model ratio of every cohort row at ``hypoxic_load_factor`` = ``load_factor``.

    Runs the cohort's own tissue simulation (:func:`exotwin.cohort.tissue.simulate_tissues`)
    for one tumour with the cohort's median hypoxic share and one normal epithelium, one cell
    per compartment and no cell-to-cell or person-to-person variation.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_rows,)``: ``cell`` rows hypoxic / normoxic compartment of the tumour,
        ``tissue`` rows tumour / normal tissue mean.
    """
    from exotwin.cohort.tissue import CohortParameters, Persons, simulate_tissues

    params = CohortParameters(hypoxic_load_factor=float(load_factor))
    zero = np.zeros(2)
    persons = Persons(np.array(["T", "N"]), np.ones(2, dtype=int), np.arange(2, dtype=np.uint64),
                      np.array([True, False]), np.array([params.hypoxic_fraction_median, 0.0]),
                      zero, zero, {})  # fmt: skip
    out = simulate_tissues(model, persons, params, seed=0, cells=1, cv=0.0)
    ratios = []
    for r in rows:
        v = r["readout"]
        if r["level"] == "cell":
            ratios.append(out[f"{v}|hypoxic"][0] / out[f"{v}|normoxic"][0])
        else:
            ratios.append(out[v][0] / out[v][1])
    return np.array(ratios)


def cohort_direction_scan(
    rows: list[dict], factors: tuple[float, ...] = COHORT_SCAN
) -> dict[float, int]:
    """Number of rows whose direction the model misses, for each load factor."""
    scan = {}
    for f in factors:
        ratios = cohort_ratios(rows, f)
        scan[f] = sum(direction_of(x) != r["direction"] for r, x in zip(rows, ratios, strict=True))
    return scan


def main_cohort() -> None:
    """Print the cohort's outside rows against the model and the direction loss over a scan."""
    from exotwin.cohort.tissue import CohortParameters

    rows = load_cohort_data()
    default = CohortParameters().hypoxic_load_factor
    print(f"{'id':34s} {'level':6s} {'readout':11s} {'source':>6s} {'model':>7s}  magnitude")
    for r, ratio in zip(rows, cohort_ratios(rows, default), strict=True):
        flag = "" if direction_of(ratio) == r["direction"] else " <- model disagrees"
        print(f"{r['id']:34s} {r['level']:6s} {r['readout']:11s} {r['direction']:>6s} "
              f"{ratio:7.3f}{flag}  {r['magnitude']}")  # fmt: skip
    print("hypoxic_load_factor  rows whose direction the model misses (the direction loss)")
    for f, n in cohort_direction_scan(rows).items():
        print(f"{f:19.1f}  {n}")
    print(f"no row gives a magnitude the cohort's assays reproduce: nothing is fitted; "
          f"hypoxic_load_factor stays {default:g} (assumed)")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Fit, report, and with ``--write`` update the Antimony sources."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write fitted values and steady state")
    ap.add_argument("--model", choices=(MODEL, DENG_MODEL), default=MODEL, help="model to fit")
    ap.add_argument("--directions", action="store_true",
                    help="print outside NF-kB directions against the model")  # fmt: skip
    ap.add_argument("--cohort", action="store_true",
                    help="print outside data on the cohort's hypoxic load vs model")  # fmt: skip
    args = ap.parse_args(argv)
    if args.directions:
        main_directions()
        return
    if args.cohort:
        main_cohort()
        return
    if args.model == DENG_MODEL:
        main_deng(args.write)
        return
    cm = compile_model(MODEL)
    rows = load_training_data()
    start = current_values(cm, list(FITTED))
    before = predict(cm, start, rows)
    best, res = fit(cm, rows, start)
    after = predict(cm, best, rows)
    print(f"{'id':32s} {'value':>7s} {'start':>7s} {'fitted':>7s}")
    for r, b, a in zip(rows, before, after, strict=True):
        print(f"{r['id']:32s} {float(r['value']):7.3f} {b:7.3f} {a:7.3f}")
    chi2 = float(np.sum(res.fun**2))
    rmse = np.sqrt(np.mean((after - np.array([float(r["value"]) for r in rows])) ** 2))
    print(f"weighted SSR {chi2:.2f} on {len(rows)} rows, {len(best)} parameters; RMSE {rmse:.3f}")
    jac = res.jac
    try:
        cov = np.linalg.pinv(jac.T @ jac) * chi2 / max(1, len(rows) - len(best))
        se = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        se = np.full(len(best), np.nan)
    for (name, value), s in zip(best.items(), se, strict=True):
        print(f"{name} = {value:.4g}  (log-scale SE {s:.2f}, bounds {FITTED[name][2:]})")
    if args.write:
        folder = antimony_dir()
        for name, value in best.items():
            write_value(folder / FITTED[name][0], FITTED[name][1], value)
        # compile_model caches by name: evaluate the new values as parameter overrides
        k_div = current_values(cm, ["SV_k_div_basal"])["SV_k_div_basal"] * division_scale(cm, best)
        write_value(folder / "survival.ant", "k_div_basal", k_div)
        rates = {**current_values(cm, list(NFKB_RATES)), **best}
        write_value(folder / "survival.ant", "pNFkB_ref", nfkb_reference(rates), digits=7)
        for species, value in steady_state(cm, best).items():
            write_value(folder / "tumour_cell.ant", species, value)
        print("wrote fitted values and the unstressed steady state")


if __name__ == "__main__":
    main()
