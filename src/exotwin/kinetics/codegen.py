"""Generate and compile the per-model kernels from a :class:`ModelSpec`.

Four straight-line functions are generated as Python source and compiled by numba with
fixed signatures, so the batched integrator (compiled once, see :mod:`.rosenbrock`)
receives them as first-class function values and never recompiles per model:

``rhs(t, x, p, dxdt)``           time derivatives of the states
``jac(t, x, p, J, dfdt)``        analytic Jacobian ``J[i, j] = d(dx_i/dt)/dx_j`` and
                                 ``dfdt[i] = d(dx_i/dt)/dt``, by symbolic differentiation
``init(t0, u, given, p, x)``     constants and initial states from per-cell inputs ``u``
                                 (entries with ``given[i]`` True override the model)
``outputs(t, x, p, out)``        every reportable quantity

The source is content-addressed and written to a cache directory
(``$EXOTWIN_CACHE_DIR``, default ``~/.cache/exotwin``) so that numba's on-disk cache
makes the second load of a model free.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from numba import types

from exotwin.errors import ExotwinError
from exotwin.kinetics import expr as ex
from exotwin.kinetics.expr import Expr
from exotwin.kinetics.sbml_reader import ModelSpec

CODEGEN_VERSION = "1"

_F = types.float64
_V = types.float64[::1]
RHS_SIG = types.void(_F, _V, _V, _V)
JAC_SIG = types.void(_F, _V, _V, types.float64[:, ::1], _V)
INIT_SIG = types.void(_F, _V, types.boolean[::1], _V, _V)
OUT_SIG = types.void(_F, _V, _V, _V)


@dataclass(frozen=True)
class Output:
    """One reportable quantity: a name and how to compute it."""

    name: str
    expr: Expr
    kind: str  # species | amount | concentration | compartment | parameter | reaction | ...


def outputs_of(spec: ModelSpec) -> list[Output]:
    """List every quantity the ``outputs`` kernel computes, in order."""
    outs = []
    for sid, kind in spec.kinds.items():
        outs.append(Output(sid, ("s", sid), kind))
    for sid in spec.species:
        outs.append(Output(f"amount({sid})", spec.amount_expr(sid), "amount"))
        outs.append(Output(f"concentration({sid})", spec.concentration_expr(sid), "concentration"))
    return outs


class _Emitter:
    """Emit straight-line code computing symbol values in dependency order."""

    def __init__(self, defs: dict[str, Expr], leaf: dict[str, str], source: str):
        self.defs = defs  # symbol -> expression (for non-leaf symbols)
        self.leaf = leaf  # symbol -> code (leaves: x[j], p[k], u[i]...)
        self.names: dict[str, str] = {}
        self.lines: list[str] = []
        self.source = source
        self._visiting: set[str] = set()

    def code(self, e: Expr) -> str:
        for sym in sorted(ex.symbols(e)):
            self.need(sym)
        return ex.to_code(e, self._name)

    def _name(self, node: Expr) -> str:
        if node[0] == "t":
            return "t"
        sym = node[1]
        if sym in self.leaf:
            return self.leaf[sym]
        return self.names[sym]

    def need(self, sym: str) -> None:
        if sym in self.leaf or sym in self.names:
            return
        if sym not in self.defs:
            raise KeyError(sym)
        if sym in self._visiting:
            raise ExotwinError(
                "algebraic loop: the value depends on itself through rules",
                file=self.source,
                field=f"'{sym}'",
            )
        self._visiting.add(sym)
        e = self.defs[sym]
        if e[0] == "s":  # an alias: reuse the other symbol's name
            self.need(e[1])
            self.names[sym] = self._name(e)
        else:
            rhs = self.code(e)
            name = f"v{len(self.names)}"
            self.lines.append(f"    {name} = {rhs}")
            self.names[sym] = name
        self._visiting.discard(sym)


def _leaf_map(spec: ModelSpec) -> dict[str, str]:
    leaf = {f"x:{j}": f"x[{j}]" for j in range(len(spec.states))}
    leaf.update({f"p:{k}": f"p[{k}]" for k in range(len(spec.constants))})
    return leaf


def _rhs_source(spec: ModelSpec) -> str:
    em = _Emitter(spec.runtime, _leaf_map(spec), spec.source)
    body = [f"    dxdt[{j}] = {em.code(s.rate)}" for j, s in enumerate(spec.states)]
    return "\n".join(["def rhs(t, x, p, dxdt):", *em.lines, *body, "    return"])


def _dependencies(spec: ModelSpec) -> dict[str, frozenset]:
    """For every runtime symbol: the state indices and ``'t'`` its value depends on."""
    deps: dict[str, frozenset] = {}

    def visit(sym: str, stack: tuple = ()) -> frozenset:
        if sym in deps:
            return deps[sym]
        if sym.startswith("x:"):
            return frozenset([int(sym[2:])])
        if sym.startswith("p:") or sym not in spec.runtime or sym in stack:
            return frozenset()
        e = spec.runtime[sym]
        out = {"t"} if ex.uses_time(e) else set()
        for s in ex.symbols(e):
            out |= visit(s, (*stack, sym))
        deps[sym] = frozenset(out)
        return deps[sym]

    for sym in spec.runtime:
        visit(sym)
    return deps


def _jac_source(spec: ModelSpec) -> str:
    deps = _dependencies(spec)
    defs = dict(spec.runtime)

    def dsym_for(var):
        def dsym(sym: str) -> Expr:
            if sym.startswith("x:"):
                return ex.ONE if var == int(sym[2:]) else ex.ZERO
            if sym.startswith("p:") or var not in deps.get(sym, ()):
                return ex.ZERO
            key = f"d:{sym}:{var}"
            if key not in defs:
                defs[key] = ex.diff(spec.runtime[sym], dsym, ex.ONE if var == "t" else ex.ZERO)
            return ("s", key)

        return dsym

    em = _Emitter(defs, _leaf_map(spec), spec.source)
    body = []
    for i, s in enumerate(spec.states):
        rate_deps = set()
        for sym in ex.symbols(s.rate):
            rate_deps |= deps.get(sym, frozenset())
            if sym.startswith("x:"):
                rate_deps.add(int(sym[2:]))
        if ex.uses_time(s.rate):
            rate_deps.add("t")
        for var in sorted(rate_deps, key=lambda v: (-1 if v == "t" else v)):
            d = ex.diff(s.rate, dsym_for(var), ex.ONE if var == "t" else ex.ZERO)
            if d == ex.ZERO:
                continue
            target = f"dfdt[{i}]" if var == "t" else f"J[{i}, {var}]"
            body.append(f"    {target} = {em.code(d)}")
    return "\n".join(["def jac(t, x, p, J, dfdt):", *em.lines, *body, "    return"])


def _init_source(spec: ModelSpec) -> str:
    index = {sym: i for i, sym in enumerate(spec.inputs)}
    em = _InitEmitter(spec.initial, {}, spec.source, index)
    body = []
    for key, store in spec.store.items():
        kind, idx = key.split(":")
        body.append(f"    {kind}[{idx}] = {em.code(store)}")
    return "\n".join(["def init(t, u, given, p, x):", *em.lines, *body, "    return"])


class _InitEmitter(_Emitter):
    """Emitter where each input symbol takes the user's value when given."""

    def __init__(self, defs, leaf, source, input_index: dict[str, int]):
        super().__init__(defs, leaf, source)
        self.input_index = input_index

    def need(self, sym: str) -> None:
        if sym not in self.input_index or sym in self.names:
            super().need(sym)
            return
        if sym in self._visiting:
            super().need(sym)  # raises the algebraic-loop error
        self._visiting.add(sym)
        i = self.input_index[sym]
        rhs = self.code(self.defs[sym])
        name = f"v{len(self.names)}"
        self.lines.append(f"    {name} = u[{i}] if given[{i}] else {rhs}")
        self.names[sym] = name
        self._visiting.discard(sym)


