"""Generate and compile the per-model kernels from a :class:`ModelSpec`.

Six straight-line functions are generated as Python source and compiled by numba with
fixed signatures, so the batched integrator (compiled once, see :mod:`.rosenbrock`)
receives them as first-class function values and never recompiles per model:

``rhs(t, x, p, dxdt)``           time derivatives of the states
``jac(t, x, p, J, dfdt)``        analytic Jacobian ``J[i*n + j] = d(dx_i/dt)/dx_j`` and
                                 ``dfdt[i] = d(dx_i/dt)/dt``, by symbolic differentiation;
                                 returns whether every entry is finite
``init(t0, u, given, p, x)``     constants and initial states from per-cell inputs ``u``
                                 (entries with ``given[i]`` True override the model)
``outputs(t, x, p, out)``        every reportable quantity
``lu_factor(J, inv_hg, lu)``     sparse LU of ``I/(h gamma) - J`` over the Jacobian's
                                 pattern (minimum-degree order, diagonal pivots)
``lu_solve(lu, b)``              the matching triangular solves, in place

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

CODEGEN_VERSION = "5"

_F = types.float64
_V = types.CPointer(types.float64)  # kernels take raw pointers (see _pointers.py)
_FLAGS = types.CPointer(types.uint8)
RHS_SIG = types.void(_F, _V, _V, _V)
JAC_SIG = types.boolean(_F, _V, _V, _V, _V)  # J is row-major n x n
INIT_SIG = types.void(_F, _V, _FLAGS, _V, _V)
OUT_SIG = types.void(_F, _V, _V, _V)
LU_FACTOR_SIG = types.boolean(_V, _F, _V)
LU_SOLVE_SIG = types.void(_V, _V)


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


class _Hoister:
    """Move subexpressions that depend on constants only out of the time loop.

    Such subexpressions (``K ** n``, sums of rate constants, constant rules) are given
    slots after the model's constants in the per-cell parameter vector; ``init`` fills
    them once per cell, so ``rhs``/``jac``/``outputs`` only read them.
    """

    def __init__(self, spec: ModelSpec, deps: dict[str, frozenset]):
        self.base = len(spec.constants)
        self.deps = deps
        self.exprs: dict[Expr, int] = {}

    def is_const(self, sym: str) -> bool:
        if sym.startswith(("p:", "c:")):
            return True
        return sym in self.deps and not self.deps[sym]

    def const_expr(self, e: Expr) -> bool:
        return not ex.uses_time(e) and all(self.is_const(s) for s in ex.symbols(e))

    def apply(self, e: Expr) -> Expr:
        op = e[0]
        if op in ("n", "b", "t"):
            return e
        if op == "s" and e[1].startswith(("p:", "c:", "x:")):
            return e
        if self.const_expr(e):
            if e not in self.exprs:
                self.exprs[e] = len(self.exprs)
            return ("s", f"c:{self.exprs[e]}")
        if op == "s":
            return e
        if op == "f":
            return ("f", e[1], *(self.apply(a) for a in e[2:]))
        if op == "pw":
            pieces = tuple((self.apply(v), self.apply(c)) for v, c in e[1])
            return ("pw", pieces, None if e[2] is None else self.apply(e[2]))
        return (op, *(self.apply(a) for a in e[1:]))

    def leaves(self) -> dict[str, str]:
        return {f"c:{m}": f"p[{self.base + m}]" for m in range(len(self.exprs))}


class _Emitter:
    """Emit straight-line code computing symbol values in dependency order."""

    def __init__(
        self,
        defs: dict[str, Expr],
        leaf: dict[str, str],
        source: str,
        hoister: _Hoister | None = None,
    ):
        self.defs = defs  # symbol -> expression (for non-leaf symbols)
        self.leaf = leaf  # symbol -> code (leaves: x[j], p[k], u[i]...)
        self.names: dict[str, str] = {}
        self.lines: list[str] = []
        self.source = source
        self.hoister = hoister
        self._visiting: set[str] = set()

    def code(self, e: Expr) -> str:
        if self.hoister is not None:
            e = self.hoister.apply(e)
            self.leaf.update(self.hoister.leaves())
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


def _rhs_source(spec: ModelSpec, hoister: _Hoister) -> str:
    em = _Emitter(spec.runtime, _leaf_map(spec), spec.source, hoister)
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


def _jac_source(spec: ModelSpec, hoister: _Hoister) -> tuple[str, set[tuple[int, int]]]:
    deps = hoister.deps
    n = len(spec.states)
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

    em = _Emitter(defs, _leaf_map(spec), spec.source, hoister)
    body = []
    written: list[str] = []
    pattern: set[tuple[int, int]] = set()
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
            target = f"dfdt[{i}]" if var == "t" else f"J[{i * n + var}]"
            body.append(f"    {target} = {em.code(d)}")
            written.append(target)
            if var != "t":
                pattern.add((i, var))
    # all entries finite? A balanced sum keeps the dependency chain short.
    terms = written or ["0.0"]
    while len(terms) > 1:
        terms = [f"({a} + {b})" for a, b in zip(terms[::2], terms[1::2], strict=False)] + (
            [terms[-1]] if len(terms) % 2 else []
        )
    finite = f"    return math.isfinite({terms[0]})"
    source = "\n".join(["def jac(t, x, p, J, dfdt):", *em.lines, *body, finite])
    return source, pattern


def _min_degree_order(n: int, pattern: set[tuple[int, int]]) -> list[int]:
    """Greedy minimum-degree elimination order of the symmetrised pattern (ties by index)."""
    adj = {i: set() for i in range(n)}
    for i, j in pattern:
        if i != j:
            adj[i].add(j)
            adj[j].add(i)
    order = []
    remaining = set(range(n))
    while remaining:
        v = min(remaining, key=lambda q: (len(adj[q]), q))
        nbrs = adj[v]
        for a in nbrs:
            adj[a] |= nbrs - {a}
            adj[a].discard(v)
        remaining.discard(v)
        order.append(v)
        del adj[v]
    return order


def _lu_sources(n: int, pattern: set[tuple[int, int]]) -> tuple[str, str, int]:
    """Straight-line sparse LU of ``W = I/(h gamma) - J`` and its triangular solves.

    Elimination uses a minimum-degree symmetric ordering and diagonal pivots; when a
    pivot loses more than 8 digits against the unreduced diagonal (or is not finite) the
    factorisation reports failure and the integrator falls back to dense partial pivoting.
    """
    order = _min_degree_order(n, pattern)
    pos = {v: k for k, v in enumerate(order)}
    filled = {(pos[i], pos[j]) for i, j in pattern} | {(k, k) for k in range(n)}
    for k in range(n):
        rows = [i for i in range(k + 1, n) if (i, k) in filled]
        cols = [j for j in range(k + 1, n) if (k, j) in filled]
        filled |= {(i, j) for i in rows for j in cols}
    slot = {rc: q for q, rc in enumerate(sorted(filled))}
    fac = ["def lu_factor(J, inv_hg, lu):"]
    for (r, c), q in sorted(slot.items(), key=lambda kv: kv[1]):
        i, j = order[r], order[c]
        if r == c:
            fac.append(f"    lu[{q}] = inv_hg - J[{i * n + j}]")
        elif (i, j) in pattern:
            fac.append(f"    lu[{q}] = -J[{i * n + j}]")
        else:
            fac.append(f"    lu[{q}] = 0.0")
    for k in range(n):
        kk = slot[(k, k)]
        fac.append(f"    d = lu[{kk}]")
        fac.append(f"    if not (abs(d) > 1e-8 * abs(inv_hg - J[{order[k] * (n + 1)}])):")
        fac.append("        return False")
        rows = [i for i in range(k + 1, n) if (i, k) in slot]
        cols = [j for j in range(k + 1, n) if (k, j) in slot]
        if rows:
            fac.append("    r = 1.0 / d")
        for i in rows:
            fac.append(f"    lu[{slot[(i, k)]}] *= r")
            for j in cols:
                fac.append(f"    lu[{slot[(i, j)]}] -= lu[{slot[(i, k)]}] * lu[{slot[(k, j)]}]")
    fac.append("    return True")
    sol = ["def lu_solve(lu, b):"]
    for k in range(n):
        terms = "".join(
            f" - lu[{slot[(k, j)]}] * y{j}" for j in range(k) if (k, j) in slot
        )
        sol.append(f"    y{k} = b[{order[k]}]{terms}")
    for k in range(n - 1, -1, -1):
        terms = "".join(
            f" - lu[{slot[(k, j)]}] * y{j}" for j in range(k + 1, n) if (k, j) in slot
        )
        sol.append(f"    y{k} = (y{k}{terms}) / lu[{slot[(k, k)]}]")
    for k in range(n):
        sol.append(f"    b[{order[k]}] = y{k}")
    sol.append("    return")
    return "\n".join(fac), "\n".join(sol), len(slot)


def _init_source(spec: ModelSpec, hoister: _Hoister) -> str:
    index = {sym: i for i, sym in enumerate(spec.inputs)}
    em = _InitEmitter(spec.initial, {}, spec.source, index)
    body = []
    for key, store in spec.store.items():
        kind, idx = key.split(":")
        body.append(f"    {kind}[{idx}] = {em.code(store)}")
    # hoisted constants, from the stored constants (states are not needed: they are constant)
    leaf = {f"p:{k}": f"p[{k}]" for k in range(len(spec.constants))}
    hoisted = _Emitter(spec.runtime, leaf, spec.source)
    tail = [
        f"    p[{hoister.base + m}] = {hoisted.code(e)}" for e, m in hoister.exprs.items()
    ]
    lines = ["def init(t, u, given, p, x):", *em.lines, *body, *hoisted.lines, *tail]
    return "\n".join([*lines, "    return"])


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


def _outputs_source(spec: ModelSpec, outs: list[Output], hoister: _Hoister) -> str:
    em = _Emitter(spec.runtime, _leaf_map(spec), spec.source, hoister)
    body = [f"    out[{i}] = {em.code(o.expr)}" for i, o in enumerate(outs)]
    return "\n".join(["def outputs(t, x, p, out):", *em.lines, *body, "    return"])


def generate_source(spec: ModelSpec) -> str:
    """Return the full Python module source for a model's kernels."""
    outs = outputs_of(spec)
    hoister = _Hoister(spec, _dependencies(spec))
    rhs_source = _rhs_source(spec, hoister)
    jac_source, pattern = _jac_source(spec, hoister)
    outputs_source = _outputs_source(spec, outs, hoister)
    init_source = _init_source(spec, hoister)  # last: it fills every hoisted slot
    lu_factor, lu_solve, lu_size = _lu_sources(len(spec.states), pattern)
    sections = [
        f"# generated by exotwin codegen v{CODEGEN_VERSION} for {spec.model_id}",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        f"from {ex.HELPERS_MODULE} import {', '.join(ex.HELPER_NAMES)}",
        "from exotwin.kinetics.codegen import (",
        "    INIT_SIG, JAC_SIG, LU_FACTOR_SIG, LU_SOLVE_SIG, OUT_SIG, RHS_SIG,",
        ")",
        "",
        f"LU_SIZE = {lu_size}",
        f"P_SIZE = {hoister.base + len(hoister.exprs)}",
        "",
        "_opts = dict(cache=True, error_model='numpy', fastmath=False)",
        "",
        "@njit(RHS_SIG, **_opts)",
        rhs_source,
        "",
        "@njit(JAC_SIG, **_opts)",
        jac_source,
        "",
        "@njit(LU_FACTOR_SIG, **_opts)",
        lu_factor,
        "",
        "@njit(LU_SOLVE_SIG, **_opts)",
        lu_solve,
        "",
        "@njit(INIT_SIG, **_opts)",
        init_source,
        "",
        "@njit(OUT_SIG, **_opts)",
        outputs_source,
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
