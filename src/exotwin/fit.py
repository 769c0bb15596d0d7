"""Calibrate model parameters to measurements: multi-start least squares, profile intervals.

The data are tidy readouts (``assay, sample, group, replicate, time_h, readout, value,
unit``; ``group, time_h, readout, value`` are used). They are reduced to one mean per
(group, readout, time) cell, and the protocol is run with the free parameters as
``model.<id>`` overrides (its ``parameters:``), always with the same seed (common random
numbers, so the objective is a smooth function of the parameters). The residual of a cell
is the difference of the **natural logarithms** of the simulated and measured means (or of
the means themselves, ``scale="linear"``) divided by its standard error
``s * sqrt(1/n_data + 1/n_sim)``, ``s`` the pooled replicate SD of the data on that scale;
the objective is the sum of their squares (a chi-square). Parameters are fitted in log10
space within their bounds by :func:`scipy.optimize.least_squares` from Latin hypercube
starts; the finite-difference Jacobian runs its D simulations as one batch on the engine.
Intervals are profile likelihoods (chi-square within 3.84 of its minimum, chi-square 1 df,
95 %, the other free parameters re-optimised at each profile point) or percentile
bootstrap intervals (the replicates of each cell resampled with replacement from the
``bootstrap`` random stream, every resample refitted from the estimate; the refits run in
lockstep, each Levenberg-Marquardt iteration of all of them one engine batch). The
problem can also be written as PEtab (:mod:`exotwin.petab`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exotwin import rng
from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.engines import check_engine, make_engine, result_frame, task
from exotwin.errors import ExotwinError, require_file
from exotwin.power import load_protocol
from exotwin.sensitivity import parse_range
from exotwin.sweep import plan

SCALES = ("log", "linear")
INTERVALS = ("profile", "bootstrap")
USED = ["group", "time_h", "readout", "value"]
CHI2_95 = 3.841458820694124  # 95 % quantile of chi-square with 1 df
STEP = 1e-3  # forward-difference step in log10 parameter space
KEY = ["group", "readout", "time_h"]


def parse_free(text: str) -> tuple[str, float, float]:
    """``model.PARAM=LO:HI`` with ``0 < LO < HI`` as ``(name, lo, hi)``."""
    try:
        name, lo, hi = parse_range(text)
    except ExotwinError as exc:
        raise ExotwinError(exc.reason, field="--free") from None
    if not name.startswith("model."):
        raise ExotwinError(f"{text!r}: only model parameters (model.PARAM) can be fitted",
                           field="--free")  # fmt: skip
    if lo <= 0:
        raise ExotwinError(f"{text!r}: bounds must be positive (fitted in log space)",
                           field="--free")  # fmt: skip
    return name, lo, hi


def _transform(values: pd.Series, scale: str) -> pd.Series:
    return np.log(values.clip(lower=1e-12)) if scale == "log" else values


def _on_scale(frame: pd.DataFrame, scale: str) -> pd.DataFrame:
    """``frame`` with times rounded to cells and the values on the fit's scale as ``y``."""
    return frame.assign(time_h=frame["time_h"].astype(float).round(6),
                        y=_transform(frame["value"].astype(float), scale))  # fmt: skip