def _outputs_source(spec: ModelSpec, outs: list[Output]) -> str:
    em = _Emitter(spec.runtime, _leaf_map(spec), spec.source)
    body = [f"    out[{i}] = {em.code(o.expr)}" for i, o in enumerate(outs)]
    return "\n".join(["def outputs(t, x, p, out):", *em.lines, *body, "    return"])


def generate_source(spec: ModelSpec) -> str:
    """Return the full Python module source for a model's kernels."""
    outs = outputs_of(spec)
    sections = [
        f"# generated by exotwin codegen v{CODEGEN_VERSION} for {spec.model_id}",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        f"from {ex.HELPERS_MODULE} import {', '.join(ex.HELPER_NAMES)}",
        "from exotwin.kinetics.codegen import INIT_SIG, JAC_SIG, OUT_SIG, RHS_SIG",
        "",
        "_opts = dict(cache=True, error_model='numpy', fastmath=False)",
        "",
        "@njit(RHS_SIG, **_opts)",
        _rhs_source(spec),
        "",
        "@njit(JAC_SIG, **_opts)",
        _jac_source(spec),
        "",
        "@njit(INIT_SIG, **_opts)",
        _init_source(spec),
        "",
        "@njit(OUT_SIG, **_opts)",
        _outputs_source(spec, outs),
        "",
    ]
    return "\n".join(sections)


def cache_dir() -> Path:
    """Directory holding generated kernel modules (and numba's cache of them)."""
    root = os.environ.get("EXOTWIN_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "exotwin"


def load_kernels(spec: ModelSpec) -> tuple[ModuleType, list[Output]]:
    """Generate, write (atomically, content-addressed) and import a model's kernels."""
    source = generate_source(spec)
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    name = f"exotwin_kernel_{digest}"
    if name in sys.modules:
        return sys.modules[name], outputs_of(spec)
    folder = cache_dir() / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # numba's cache re-imports the module by name when loading
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module, outputs_of(spec)
