"""Global sensitivity of one readout to model parameters (SALib: Sobol or Morris).

Parameter sets are sampled over the ``--vary`` ranges, each set is run through the engine
as ``model.<id>`` overrides (the protocol's ``parameters:``), all with the same seed so
that the readout differs only by the parameters, and the readout is reduced to one number
per run: its mean over the protocol's wells (or one group's) at its last assay time (or
``time``). SALib turns the samples and outputs into indices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.engines import check_engine, result_frame, task
from exotwin.errors import ExotwinError
from exotwin.power import load_protocol, run_all
from exotwin.sweep import _NUMBER, plan

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4


def parse_range(text: str) -> tuple[str, float, float]:
    """``model.PARAM=LO:HI`` (LO < HI) as ``(name, lo, hi)``."""
    name, _, values = text.partition("=")
    m = re.fullmatch(rf"\s*({_NUMBER})\s*:\s*({_NUMBER})\s*", values)
    if not name.strip() or not m:
        raise ExotwinError(f"{text!r}: expected model.PARAM=LO:HI", field="--vary")
    lo, hi = float(m[1]), float(m[2])
    if not lo < hi:
        raise ExotwinError(f"{text!r}: LO must be below HI", field="--vary")
    return name.strip(), lo, hi


def reduce_readout(readouts: pd.DataFrame, readout: str, group: str | None = None,
                   time: float | None = None) -> float:  # fmt: skip
    """Mean of ``readout`` over the wells (of ``group``) at ``time`` (default: its last)."""
    sel = readouts[readouts["readout"] == readout]
    if group is not None:
        sel = sel[sel["group"] == group]
    if sel.empty:
        return float("nan")
    t = float(sel["time_h"].max()) if time is None else time
    sel = sel[np.isclose(sel["time_h"], t)]
    return float(sel["value"].mean()) if not sel.empty else float("nan")


def _sample(method: str, problem: dict, samples: int, seed: int) -> np.ndarray:
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)


def _analyze(method: str, problem: dict, x: np.ndarray, y: np.ndarray, seed: int) -> pd.DataFrame:
    if method == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        keys = ["S1", "S1_conf", "ST", "ST_conf"]
    else:
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=MORRIS_LEVELS, seed=seed)
        keys = ["mu", "mu_star", "sigma", "mu_star_conf"]
    table = pd.DataFrame({k: np.asarray(res[k], float) for k in keys})
    table.insert(0, "parameter", problem["names"])
    return table


def plot(table: pd.DataFrame, method: str, path: Path, title: str = "") -> None:
    """Bar plot of the main index (Sobol S1 and ST, or Morris mu*) per parameter."""
    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(1.6 + 1.1 * len(table), 3.6)
    ax = fig.subplots()
    x = np.arange(len(table))
    if method == "sobol":
        ax.bar(x - 0.2, table["S1"], 0.4, yerr=table["S1_conf"], label="first order (S1)")
        ax.bar(x + 0.2, table["ST"], 0.4, yerr=table["ST_conf"], label="total (ST)")
        ax.set_ylabel("Sobol index")
        ax.legend(fontsize="small")
    else:
        ax.bar(x, table["mu_star"], 0.6, yerr=table["mu_star_conf"])
        ax.set_ylabel("Morris mu*")
    ax.set_xticks(x, table["parameter"], rotation=20, ha="right", fontsize="small")
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    save(fig, path)


def sensitivity(
    protocol: str | Path,
    readout: str,
    vary: list[str],
    out: Path,
    method: str = "sobol",
    samples: int | None = None,
    group: str | None = None,
    time: float | None = None,
    seed: int = 1,
    engine: str = "serial",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Sample the ``vary`` ranges, run the protocol at each set, compute the indices.

    Parameters
    ----------
    protocol
        A protocol file or built-in protocol id.
    readout
        The readout (``apoptotic_%``, ``ERp44/GAPDH``, ``OD450``, ...).
    vary
        ``model.PARAM=LO:HI`` ranges (uniform), at least one.
    out
        Output directory: ``indices.csv``, ``samples.csv``, ``sensitivity.json``,
        ``indices.png``.
    method
        ``sobol`` (Saltelli sampling, ``samples * (D + 2)`` runs, ``samples`` a power of 2;
        default 16) or ``morris`` (``samples`` trajectories, ``samples * (D + 1)`` runs;
        default 10).
    samples
        Base sample size (see ``method``).
    group, time
        Reduce the readout over this group's wells only, at this time (h).
    seed
        The seed of every run (common random numbers) and of the sampling.
    engine, scheduler, workers
        As for :func:`exotwin.engines.make_engine`.
    progress
        Called as ``progress(done, total)`` at the start and after every run.

    Returns
    -------
    dict
        ``indices`` (a table) and the paths written.
    """
    if method not in METHODS:
        raise ExotwinError(f"must be one of {', '.join(METHODS)}, not {method!r}",
                           field="--method")  # fmt: skip
    samples = (16 if method == "sobol" else 10) if samples is None else samples
    if samples < 2:
        raise ExotwinError("must be at least 2", field="--samples")
    if method == "sobol" and samples & (samples - 1):
        raise ExotwinError(f"{samples}: Sobol sampling needs a power of 2", field="--samples")
    if not vary:
        raise ExotwinError("give at least one model.PARAM=LO:HI", field="--vary")
    ranges = [parse_range(v) for v in vary]
    parsed = load_protocol(protocol)
    source = str(protocol)
    plan(parsed, [(n, [lo, hi]) for n, lo, hi in ranges], [seed], source)  # validates
    labels = [g.label for g in parsed.groups]
    if group is not None and group not in labels:
        raise ExotwinError(f"no group {group!r} in the protocol (its groups: "
                           f"{', '.join(labels)})", file=source, field="--group")  # fmt: skip
    check_engine(engine, scheduler)
    names = [n for n, _, _ in ranges]
    problem = {"num_vars": len(ranges), "names": names,
               "bounds": [[lo, hi] for _, lo, hi in ranges]}  # fmt: skip
    x = _sample(method, problem, samples, seed)
    spec = parsed.model_dump(by_alias=True)
    tasks = [task(str(i), spec, seed, dict(zip(names, map(float, row), strict=True)),
                  source=source) for i, row in enumerate(x)]  # fmt: skip
    y = np.full(len(x), np.nan)
    with closing(run_all(tasks, engine, scheduler, workers, progress)) as results:
        for res in results:  # a readout the protocol does not give stops at the first run
            frame = result_frame(res["readouts"])
            y[int(res["key"])] = value = reduce_readout(frame, readout, group, time)
            if not np.isfinite(value):
                where = f" of group {group!r}" if group else ""
                at = f" at {time:g} h" if time is not None else ""
                given = ", ".join(sorted(set(frame["readout"])))
                raise ExotwinError(f"no value of {readout!r}{where}{at}; this protocol's "
                                   f"readouts: {given}", file=source,
                                   field="--readout")  # fmt: skip
    indices = _analyze(method, problem, x, y, seed)
    with atomic_path(out / "indices.csv") as tmp:
        indices.to_csv(tmp, index=False)
    table = pd.DataFrame(x, columns=names).assign(**{readout: y})
    with atomic_path(out / "samples.csv") as tmp:
        table.to_csv(tmp, index=False)
    record = {"protocol": source, "protocol_id": parsed.id, "readout": readout,
              "group": group, "time_h": time, "method": method, "samples": samples,
              "runs": len(x), "seed": seed, "problem": problem}  # fmt: skip
    atomic_write_text(out / "sensitivity.json", json.dumps(record, indent=1) + "\n")
    plot(indices, method, out / "indices.png", f"{parsed.id}: {readout} ({method})")
    return {"indices": indices, "runs": len(x), "csv": out / "indices.csv",
            "plot": out / "indices.png"}  # fmt: skip
