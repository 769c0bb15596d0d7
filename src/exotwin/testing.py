"""Public checks for users' own models and protocols, as exotwin's own tests use them.

Each ``assert_*`` function raises ``AssertionError`` with one line naming the worst
offender, and returns the measured error so a test can report it. They need no test
framework; :func:`assert_matches_roadrunner` needs libRoadRunner (``pip install
'exotwin[test]'``).

- :func:`assert_matches_roadrunner`: the compiled kernels against an independent SBML
  simulator (libRoadRunner, CVODE), cell by cell, each cell with its own parameters.
- :func:`assert_tolerance_converged`: a trajectory does not move when the integrator's
  tolerances are tightened (the adaptive-step analogue of step refinement).
- :func:`assert_nonnegative`: no species goes below zero.
- :func:`assert_vesicles_conserved`: a medium's vesicle ledger balances, particles and every
  cargo protein (secreted + added = in medium + taken up + degraded + removed).
- :func:`assert_reproducible`: a protocol gives identical readouts and verdicts on two
  engines and on a second run with the same seed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from exotwin.errors import ExotwinError

__all__ = [
    "assert_matches_roadrunner",
    "assert_nonnegative",
    "assert_reproducible",
    "assert_tolerance_converged",
    "assert_vesicles_conserved",
]


def _per_cell(parameters: Mapping | None, n_cells: int) -> dict[str, np.ndarray]:
    """Each parameter as one value per cell (the kinetics engine's own broadcast rule)."""
    from exotwin.kinetics import _per_cell as broadcast

    return {k: broadcast(v, n_cells, k, "parameters") for k, v in (parameters or {}).items()}


def _relative_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| / (|want| + floor), the floor 1e-7 of each column's scale (shape kept)."""
    floor = 1e-7 * np.max(np.abs(want), axis=0, keepdims=True) + 1e-12
    return np.abs(got - want) / (np.abs(want) + floor)


def _sbml_text(model) -> str:
    from exotwin.kinetics import _resolve

    source, _ = _resolve(model)
    return source if source.lstrip().startswith("<") else Path(source).read_text()


def assert_matches_roadrunner(model: str | os.PathLike, times: Sequence[float], *,
                              parameters: Mapping | None = None, n_cells: int = 1,
                              rtol: float = 1e-4) -> float:  # fmt: skip
    """The model's species in exotwin agree with libRoadRunner within ``rtol``, per cell.

    Parameters
    ----------
    model
        A built-in model name, an SBML file or SBML text.
    times
        Output times ``(n_times,)`` in model time units, starting at the initial time.
    parameters
        Model parameters, each a scalar or one value per cell ``(n_cells,)``.
    n_cells
        Number of cells (each simulated by libRoadRunner on its own).
    rtol
        Largest accepted relative error (floor: 1e-7 of each species' largest value).

    Returns
    -------
    float
        The largest relative error found.
    """
    try:
        import roadrunner
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("assert_matches_roadrunner needs libroadrunner: "
                          "pip install 'exotwin[test]'") from None  # fmt: skip
    from exotwin.kinetics import compile_model, simulate

    cm = compile_model(model)
    species = list(cm.spec.species)
    times = np.asarray(times, dtype=float)
    per_cell = _per_cell(parameters, n_cells)
    ds = simulate(cm, times, n_cells=n_cells, parameters=per_cell, rtol=1e-9, atol=1e-13,
                  variables=[f"concentration({s})" for s in species])  # fmt: skip
    sbml = _sbml_text(model)
    worst = (0.0, "", 0, 0)
    for c in range(n_cells):
        rr = roadrunner.RoadRunner(sbml)
        rr.integrator.relative_tolerance = 1e-10
        rr.integrator.absolute_tolerance = 1e-14
        rr.integrator.maximum_num_steps = 200_000
        for k, v in per_cell.items():  # before reset: initial assignments read them
            rr[k] = float(v[c])
        rr.reset()
        for k, v in per_cell.items():  # reset restores SBML values of some parameters
            rr[k] = float(v[c])
        want = np.asarray(rr.simulate(float(times[0]), float(times[-1]), len(times),
                                      ["time", *[f"[{s}]" for s in species]]))[:, 1:]  # fmt: skip
        got = np.stack([ds[f"concentration({s})"].values[c] for s in species], axis=-1)
        err = _relative_error(got, want)
        i, j = np.unravel_index(np.argmax(err), err.shape)
        if err[i, j] > worst[0]:
            worst = (float(err[i, j]), species[j], int(i), c)
    if worst[0] > rtol:
        raise AssertionError(f"{worst[1]} of cell {worst[3]} at t = {times[worst[2]]:g}: "
                             f"relative error {worst[0]:.2e} > {rtol:g} against libRoadRunner")
    return worst[0]


def assert_tolerance_converged(model: str | os.PathLike, times: Sequence[float], *,
                               parameters: Mapping | None = None, n_cells: int = 1,
                               loose: float = 1e-6, tight: float = 1e-10,
                               rtol: float = 1e-4) -> float:  # fmt: skip
    """Every variable at integrator tolerance ``loose`` agrees with ``tight`` within ``rtol``.

    Returns the largest relative difference (floor as in :func:`assert_matches_roadrunner`).
    """
    from exotwin.kinetics import compile_model, simulate

    cm = compile_model(model)
    species = list(cm.spec.species)
    names = [f"concentration({s})" for s in species]
    per_cell = _per_cell(parameters, n_cells)
    runs = [simulate(cm, times, n_cells=n_cells, parameters=per_cell, rtol=tol,
                     atol=tol * 1e-3, variables=names)  # fmt: skip
            for tol in (loose, tight)]
    got, want = (np.stack([r[n].values for n in names], axis=-1) for r in runs)  # (cell, t, sp)
    err = _relative_error(got.reshape(-1, len(names)), want.reshape(-1, len(names)))
    flat, j = np.unravel_index(np.argmax(err), err.shape)
    if err[flat, j] > rtol:
        raise AssertionError(f"{species[j]}: rtol {loose:g} and {tight:g} differ by "
                             f"{err[flat, j]:.2e} (relative) > {rtol:g}")  # fmt: skip
    return float(err[flat, j])


def assert_nonnegative(dataset, atol: float = 1e-9) -> float:
    """No data variable of a :func:`exotwin.kinetics.simulate` result is below ``-atol``.

    A NaN fails too (it is not a value at or above zero). Returns the lowest value found.
    """
    if not hasattr(dataset, "data_vars"):
        raise TypeError(f"expected the xarray.Dataset of exotwin.kinetics.simulate, got "
                        f"{type(dataset).__name__}")  # fmt: skip
    lowest, where = np.inf, ""
    for name, var in dataset.data_vars.items():
        values = np.asarray(var.values, dtype=float)
        if np.isnan(values).any():  # nanmin skipped these: an all-NaN result passed
            raise AssertionError(f"{name} is NaN in {int(np.isnan(values).sum())} values")
        if values.size and values.min() < lowest:
            lowest, where = float(values.min()), str(name)
    if lowest < -atol:
        raise AssertionError(f"{where} reaches {lowest:.3g} < 0")
    return lowest


def assert_vesicles_conserved(pool, rtol: float = 1e-9) -> float:
    """A :class:`exotwin.vesicles.VesiclePool` ledger balances, particles and each cargo.

    The residual (secreted + added) - (medium + taken up + degraded + removed) must be at
    most ``rtol`` of the inflow. Returns the largest relative residual.
    """
    worst, what = 0.0, ""
    for cargo in (None, *pool.cargo_ledger):
        ledger = pool.ledger if cargo is None else pool.cargo_ledger[cargo]
        inflow = ledger["secreted"] + ledger["added"]
        residual = abs(pool.balance(cargo)) / inflow if inflow > 0 else abs(pool.balance(cargo))
        if residual > worst:
            worst, what = residual, cargo or "particles"
    if worst > rtol:
        raise AssertionError(f"vesicle ledger ({what}) is off by {worst:.2e} of its inflow")
    return worst


def assert_reproducible(protocol, seed: int = 1,
                        engines: Sequence[str] = ("serial", "processes")) -> None:  # fmt: skip
    """A protocol gives identical readouts and verdicts on every engine and on a rerun.

    Parameters
    ----------
    protocol
        A protocol file, a built-in protocol id or a validated protocol.
    seed
        The seed of every run.
    engines
        Engines to compare (:mod:`exotwin.engines`); the first also runs twice.
    """
    import pandas as pd

    from exotwin.engines import check_engine, make_engine, result_frame, task
    from exotwin.protocols import find, load

    if isinstance(engines, str) or not engines:
        raise ExotwinError("give a sequence of engine names, e.g. ('serial', 'processes')",
                           field="engines")  # fmt: skip
    for index, engine in enumerate(engines):
        check_engine(engine, field=f"engines.{index}")
    if isinstance(protocol, str | os.PathLike):
        protocol = load(find(protocol))  # a mistyped id: the closest built-in id
    spec = task("check", protocol, seed)
    results = []
    for engine in (engines[0], *engines):
        with make_engine(engine) as runner:
            (res,) = list(runner.run([spec]))
        results.append((engine, result_frame(res["readouts"]), res["comparisons"]))
    _, first, verdicts = results[0]
    for engine, frame, comps in results[1:]:
        try:
            pd.testing.assert_frame_equal(first, frame, check_exact=True)
        except AssertionError as exc:
            line = str(exc).splitlines()[0]
            raise AssertionError(f"readouts differ on engine {engine!r}: {line}") from None
        if comps != verdicts:
            raise AssertionError(f"comparisons differ on engine {engine!r}")