def cell_stats(frame: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Mean, replicate count and within-cell sum of squares per (group, readout, time)."""
    g = _on_scale(frame, scale).groupby(KEY, sort=True)["y"]
    out = pd.DataFrame({"mean": g.mean(), "n": g.size(),
                        "ss": g.apply(lambda y: float(((y - y.mean()) ** 2).sum()))})  # fmt: skip
    return out.reset_index()


def load_data(path: str | Path, groups: list[str], scale: str) -> pd.DataFrame:
    """Read tidy measurements (CSV, or Parquet as ``exotwin run`` writes), check them."""
    source = str(path)
    path = require_file(path, "data file")
    try:
        data = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ExotwinError(f"cannot read the data: {exc}", file=source) from None
    missing = [c for c in USED if c not in data.columns]
    if missing:
        raise ExotwinError(f"missing column(s) {', '.join(missing)}", file=source)
    if data.dropna(subset=USED).empty:
        lacking = ", ".join(f"{c} ({int(n)} rows)" for c, n in data[USED].isna().sum().items() if n)
        raise ExotwinError(f"no measurements: no row gives all of {', '.join(USED)}"
                           + (f"; empty: {lacking}" if lacking else ""), file=source)
    data = data.dropna(subset=USED)
    try:
        data = data.astype({"time_h": float, "value": float})
    except ValueError:
        raise ExotwinError("time_h and value must be numbers", file=source) from None
    unknown = sorted(set(data["group"].astype(str)) - set(groups))
    if unknown:
        raise ExotwinError(f"no group {unknown[0]!r} in the protocol (its groups: "
                           f"{', '.join(groups)})", file=source, field="group")  # fmt: skip
    if scale == "log" and (data["value"] <= 0).any():
        raise ExotwinError("values must be positive for --scale log", file=source,
                           field="value")  # fmt: skip
    return data.astype({"group": str, "readout": str})


@dataclass
class Setup:
    """A checked calibration problem: protocol, free parameters and data.

    Attributes
    ----------
    protocol, source, data
        The validated protocol, its file or id, and the data file.
    names, lo, hi
        Free parameters (``model.<id>``) and their bounds, shape ``(D,)`` each (not logged).
    measured
        The tidy measurements (checked); ``target`` their cell statistics
        (:func:`cell_stats`, one row per (group, readout, time), sorted).
    scale
        ``log`` or ``linear``.
    """

    protocol: Any
    source: str
    data: str
    names: list[str]
    lo: np.ndarray
    hi: np.ndarray
    measured: pd.DataFrame
    target: pd.DataFrame
    scale: str

    @property
    def pooled_sd(self) -> float | None:
        """Pooled within-cell SD of the data on the fit's scale; ``None`` without replicates."""
        df = int((self.target["n"] - 1).sum())
        sd = float(np.sqrt(self.target["ss"].sum() / df)) if df > 0 else 0.0
        return sd if sd > 0 else None


def prepare(protocol: str | Path, data: str | Path, free: list[str],
            scale: str = "log") -> Setup:  # fmt: skip
    """Check the protocol, the ``--free`` ranges and the data before anything runs."""
    if scale not in SCALES:
        raise ExotwinError(f"must be one of {', '.join(SCALES)}, not {scale!r}", field="--scale")
    if not free:
        raise ExotwinError("give at least one model.PARAM=LO:HI", field="--free")
    ranges = [parse_free(f) for f in free]
    names = [n for n, _, _ in ranges]
    if len(set(names)) < len(names):
        raise ExotwinError("a parameter is given twice", field="--free")
    parsed = load_protocol(protocol)
    source = str(protocol)
    plan(parsed, [(n, [lo, hi]) for n, lo, hi in ranges], [1], source)  # validates names
    measured = load_data(data, [g.label for g in parsed.groups], scale)
    return Setup(parsed, source, str(data), names, np.array([r[1] for r in ranges]),
                 np.array([r[2] for r in ranges]), measured, cell_stats(measured, scale),
                 scale)  # fmt: skip


class Objective:
    """Standardised residuals of the protocol at log10 parameters, cached, engine-batched.

    The simulated cell means at a (seed, point) (shape ``(n_cells, 2)``: mean and
    replicate count, aligned with ``target``'s rows) are cached; residuals against other
    data means (bootstrap resamples, shape ``(n_cells,)``) reuse them.
    """

    def __init__(self, spec: dict, names: list[str], seed: int, target: pd.DataFrame,
                 sd: float, scale: str, runner, source: str) -> None:  # fmt: skip
        self.spec, self.names, self.seed, self.scale = spec, names, seed, scale
        self.target, self.sd, self.runner, self.source = target, sd, runner, source
        self.mean = target["mean"].to_numpy(float)
        self.n = target["n"].to_numpy(float)
        self.cache: dict[tuple, np.ndarray] = {}
        self.runs = 0

    def _tasks(self, points: list[tuple[int, tuple]]) -> list[dict]:
        return [task(str(i), self.spec, seed,
                     {n: float(10.0**v) for n, v in zip(self.names, x, strict=True)},
                     source=self.source) for i, (seed, x) in enumerate(points)]  # fmt: skip

    def _store(self, key: tuple, res: dict) -> pd.DataFrame:
        merged = self._merge(res)
        self.cache[key] = merged[["sim", "n_sim"]].to_numpy(float)
        return merged

    def simulate(self, x: np.ndarray) -> pd.DataFrame:
        """Simulated cell statistics merged onto the data's cells (``sim``, ``n_sim``)."""
        key = (self.seed, tuple(x))
        res = next(iter(self.runner.run(self._tasks([key]))))
        self.runs += 1
        return self._store(key, res)

    def _merge(self, res: dict) -> pd.DataFrame:
        sim = cell_stats(result_frame(res["readouts"]), self.scale)
        sim = sim.rename(columns={"mean": "sim", "n": "n_sim"}).drop(columns="ss")
        return self.target.merge(sim, on=KEY, how="left")

    def sims(self, points: list[np.ndarray], seeds: list[int] | None = None) -> list[np.ndarray]:
        """Simulated cell means at several points, uncached ones as one engine batch.

        ``seeds`` (one per point) default to the fit's seed.
        """
        keys = [(self.seed if seeds is None else int(seeds[i]), tuple(x))
                for i, x in enumerate(points)]  # fmt: skip
        todo = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if todo:
            for res in self.runner.run(self._tasks(todo)):
                self._store(todo[int(res["key"])], res)
            self.runs += len(todo)
        return [self.cache[k] for k in keys]

    def residuals(self, sim: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """Residuals of simulated cell means ``sim`` against ``mean`` (default: the data's)."""
        se = self.sd * np.sqrt(1 / self.n + 1 / sim[:, 1])
        return (sim[:, 0] - (self.mean if mean is None else mean)) / se

    def batch(self, points: list[np.ndarray], mean: np.ndarray | None = None) -> list[np.ndarray]:
        """Residuals at several points (one engine batch for the uncached ones)."""
        return [self.residuals(sim, mean) for sim in self.sims(points)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Residuals at one point."""
        return self.batch([np.asarray(x, float)])[0]

    def jac(self, x: np.ndarray) -> np.ndarray:
        """Forward-difference Jacobian (a step may leave the bounds; the model allows it)."""
        x = np.asarray(x, float)
        r0, *rs = self.batch(_stencil(x))
        return np.column_stack([(r - r0) / STEP for r in rs])


def _stencil(x: np.ndarray) -> list[np.ndarray]:
    """``x`` and its forward-difference neighbours, shape ``(D + 1)`` x ``(D,)``."""
    return [x] + [x + STEP * np.eye(len(x))[i] for i in range(len(x))]


def _least_squares(obj: Objective, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   free: np.ndarray | None = None) -> tuple[np.ndarray, float]:  # fmt: skip
    """Minimise over the ``free`` coordinates (default all); the rest stay at ``x0``."""
    from scipy.optimize import least_squares

    free = np.ones(len(x0), bool) if free is None else free
    if not free.any():
        r = obj(x0)
        return x0, float(r @ r)

    def full(z: np.ndarray) -> np.ndarray:
        x = x0.copy()
        x[free] = z
        return x

    fit = least_squares(lambda z: obj(full(z)), x0[free],
                        jac=lambda z: obj.jac(full(z))[:, free],
                        bounds=(lo[free], hi[free]))  # fmt: skip
    x = full(fit.x)
    r = obj(x)
    return x, float(r @ r)


def _standard_errors(obj: Objective, best: np.ndarray) -> np.ndarray:
    """Gauss-Newton standard errors (log10) at the estimate; ``inf`` where unidentified."""
    j = obj.jac(best)
    norms = np.linalg.norm(j, axis=0)
    se = np.sqrt(np.abs(np.diag(np.linalg.pinv(j.T @ j, rcond=1e-10))))
    with np.errstate(divide="ignore"):
        return np.maximum(se, 1.0 / norms)  # never below the conditional SE


def _profile(obj: Objective, best: np.ndarray, chi2: float, lo: np.ndarray, hi: np.ndarray,
             points: int, se: float, i: int) -> dict:  # fmt: skip
    """Profile parameter ``i`` over +-3 ``se`` (log10); 95 % interval by interpolation."""
    half = 3 * se if np.isfinite(se) and se > 0 else hi[i] - lo[i]
    grid = np.unique(np.clip(best[i] + np.linspace(-half, half, 2 * points + 1), lo[i], hi[i]))
    prof = []
    for v in grid:
        x0 = best.copy()
        x0[i] = v
        prof.append(_least_squares(obj, x0, lo, hi, np.arange(len(best)) != i)[1])
    prof = np.asarray(prof)
    return {"grid": grid, "chi2": prof, **_crossings(grid, prof, best[i], chi2)}


def _crossings(grid: np.ndarray, prof: np.ndarray, at: float, chi2: float) -> dict:
    """Where the profile rises ``CHI2_95`` above ``chi2`` either side of ``at`` (log10)."""
    level = chi2 + CHI2_95
    ends = {}
    for side, order in (("low", slice(None, None, -1)), ("high", slice(None))):
        g, p = grid[order], prof[order]
        keep = (g <= at) if side == "low" else (g >= at)
        g, p = g[keep], p[keep]
        above = np.nonzero(p > level)[0]
        if len(above) == 0 or above[0] == 0:
            ends[side], ends[f"{side}_open"] = float(g[-1] if len(g) else at), True
            continue
        j = above[0]
        t = (level - p[j - 1]) / (p[j] - p[j - 1])
        ends[side], ends[f"{side}_open"] = float(g[j - 1] + t * (g[j] - g[j - 1])), False
    return ends


def bootstrap_means(measured: pd.DataFrame, scale: str, seed: int, n: int) -> np.ndarray:
    """Cell means of ``n`` resamples of the data, shape ``(n, n_cells)`` (cells sorted).

    Resample ``b`` draws each cell's replicates with replacement; draw ``i`` of a cell is
    ``uniform(seed, "bootstrap", row, step=b)`` for the data's ``row``-th value (rows
    ordered by cell, then as in the file), so the same seed gives the same resamples.
    """
    df = _on_scale(measured, scale)
    code = df.groupby(KEY, sort=True).ngroup().to_numpy()
    order = np.argsort(code, kind="stable")
    y, code = df["y"].to_numpy(float)[order], code[order]
    counts = np.bincount(code)
    first = (np.cumsum(counts) - counts)[code]
    rows = np.arange(len(y), dtype=np.uint64)
    out = np.empty((n, len(counts)))
    for b in range(n):
        pick = first + np.floor(rng.uniform(seed, "bootstrap", rows, step=b) * counts[code])
        out[b] = np.bincount(code, weights=y[pick.astype(np.int64)]) / counts
    return out


def refit_all(obj: Objective, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
              means: np.ndarray, seeds: list[int], max_iter: int = 20,
              tol: float = 1e-3) -> np.ndarray:  # fmt: skip
    """Least-squares fits to several data vectors in lockstep, each from ``x0`` (log10).

    Projected Levenberg-Marquardt: every iteration evaluates the forward-difference
    Jacobians of all unfinished fits as one engine batch and their trial points as
    another. A fit ends when an accepted step moves less than ``tol`` (log10; 1e-3 is
    0.2 %) or after four rejected steps in a row.

    Parameters
    ----------
    obj
        The objective.
    x0, lo, hi
        Start and bounds (log10), shape ``(D,)``.
    means
        Shape ``(B, n_cells)``: the data's cell means of each fit.
    seeds
        The simulation seed of each fit, ``B`` of them.
    max_iter, tol
        Iteration limit and step tolerance (log10).

    Returns
    -------
    numpy.ndarray
        Shape ``(B, D)``: the estimates (log10).
    """
    n_fit, d = len(means), len(x0)
    x = np.tile(np.asarray(x0, float), (n_fit, 1))
    damping = np.full(n_fit, 1e-3)
    active = np.ones(n_fit, bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sims = obj.sims([p for b in idx for p in _stencil(x[b])],
                        [seeds[b] for b in idx for _ in range(d + 1)])  # fmt: skip
        trial, cost = np.empty((idx.size, d)), np.empty(idx.size)
        for k, b in enumerate(idx):
            r0, *rs = (obj.residuals(s, means[b]) for s in sims[k * (d + 1):(k + 1) * (d + 1)])
            j = np.column_stack([(r - r0) / STEP for r in rs])
            a = j.T @ j
            step = np.linalg.lstsq(a + damping[b] * np.diag(np.diag(a) + 1e-12), -j.T @ r0,
                                   rcond=None)[0]  # fmt: skip
            trial[k], cost[k] = np.clip(x[b] + step, lo, hi), r0 @ r0
        for k, (b, sim) in enumerate(zip(idx, obj.sims(list(trial), [seeds[b] for b in idx]),
                                         strict=True)):  # fmt: skip
            r = obj.residuals(sim, means[b])
            if np.all(np.isfinite(r)) and r @ r <= cost[k]:
                moved = np.max(np.abs(trial[k] - x[b]))
                x[b], damping[b] = trial[k], damping[b] / 3
                active[b] = moved > tol
            else:
                damping[b] *= 10
                active[b] = damping[b] < 10
    return x


def _bootstrap(obj: Objective, setup: Setup, best: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               seed: int, n: int) -> dict:  # fmt: skip
    """Percentile 95 % intervals from ``n`` refitted resamples (log10 ends, estimates).

    Resample ``b`` refits the resampled data with simulation seed ``seed + 1 + b``, so the
    replicate noise of the simulated means (the ``1/n_sim`` of the residuals' standard
    error) varies between refits as that of the data does.
    """
    seeds = [seed + 1 + b for b in range(n)]
    means = bootstrap_means(setup.measured, setup.scale, seed, n)
    fits = refit_all(obj, best, lo, hi, means, seeds)
    low, high = np.percentile(fits, [2.5, 97.5], axis=0)
    edge = 1e-6
    return {"estimates": fits, "low": low, "high": high,
            "open": (low <= lo + edge) | (high >= hi - edge)}  # fmt: skip


def plot(profiles: list[dict], names: list[str], chi2: float, path: Path, title: str) -> None:
    """Profile likelihood of each free parameter, with the 95 % threshold."""
    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(3.6 * len(names), 3.2)
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name, prof in zip(axes[0], names, profiles, strict=True):
        ax.plot(10.0 ** prof["grid"], prof["chi2"], marker="o", ms=3)
        ax.axhline(chi2 + CHI2_95, color="grey", ls="--", lw=0.8)
        for end in ("low", "high"):
            ax.axvline(10.0 ** prof[end], color="C1", lw=0.8)
        ax.set(xscale="log", xlabel=name, ylabel="chi-square (profile)")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    save(fig, path)


def plot_bootstrap(fits: np.ndarray, names: list[str], ends: dict, path: Path,
                   title: str) -> None:  # fmt: skip
    """Histogram of each parameter's bootstrap estimates (``fits``: ``(B, D)``, log10)."""
    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(3.6 * len(names), 3.2)
    axes = fig.subplots(1, len(names), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        ax.hist(10.0 ** fits[:, i], bins=np.logspace(fits[:, i].min() - 0.01,
                                                   fits[:, i].max() + 0.01, 21))  # fmt: skip
        for end in ("low", "high"):
            ax.axvline(10.0 ** ends[end][i], color="C1", lw=0.8)
        ax.set(xscale="log", xlabel=name, ylabel="bootstrap refits")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    save(fig, path)


def fit(
    protocol: str | Path,
    data: str | Path,
    free: list[str],
    out: Path,
    starts: int = 4,
    scale: str = "log",
    profile_points: int = 5,
    seed: int = 1,
    engine: str = "serial",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    intervals: str = "profile",
    bootstrap: int = 100,
    petab: Path | None = None,
) -> dict:
    """Fit the ``free`` model parameters to ``data``; profile or bootstrap 95 % intervals.

    Parameters
    ----------
    protocol
        A protocol file or built-in protocol id (its groups name the data's groups).
    data
        Tidy CSV of measurements (``group, time_h, readout, value`` used).
    free
        ``model.PARAM=LO:HI`` bounds (``0 < LO < HI``), at least one.
    out
        Output directory: ``fit.json``, ``fit.csv``, ``profiles.png`` or ``bootstrap.png``.
    starts
        Latin hypercube starts (in log10 space) of the multi-start least squares.
    scale
        ``log`` (residuals of log means) or ``linear``.
    profile_points
        Profile points either side of each estimate (over +-3 standard errors).
    seed
        The seed of every simulation (common random numbers), of the starts and of the
        bootstrap resamples.
    engine, scheduler, workers
        As for :func:`exotwin.engines.make_engine`; each Jacobian is one batch, and so is
        each iteration of all bootstrap refits.
    progress
        Called as ``progress(done, total)`` over the starts and intervals.
    intervals
        ``profile`` (profile likelihood) or ``bootstrap`` (percentile, refitted resamples).
    bootstrap
        Number of bootstrap resamples.
    petab
        Also write the problem as PEtab into this directory (:func:`exotwin.petab.export`).

    Returns
    -------
    dict
        ``table`` (one row per parameter), ``chi2``, ``runs``, ``seconds`` (of the
        intervals) and the paths written.
    """
    if starts < 1:
        raise ExotwinError("must be at least 1", field="--starts")
    if profile_points < 1:
        raise ExotwinError("must be at least 1", field="--profile-points")
    if intervals not in INTERVALS:
        raise ExotwinError(f"must be one of {', '.join(INTERVALS)}, not {intervals!r}",
                           field="--intervals")  # fmt: skip
    if bootstrap < 10:
        raise ExotwinError("at least 10 resamples make a 95 % percentile interval",
                           field="--bootstrap")  # fmt: skip
    setup = prepare(protocol, data, free, scale)
    check_engine(engine, scheduler)
    problem = None
    if petab is not None:
        from exotwin.petab import build

        problem = build(setup)  # checked before anything runs
    names, source, target = setup.names, setup.source, setup.target
    lo, hi = np.log10(setup.lo), np.log10(setup.hi)
    spec = setup.protocol.model_dump(by_alias=True)
    with make_engine(engine, workers=workers, scheduler=scheduler) as runner:
        obj = Objective(spec, names, seed, target, 1.0, scale, runner, source)
        merged = obj.simulate((lo + hi) / 2)
        gone = merged[merged["sim"].isna()]
        if len(gone):
            row = gone.iloc[0]
            raise ExotwinError(f"the protocol gives no {row['readout']!r} for group "
                               f"{row['group']!r} at {row['time_h']:g} h",
                               file=str(data), field="readout")  # fmt: skip
        obj.sd = setup.pooled_sd or 1.0
        total = starts + (len(names) if intervals == "profile" else 1)
        if progress:
            progress(0, total)
        from scipy.stats import qmc

        x0s = qmc.scale(qmc.LatinHypercube(len(names), seed=seed).random(starts), lo, hi)
        runs = []
        for k, x0 in enumerate(x0s, 1):
            x, chi2 = _least_squares(obj, x0, lo, hi)
            runs.append({"start": (10.0**x0).tolist(), "estimate": (10.0**x).tolist(),
                         "chi2": chi2, "x": x})  # fmt: skip
            if progress:
                progress(k, total)
        best = min(runs, key=lambda r: r["chi2"])
        if setup.pooled_sd is None:  # no replicates: scale by the residual variance, if any
            n_cells, p = len(target), len(names)
            if n_cells <= p:
                raise ExotwinError(f"{n_cells} cell(s) and no replicates cannot bound "
                                   f"{p} parameter(s)", file=str(data))  # fmt: skip
            obj.sd = float(np.sqrt(best["chi2"] / (n_cells - p)))
            for r in runs:
                r["chi2"] /= obj.sd**2
        xb, chi2 = best["x"], best["chi2"]
        clock = time.perf_counter()
        if intervals == "profile":
            se = _standard_errors(obj, xb)
            profiles = []
            for i in range(len(names)):
                profiles.append(_profile(obj, xb, chi2, lo, hi, profile_points, se[i], i))
                if progress:
                    progress(starts + i + 1, total)
            ends = {k: np.array([p[k] for p in profiles]) for k in ("low", "high")}
            ends["open"] = np.array([p["low_open"] or p["high_open"] for p in profiles])
        else:
            ends = _bootstrap(obj, setup, xb, lo, hi, seed, bootstrap)
            if progress:
                progress(total, total)
        seconds = time.perf_counter() - clock
    table = pd.DataFrame({
        "parameter": names, "estimate": 10.0**xb,
        "ci_low": 10.0 ** ends["low"], "ci_high": 10.0 ** ends["high"],
        "ci_open": ends["open"].astype(bool),
        "lower_bound": setup.lo, "upper_bound": setup.hi})  # fmt: skip
    paths = {}
    if problem is not None:
        from exotwin.petab import write

        paths["petab"] = write(problem, petab)
    with atomic_path(out / "fit.csv") as tmp:
        table.to_csv(tmp, index=False)
    record = {"protocol": source, "protocol_id": setup.protocol.id, "data": str(data),
              "scale": scale, "seed": seed, "sd": obj.sd, "cells": len(target), "chi2": chi2,
              "estimates": dict(zip(names, (10.0**xb).tolist(), strict=True)),
              "intervals": {n: [10.0 ** ends["low"][i], 10.0 ** ends["high"][i]]
                            for i, n in enumerate(names)},
              "interval_seconds": seconds,
              "starts": [{k: v for k, v in r.items() if k != "x"} for r in runs]}  # fmt: skip
    title = f"{setup.protocol.id}: "
    if intervals == "profile":
        record["interval"] = "profile likelihood, 95 % (chi-square 1 df)"
        record["profiles"] = {n: {"values": (10.0 ** p["grid"]).tolist(),
                                  "chi2": p["chi2"].tolist()}
                              for n, p in zip(names, profiles, strict=True)}  # fmt: skip
        paths["plot"] = out / "profiles.png"
    else:
        record["interval"] = f"bootstrap percentile, 95 % ({bootstrap} resamples refitted)"
        record["bootstrap"] = {n: (10.0 ** ends["estimates"][:, i]).tolist()
                               for i, n in enumerate(names)}  # fmt: skip
        paths["plot"] = out / "bootstrap.png"
    record["runs"] = obj.runs
    atomic_write_text(out / "fit.json", json.dumps(record, indent=1, default=float) + "\n")
    if intervals == "profile":
        plot(profiles, names, chi2, paths["plot"], title + "profile likelihoods")
    else:
        plot_bootstrap(ends["estimates"], names, ends, paths["plot"], title + "bootstrap")
    return {"table": table, "chi2": chi2, "runs": obj.runs, "seconds": seconds,
            "csv": out / "fit.csv", "json": out / "fit.json", **paths}  # fmt: skip
