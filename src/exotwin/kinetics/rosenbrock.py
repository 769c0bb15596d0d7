"""Batched, error-controlled Rosenbrock integration (RODAS4), compiled once with numba.

Method: RODAS4 of Hairer & Wanner (Solving ODEs II, 2nd ed., Springer 1996, section
IV.7), a stiffly accurate, L-stable Rosenbrock method of order 4 with an embedded
order-3 error estimate, in the transformed form used by KPP (Sandu et al., Atmos.
Environ. 31:3459, 1997)::

    W = I / (h * gamma) - J(t_n, y_n)
    W K_i = f(t_n + alpha_i h, y_n + sum_j a_ij K_j) + sum_j (c_ij / h) K_j + h gamma_i df/dt
    y_{n+1} = y_n + sum_i m_i K_i,       err = K_6

Every cell is integrated independently with its own step sizes (``prange`` over cells),
so a cell's numbers never depend on the thread count or on the other cells. The model
enters as first-class numba functions (see :mod:`.codegen`), so this kernel is compiled
and cached once for all models.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.core.types import WrapperAddressProtocol
from numba.experimental.function_type import _get_wrapper_address

from exotwin.kinetics._pointers import ptr
from exotwin.kinetics.codegen import (
    INIT_SIG,
    JAC_SIG,
    LU_FACTOR_SIG,
    LU_SOLVE_SIG,
    OUT_SIG,
    RHS_SIG,
)

STAGES = 6
GAMMA = 0.25
ALPHA = np.array([0.0, 0.386, 0.21, 0.63, 1.0, 1.0])
GAMMA_SUM = np.array([0.25, -0.1043, 0.1035, -0.3620000000000023e-01, 0.0, 0.0])
_A = np.zeros((6, 6))
_C = np.zeros((6, 6))
_A[1, 0] = 0.1544000000000000e01
_A[2, :2] = [0.9466785280815826, 0.2557011698983284]
_A[3, :3] = [0.3314825187068521e01, 0.2896124015972201e01, 0.9986419139977817]
_A[4, :4] = [0.1221224509226641e01, 0.6019134481288629e01, 0.1253708332932087e02,
             -0.6878860361058950]  # fmt: skip
_A[5, :5] = [*_A[4, :4], 1.0]
_C[1, 0] = -0.5668800000000000e01
_C[2, :2] = [-0.2430093356833875e01, -0.2063599157091915]
_C[3, :3] = [-0.1073529058151375, -0.9594562251023355e01, -0.2047028614809616e02]
_C[4, :4] = [0.7496443313967647e01, -0.1024680431464352e02, -0.3399990352819905e02,
             0.1170890893206160e02]  # fmt: skip
_C[5, :5] = [0.8083246795921522e01, -0.7981132988064893e01, -0.3152159432874371e02,
             0.1631930543123136e02, -0.6058818238834054e01]  # fmt: skip
A = _A
C = _C
M = np.array([*_A[4, :4], 1.0, 1.0])
ERROR_ORDER = 4.0
# continuous extension of order 3 (Hairer & Wanner's rodas.f, coefficients D21..D35):
# y(t + s h) = y0 (1 - s) + s (y1 + (1 - s) (sum_j DENSE2_j k_j + s sum_j DENSE3_j k_j))
DENSE2 = np.array([10.12623508344586, -7.487995877610167, -34.80091861555747,
                   -7.992771707568823, 1.025137723295662])  # fmt: skip
DENSE3 = np.array([-0.6762803392801253, 6.087714651680015, 16.43084320892478,
                   24.76722511418386, -6.594389125716872])  # fmt: skip

FAC_MIN = 0.2
FAC_MAX = 6.0
SAFETY = 0.9
MAX_STEPS = 500_000

# reassociation and FMA contraction only: NaN/inf semantics (and so failure detection) stay
_FAST = {"reassoc", "contract"}

STATUS_OK = 0
STATUS_MAX_STEPS = 1
STATUS_STEP_TOO_SMALL = 2
STATUS_SINGULAR = 3
STATUS_MESSAGES = {
    STATUS_MAX_STEPS: f"more than {MAX_STEPS} steps",
    STATUS_STEP_TOO_SMALL: "step size fell below the resolution of time (stiff blow-up, "
    "discontinuity or non-finite values)",
    STATUS_SINGULAR: "singular iteration matrix",
}


@njit(cache=True)
def _lu_factor(a, piv):
    """In-place LU decomposition with partial pivoting; returns False if singular."""
    n = a.shape[0]
    for k in range(n):
        p = k
        big = abs(a[k, k])
        for i in range(k + 1, n):
            v = abs(a[i, k])
            if v > big:
                big = v
                p = i
        piv[k] = p
        if big == 0.0 or not math.isfinite(big):
            return False
        if p != k:
            for j in range(n):
                tmp = a[k, j]
                a[k, j] = a[p, j]
                a[p, j] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            a[i, k] *= inv
            f = a[i, k]
            if f != 0.0:
                for j in range(k + 1, n):
                    a[i, j] -= f * a[k, j]
    return True


@njit(cache=True)
def _lu_solve(a, piv, b):
    """Solve ``a x = b`` in place with the factors from :func:`_lu_factor`."""
    n = a.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= a[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= a[i, j] * b[j]
        b[i] = s / a[i, i]


@njit(cache=True)
def _repair_jacobian(rhs, t, x, p, f0, jm, dfdt, ytmp, ftmp):
    """Replace non-finite Jacobian columns (and df/dt) by forward differences.

    The exact Jacobian can be infinite where the model is not differentiable, e.g.
    ``x**n`` with ``n < 1`` at ``x = 0``. Differences step towards larger values, where
    such terms are defined. Entries still non-finite become 0 (the step then behaves as
    a W-method step, whose error the step-size control still checks). Returns whether
    anything was changed.
    """
    n = x.shape[0]
    changed = False
    for j in range(n):
        bad = False
        for i in range(n):
            if not math.isfinite(jm[i, j]):
                bad = True
                break
        if not bad:
            continue
        changed = True
        for i in range(n):
            ytmp[i] = x[i]
        delta = 1.4901161193847656e-08 * max(abs(x[j]), 1e-6)
        ytmp[j] = x[j] + delta
        rhs(t, ptr(ytmp), ptr(p), ptr(ftmp))
        for i in range(n):
            v = (ftmp[i] - f0[i]) / delta
            jm[i, j] = v if math.isfinite(v) else 0.0
    for i in range(n):
        if not math.isfinite(dfdt[i]):
            changed = True
            dt = 1.4901161193847656e-08 * max(abs(t), 1.0)
            rhs(t + dt, ptr(x), ptr(p), ptr(ftmp))
            for q in range(n):
                v = (ftmp[q] - f0[q]) / dt
                dfdt[q] = v if math.isfinite(v) else 0.0
            break
    return changed


@njit(cache=True, fastmath=_FAST)
def _wrms(v, y0, y1, rtol, atol):
    n = v.shape[0]
    acc = 0.0
    for i in range(n):
        sc = atol[i] + rtol * max(abs(y0[i]), abs(y1[i]))
        acc += (v[i] / sc) ** 2
    return math.sqrt(acc / n) if n > 0 else 0.0


@njit(cache=True, fastmath=_FAST)
def _integrate_cell(
    rhs, jac, lu_factor, lu_solve, outputs, t0, t_out, x, p, rtol, atol, select, out, o, h_max,
    lu,
):  # fmt: skip
    """Integrate one cell from ``t0`` through the output times; returns status and counts."""
    n = x.shape[0]
    n_t = t_out.shape[0]
    n_sel = select.shape[0]
    k_out = 0
    while k_out < n_t and t_out[k_out] <= t0:
        outputs(t0, ptr(x), ptr(p), ptr(o))
        for s in range(n_sel):
            out[k_out, s] = o[select[s]]
        k_out += 1
    if k_out == n_t:
        return STATUS_OK, 0, 0
    if n == 0:
        while k_out < n_t:
            outputs(t_out[k_out], ptr(x), ptr(p), ptr(o))
            for s in range(n_sel):
                out[k_out, s] = o[select[s]]
            k_out += 1
        return STATUS_OK, 0, 0

    f0 = np.empty(n)
    dfdt = np.zeros(n)
    jm = np.zeros((n, n))
    w = np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    k = np.empty((STAGES, n))
    ytmp = np.empty(n)
    ftmp = np.empty(n)
    ynew = np.empty(n)

    t = t0
    t_end = t_out[n_t - 1]
    span = t_end - t0
    rhs(t, ptr(x), ptr(p), ptr(f0))
    d0 = _wrms(x, x, x, rtol, atol)
    d1 = _wrms(f0, x, x, rtol, atol)
    if d0 < 1e-5 or d1 < 1e-5:
        h = 1e-6 * span
    else:
        h = 0.01 * d0 / d1
    h = min(max(h, 1e-12 * span), h_max, span)
    steps = 0
    rejected = 0
    while k_out < n_t:
        if steps >= MAX_STEPS:
            return STATUS_MAX_STEPS, steps, rejected
        rhs(t, ptr(x), ptr(p), ptr(f0))
        # jac writes its fixed pattern only; the other entries stay 0
        finite = jac(t, ptr(x), ptr(p), ptr(jm), ptr(dfdt))
        repaired = False
        if not finite:
            _repair_jacobian(rhs, t, x, p, f0, jm, dfdt, ytmp, ftmp)
            repaired = True
        just_rejected = False
        while True:
            last = t + h >= t_end - 1e-13 * abs(t_end)
            hs = t_end - t if last else h
            if not hs > 1e-14 * max(abs(t), span):  # also a NaN step
                return STATUS_STEP_TOO_SMALL, steps, rejected
            inv_hg = 1.0 / (hs * GAMMA)
            sparse = lu_factor(ptr(jm), inv_hg, ptr(lu))
            if not sparse:  # a pivot shrank: dense LU with partial pivoting
                for i in range(n):
                    for j in range(n):
                        w[i, j] = -jm[i, j]
                    w[i, i] += inv_hg
                if not _lu_factor(w, piv):
                    if not repaired:
                        repaired = True
                        if _repair_jacobian(rhs, t, x, p, f0, jm, dfdt, ytmp, ftmp):
                            continue
                    h = 0.5 * hs
                    rejected += 1
                    just_rejected = True
                    continue
            inv_h = 1.0 / hs
            for st in range(STAGES):
                if st == 0:
                    for i in range(n):
                        ftmp[i] = f0[i]
                else:
                    for i in range(n):
                        ytmp[i] = x[i]
                    for j in range(st):
                        a = A[st, j]
                        for i in range(n):
                            ytmp[i] += a * k[j, i]
                    rhs(t + ALPHA[st] * hs, ptr(ytmp), ptr(p), ptr(ftmp))
                hg = hs * GAMMA_SUM[st]
                for i in range(n):
                    k[st, i] = ftmp[i] + hg * dfdt[i]
                for j in range(st):
                    c = C[st, j] * inv_h
                    for i in range(n):
                        k[st, i] += c * k[j, i]
                if sparse:
                    lu_solve(ptr(lu), ptr(k[st]))
                else:
                    _lu_solve(w, piv, k[st])
            for i in range(n):
                ynew[i] = x[i]
            for j in range(STAGES):
                m = M[j]
                for i in range(n):
                    ynew[i] += m * k[j, i]
            err = _wrms(k[STAGES - 1], x, ynew, rtol, atol)
            steps += 1
            if err <= 1.0:
                t_new = t_end if last else t + hs
                while k_out < n_t and t_out[k_out] <= t_new:
                    tk = t_out[k_out]
                    if tk == t_new:
                        outputs(tk, ptr(ynew), ptr(p), ptr(o))
                    else:  # dense output inside the step
                        s = (tk - t) / hs
                        for i in range(n):
                            d2 = 0.0
                            d3 = 0.0
                            for j in range(5):
                                d2 += DENSE2[j] * k[j, i]
                                d3 += DENSE3[j] * k[j, i]
                            ytmp[i] = x[i] * (1.0 - s) + s * (
                                ynew[i] + (1.0 - s) * (d2 + s * d3)
                            )
                        outputs(tk, ptr(ytmp), ptr(p), ptr(o))
                    for q in range(n_sel):
                        out[k_out, q] = o[select[q]]
                    k_out += 1
                for i in range(n):
                    x[i] = ynew[i]
                t = t_new
                fac = SAFETY * (max(err, 1e-10) ** (-1.0 / ERROR_ORDER))
                fac = min(FAC_MAX if not just_rejected else 1.0, max(FAC_MIN, fac))
                h = min(hs * fac, h_max)
                break
            rejected += 1
            just_rejected = True
            if math.isfinite(err):
                fac = max(FAC_MIN, SAFETY * err ** (-1.0 / ERROR_ORDER))
            elif not repaired and _repair_jacobian(rhs, t, x, p, f0, jm, dfdt, ytmp, ftmp):
                repaired = True
                fac = 1.0
            else:
                repaired = True
                fac = 0.1
            h = hs * fac
    return STATUS_OK, steps, rejected


_FN = types.FunctionType
SOLVE_SIG = types.void(
    _FN(RHS_SIG),
    _FN(JAC_SIG),
    _FN(LU_FACTOR_SIG),
    _FN(LU_SOLVE_SIG),
    _FN(INIT_SIG),
    _FN(OUT_SIG),
    types.int64,  # size of the parameter vector (constants + hoisted)
    types.int64,  # n_states
    types.int64,  # n_outputs (all)
    types.int64,  # size of the sparse LU
    types.float64,  # t0
    types.float64[::1],  # t_out
    types.float64[:, ::1],  # inputs u (cells, inputs)
    types.uint8[::1],  # given (0/1)
    types.float64,  # rtol
    types.float64[::1],  # atol per state
    types.float64,  # h_max
    types.int64[::1],  # selected outputs
    types.float64[:, :, ::1],  # out (cells, times, selected)
    types.int64[:, ::1],  # stats (cells, 3): status, steps, rejected
)


class _KernelAddress(WrapperAddressProtocol):
    """A compiled kernel passed to :func:`solve_batch` by its cached wrapper address.

    numba resolves a dispatcher argument's machine address on every call (about 30 us
    per function); this object resolves it once. It keeps the dispatcher alive.
    """

    def __init__(self, dispatcher, signature):
        self._dispatcher = dispatcher
        self._signature = signature
        self._address = _get_wrapper_address(dispatcher, signature)

    def __wrapper_address__(self) -> int:
        return self._address

    def signature(self):
        return self._signature


_ADDRESSES: dict[str, tuple] = {}  # kernel module name -> its six _KernelAddress


def kernel_functions(kernels) -> tuple:
    """The model's ``rhs, jac, lu_factor, lu_solve, init, outputs`` for :func:`solve_batch`.

    Wrappers with cached addresses, made once per process and kernel module (they hold
    machine addresses, so they are never pickled or sent to another process).
    """
    key = kernels.__name__
    if key not in _ADDRESSES:
        functions = (kernels.rhs, kernels.jac, kernels.lu_factor, kernels.lu_solve,
                     kernels.init, kernels.outputs)  # fmt: skip
        signatures = [s.signature for s in SOLVE_SIG.args[:6]]
        _ADDRESSES[key] = tuple(map(_KernelAddress, functions, signatures))
    return _ADDRESSES[key]


@njit(SOLVE_SIG, cache=True, parallel=True)
def solve_batch(
    rhs, jac, lu_factor, lu_solve, init, outputs, n_p, n_x, n_o, n_lu, t0, t_out, u, given,
    rtol, atol, h_max, select, out, stats,
):  # fmt: skip
    """Integrate every cell; see module docstring. Shapes: u (cells, inputs)."""
    n_cells = u.shape[0]
    for c in prange(n_cells):
        p = np.empty(n_p)
        x = np.empty(n_x)
        o = np.empty(n_o)
        lu = np.empty(n_lu)
        init(t0, ptr(u[c]), ptr(given), ptr(p), ptr(x))
        status, steps, rej = _integrate_cell(
            rhs, jac, lu_factor, lu_solve, outputs, t0, t_out, x, p, rtol, atol, select,
            out[c], o, h_max, lu,
        )  # fmt: skip
        stats[c, 0] = status
        stats[c, 1] = steps
        stats[c, 2] = rej


def solve_entry():
    """:func:`solve_batch`'s compiled entry point, without numba's per-call argument typing.

    The caller must pass exactly :data:`SOLVE_SIG`'s types (C-contiguous arrays of those
    dtypes, the functions of :func:`kernel_functions`); the dispatcher itself if the
    compiled signature cannot be found.
    """
    compiled = solve_batch.overloads.get(tuple(SOLVE_SIG.args))
    return compiled.entry_point if compiled is not None else solve_batch

