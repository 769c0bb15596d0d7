"""Batched kinetics: one SBML reaction network integrated in many cells at once.

The model (SBML text, a file, or a built-in model name) is parsed with python-libsbml
(:mod:`.sbml_reader`), turned into numba kernels (:mod:`.codegen`) and integrated for
every cell by a compiled, error-controlled stiff solver (:mod:`.rosenbrock`). Each cell
has its own parameter values and initial state; cells are integrated independently, so
results do not depend on the number of threads.

Examples
--------
>>> import numpy as np
>>> from exotwin.kinetics import simulate
>>> ds = simulate(SBML, times=np.linspace(0, 10, 11), n_cells=100,
...               parameters={"k1": np.linspace(0.1, 1.0, 100)})  # doctest: +SKIP
>>> ds["S1"].sel(time=10.0)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import xarray as xr

from exotwin.errors import ExotwinError
from exotwin.kinetics import rosenbrock
from exotwin.kinetics.codegen import Output, load_kernels
from exotwin.kinetics.sbml_reader import ModelSpec, read_spec

__all__ = ["CompiledModel", "compile_model", "simulate", "simulate_array"]

ArrayLike = float | int | Sequence[float] | np.ndarray


@dataclass
class CompiledModel:
    """A model ready to simulate: its specification, kernels and output catalogue.

    Attributes
    ----------
    spec
        Parsed model structure.
    kernels
        Module holding the compiled ``rhs``, ``jac``, ``init`` and ``outputs`` functions.
    outputs
        Every quantity the ``outputs`` kernel reports, in order.
    columns
        Input columns of the parameter/initial key sets already checked, by
        ``(label, ids)`` (filled by the simulations).
    """

    spec: ModelSpec
    kernels: object
    outputs: list[Output]
    columns: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.output_index = {o.name: i for i, o in enumerate(self.outputs)}
        self.input_index = {sym: i for i, sym in enumerate(self.spec.inputs)}
        self.state_ids = frozenset(s.id for s in self.spec.states)

    @property
    def source(self) -> str:
        """Where the model came from (file, model name or ``<sbml>``)."""
        return self.spec.source

    def default_variables(self) -> list[str]:
        """Species, then parameters and compartments that change in time."""
        species = list(self.spec.species)
        others = [
            sid
            for sid, kind in self.spec.kinds.items()
            if kind in ("parameter", "compartment") and sid in self.spec.varying
        ]
        return species + others


_COMPILED: dict[str, CompiledModel] = {}  # sha256 of label and SBML -> compiled model
_BY_TEXT: dict[tuple, CompiledModel] = {}  # (label, length, str hash) of SBML text -> same


def _resolve(model: str | os.PathLike) -> tuple[str, str]:
    """Return (SBML text or path, label) for SBML text, a file or a built-in name."""
    if isinstance(model, str) and model.lstrip().startswith("<"):
        return model, "<sbml>"
    path = Path(model)
    if path.suffix.lower() in (".xml", ".sbml") or path.exists() or os.sep in str(model):
        if not path.is_file():
            raise ExotwinError("no such file", file=str(model))
        return str(path), str(path)
    from exotwin import models  # built-in library, imported lazily

    return models.to_sbml(str(model)), str(model)


def compile_model(model: str | os.PathLike | CompiledModel) -> CompiledModel:
    """Parse and compile a model (cached per process and on disk).

    Parameters
    ----------
    model
        SBML text, path to an SBML file, a built-in model name, or a compiled model.
    """
    if isinstance(model, CompiledModel):
        return model
    source, label = _resolve(model)
    text = source.lstrip().startswith("<")
    # SBML text (a built-in model's is one cached string): its str hash is computed once
    fast = (label, len(source), hash(source)) if text else None
    if fast in _BY_TEXT:
        return _BY_TEXT[fast]
    key_bytes = source.encode() if text else Path(source).read_bytes()
    key = hashlib.sha256(label.encode() + b"\0" + key_bytes).hexdigest()
    if key not in _COMPILED:
        spec = read_spec(source, label=label)
        kernels, outputs = load_kernels(spec)
        _COMPILED[key] = CompiledModel(spec, kernels, outputs)
    if fast is not None:
        _BY_TEXT[fast] = _COMPILED[key]
    return _COMPILED[key]


def _per_cell(value: ArrayLike, n_cells: int, what: str, source: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ExotwinError(
            f"must be a number or an array of numbers, got {value!r}", file=source, field=what
        ) from None
    if arr.ndim == 0:
        return np.full(n_cells, float(arr))
    if arr.shape != (n_cells,):
        raise ExotwinError(
            f"expected a scalar or an array of shape ({n_cells},), got shape {arr.shape}",
            file=source,
            field=what,
        )
    return arr


_PARAMETER_KINDS = ("parameter", "compartment", "localParameter", "speciesReference")


def _input_columns(cm: CompiledModel, label: str, ids: tuple[str, ...]) -> np.ndarray:
    """Input columns of ``ids`` given as ``label`` (parameters or initial), checked once.

    Raises an :class:`ExotwinError` naming the first id that cannot be given that way;
    accepted key tuples are remembered on the compiled model (hot loops pass the same keys).
    """
    cache = cm.columns
    if (label, ids) in cache:
        return cache[(label, ids)]
    spec = cm.spec
    for sid in ids:
        where = f"{label}['{sid}']"
        if sid not in cm.input_index:
            kind = spec.kinds.get(sid)
            if kind is None:
                reason = "unknown id in this model"
            elif kind == "reaction":
                reason = "is a reaction; its rate follows from the kinetic law"
            else:
                reason = "is set by an assignment rule and cannot be given"
            raise ExotwinError(reason, file=spec.source, field=where)
        kind = spec.kinds[sid]
        is_state = sid in cm.state_ids
        if label == "parameters" and (kind == "species" or is_state):
            raise ExotwinError(
                "is a variable; give its starting value in `initial`",
                file=spec.source,
                field=where,
            )
        if label == "initial" and kind in _PARAMETER_KINDS and not is_state:
            raise ExotwinError(
                "is a constant; give it in `parameters`", file=spec.source, field=where
            )
    columns = np.array([cm.input_index[sid] for sid in ids], dtype=np.int64)
    cache[(label, ids)] = columns
    return columns


def _inputs(
    cm: CompiledModel,
    n_cells: int,
    parameters: Mapping[str, ArrayLike] | None,
    initial: Mapping[str, ArrayLike] | None,
) -> tuple[np.ndarray, np.ndarray]:
    spec = cm.spec
    u = np.zeros((n_cells, len(spec.inputs)))
    given = np.zeros(len(spec.inputs), dtype=np.bool_)
    for mapping, label in ((parameters or {}, "parameters"), (initial or {}, "initial")):
        if not mapping:
            continue
        columns = _input_columns(cm, label, tuple(mapping))
        values = list(mapping.values())
        stacked = None
        if all(isinstance(v, np.ndarray) and v.shape == (n_cells,) for v in values):
            try:  # one copy, not one per column
                stacked = np.array(values, dtype=float).T
            except (TypeError, ValueError):  # e.g. an array of text: named below
                pass
        if stacked is not None:
            u[:, columns] = stacked
        else:
            for i, sid, value in zip(columns, mapping, values, strict=True):
                u[:, i] = _per_cell(value, n_cells, f"{label}['{sid}']", spec.source)
        given[columns] = True
        bad = ~np.isfinite(u[:, columns])
        if bad.any():  # a NaN or inf would stall the integrator's step-size control
            c, j = np.argwhere(bad)[0]
            raise ExotwinError(
                f"must be finite, got {u[c, columns[j]]} (cell {c})",
                file=spec.source,
                field=f"{label}['{list(mapping)[j]}']",
            )
    return u, given


def _integrate(model, times, n_cells=1, parameters=None, initial=None, rtol=1e-6, atol=1e-9,
               variables=None, max_step=None, threads=None):  # fmt: skip
    """Checked inputs -> ``(compiled model, times, names, out, stats)``; see :func:`simulate`."""
    cm = compile_model(model)
    spec = cm.spec
    t = np.ascontiguousarray(times, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise ExotwinError("must be a non-empty, finite, non-decreasing 1-D array", field="times")
    if int(n_cells) != n_cells or n_cells < 1:
        raise ExotwinError("must be a positive integer", field="n_cells")
    if not (0 < rtol < 1) or not atol > 0:
        raise ExotwinError("need 0 < rtol < 1 and atol > 0", field="rtol/atol")
    n_cells = int(n_cells)
    names = list(variables) if variables is not None else cm.default_variables()
    unknown = [v for v in names if v not in cm.output_index]
    if unknown:
        raise ExotwinError("unknown variable in this model", file=spec.source, field=unknown[0])
    select = np.array([cm.output_index[v] for v in names], dtype=np.int64)
    u, given = _inputs(cm, n_cells, parameters, initial)
    out = np.full((n_cells, t.size, select.size), np.nan)
    stats = np.zeros((n_cells, 3), dtype=np.int64)
    n_states = len(spec.states)
    atol_vec = np.full(n_states, float(atol))
    h_max = float(max_step) if max_step else np.inf
    k = cm.kernels
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(int(threads))
    try:
        rosenbrock.solve_entry()(  # every argument built here with SOLVE_SIG's types
            *rosenbrock.kernel_functions(k), k.P_SIZE,
            n_states, len(cm.outputs), k.LU_SIZE, float(t[0]), t, u, given.view(np.uint8),
            float(rtol),
            atol_vec, h_max, select, out, stats,
        )  # fmt: skip
    finally:
        numba.set_num_threads(previous)
    failed = np.flatnonzero(stats[:, 0])
    if failed.size:
        c = int(failed[0])
        reason = rosenbrock.STATUS_MESSAGES.get(int(stats[c, 0]), "integration failed")
        raise ExotwinError(
            f"integration failed in {failed.size} of {n_cells} cells (first: cell {c}: {reason})",
            file=spec.source,
        )
    return cm, t, names, out, stats


def simulate(
    model: str | os.PathLike | CompiledModel,
    times: Sequence[float] | np.ndarray,
    n_cells: int = 1,
    parameters: Mapping[str, ArrayLike] | None = None,
    initial: Mapping[str, ArrayLike] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    variables: Sequence[str] | None = None,
    max_step: float | None = None,
    threads: int | None = None,
) -> xr.Dataset:
    """Integrate a model in ``n_cells`` independent cells.

    Parameters
    ----------
    model
        SBML text, path to an SBML file, a built-in model name or a compiled model.
    times
        Output times, shape ``(n_times,)``, non-decreasing; integration starts at
        ``times[0]``. Model time units (hours for the built-in models).
    n_cells
        Number of cells (batch size).
    parameters
        Constant ids (parameters, compartments, ``"reaction.local"`` parameters) to
        scalars or arrays of shape ``(n_cells,)``; overrides initial assignments.
    initial
        Species or other state ids to initial values of shape ``()`` or ``(n_cells,)``,
        in the symbol's own units (concentration unless the species has only
        substance units).
    rtol, atol
        Relative and absolute error tolerances of every step.
    variables
        Ids to report; default: every species and every parameter or compartment that
        changes in time. ``"amount(S)"`` and ``"concentration(S)"`` are also accepted.
    max_step
        Largest step allowed (default: no limit beyond the output interval).
    threads
        Number of threads (default: numba's default, all cores). Results are identical
        for any value.

    Returns
    -------
    xarray.Dataset
        One variable per reported id with dims ``(cell, time)``.

    Raises
    ------
    ExotwinError
        For a bad model, unknown ids, bad shapes, or cells whose integration failed.
    """
    cm, t, names, out, stats = _integrate(model, times, n_cells, parameters, initial, rtol,
                                          atol, variables, max_step, threads)  # fmt: skip
    spec = cm.spec
    data = {
        name: (("cell", "time"), out[:, :, i], {"units": spec.units.get(name, "")})
        for i, name in enumerate(names)
    }
    return xr.Dataset(
        data,
        coords={"cell": np.arange(out.shape[0]), "time": t},
        attrs={
            "model": spec.model_id,
            "source": spec.source,
            "rtol": rtol,
            "atol": atol,
            "integrator": "RODAS4 (Hairer & Wanner 1996), per-cell adaptive steps",
            "steps": int(stats[:, 1].sum()),
            "rejected_steps": int(stats[:, 2].sum()),
        },
    )


def simulate_array(model: str | os.PathLike | CompiledModel, times: Sequence[float] | np.ndarray,
                   n_cells: int = 1, **options) -> np.ndarray:  # fmt: skip
    """:func:`simulate` without the xarray wrapper, for hot loops (the same numbers).

    ``options`` are :func:`simulate`'s keyword arguments (``parameters``, ``initial``,
    ``rtol``, ``atol``, ``variables``, ``max_step``, ``threads``).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_cells, n_times, n_variables)``, variables in the order of
        ``variables`` (default as in :func:`simulate`).
    """
    return _integrate(model, times, n_cells, **options)[3]
