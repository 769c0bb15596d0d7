"""Matrix-free solve of the xenograft's quasi-steady O2 balance (owns the compiled PCG).

On a cubic box of ``n^3`` voxels the balance ``s (C_v - C) - u C + k (sum of the six face
neighbours - 6 C) = 0`` (``k = D / dx^2``) is solved on the *active* voxels only (the
tumour and its face neighbours); every other voxel, and every face beyond the domain
edge, is a fixed boundary value ``C_v``. On the active voxels this is ``A x = b`` with

    A[i, i] = s_i + u_i + 6 k,   A[i, j] = -k for active face neighbours i, j,
    b_i = (s_i + k f_i) C_v,     f_i = faces of i towards fixed voxels or the edge,

symmetric positive definite (diagonally dominant with ``s, u >= 0``, ``k > 0``). It is
solved by conjugate gradients with the Jacobi (diagonal) preconditioner, without
assembling ``A``: a neighbour table ``(m, 6)`` of the active voxels applies it. All loops
and reductions are serial, in a fixed order, so the result is bitwise the same for any
numba thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from exotwin.errors import ExotwinError

# Convergence: ||b - A x||_2 <= RTOL ||b||_2 (dimensionless; numerics, not biology)
RTOL = 1e-12


@njit(cache=True)
def _active_neighbours(tumour):
    """Active voxels (``tumour`` dilated by face neighbours) and their neighbour table.

    ``tumour`` is ``(n, n, n)`` bool. Returns the flat indices of the active voxels in
    increasing order ``(m,)`` and, per active voxel and face (-z, +z, -y, +y, -x, +x), the
    position of that neighbour in the active list or -1 ``(m, 6)``.
    """
    n = tumour.shape[0]
    flat = tumour.ravel()
    active = np.zeros(n * n * n, dtype=np.bool_)
    nn = n * n
    for z in range(n):
        for y in range(n):
            for x in range(n):
                i = z * nn + y * n + x
                if flat[i]:
                    active[i] = True
                    if z > 0:
                        active[i - nn] = True
                    if z < n - 1:
                        active[i + nn] = True
                    if y > 0:
                        active[i - n] = True
                    if y < n - 1:
                        active[i + n] = True
                    if x > 0:
                        active[i - 1] = True
                    if x < n - 1:
                        active[i + 1] = True
    pos = np.full(n * n * n, -1, dtype=np.int64)
    m = 0
    for i in range(n * n * n):
        if active[i]:
            pos[i] = m
            m += 1
    idx = np.empty(m, dtype=np.int64)
    nb = np.full((m, 6), -1, dtype=np.int64)
    for i in range(n * n * n):
        a = pos[i]
        if a < 0:
            continue
        idx[a] = i
        z = i // nn
        y = (i // n) % n
        x = i % n
        if z > 0:
            nb[a, 0] = pos[i - nn]
        if z < n - 1:
            nb[a, 1] = pos[i + nn]
        if y > 0:
            nb[a, 2] = pos[i - n]
        if y < n - 1:
            nb[a, 3] = pos[i + n]
        if x > 0:
            nb[a, 4] = pos[i - 1]
        if x < n - 1:
            nb[a, 5] = pos[i + 1]
    return idx, nb


@njit(cache=True)
def _apply(nb, diag, k, x, out):
    """``out = A x`` for the neighbour table ``nb`` ``(m, 6)`` and diagonal ``(m,)``."""
    for a in range(x.size):
        acc = diag[a] * x[a]
        for f in range(6):
            j = nb[a, f]
            if j >= 0:
                acc -= k * x[j]
        out[a] = acc


@njit(cache=True)
def _dot(a, b):
    acc = 0.0
    for i in range(a.size):
        acc += a[i] * b[i]
    return acc


@njit(cache=True)
def _pcg(nb, diag, rhs, k, x, rtol, max_iter):
    """Jacobi-preconditioned CG for ``A x = rhs`` from the guess ``x`` (changed in place).

    Returns the iterations used and the final true relative residual; iterations equal to
    ``max_iter`` mean no convergence. The recursive residual is checked against the true
    one at convergence and the iteration restarted from ``x`` if they disagree.
    """
    m = x.size
    r = np.empty(m)
    z = np.empty(m)
    p = np.empty(m)
    q = np.empty(m)
    bnorm = math.sqrt(_dot(rhs, rhs))
    if bnorm == 0.0:
        x[:] = 0.0
        return 0, 0.0
    tol = rtol * bnorm
    it = 0
    while True:
        _apply(nb, diag, k, x, q)
        for i in range(m):
            r[i] = rhs[i] - q[i]
        res = math.sqrt(_dot(r, r))
        if res <= tol:
            return it, res / bnorm
        if it >= max_iter:
            return max_iter, res / bnorm
        for i in range(m):
            z[i] = r[i] / diag[i]
            p[i] = z[i]
        rz = _dot(r, z)
        while it < max_iter:
            it += 1
            _apply(nb, diag, k, p, q)
            alpha = rz / _dot(p, q)
            for i in range(m):
                x[i] += alpha * p[i]
                r[i] -= alpha * q[i]
            if math.sqrt(_dot(r, r)) <= tol:
                break
            for i in range(m):
                z[i] = r[i] / diag[i]
            rz_new = _dot(r, z)
            beta = rz_new / rz
            rz = rz_new
            for i in range(m):
                p[i] = z[i] + beta * p[i]


def solve(
    tumour: np.ndarray,
    s: np.ndarray,
    u: np.ndarray,
    k: float,
    cv: float,
    guess: np.ndarray,
    rtol: float = RTOL,
    max_iter: int | None = None,
) -> np.ndarray:
    """Steady O2 (same unit as ``cv``) on the box, ``(n, n, n)``; see the module docstring.

    Parameters
    ----------
    tumour
        Voxels holding cells, ``(n, n, n)`` bool; the active voxels are these and their
        face neighbours.
    s, u
        Vascular exchange and consumption rates (1/min) per voxel, ``(n^3,)`` or
        ``(n, n, n)``, ``>= 0``.
    k
        ``D / dx^2`` (1/min), ``> 0``.
    cv
        Boundary (vascular) value.
    guess
        Initial guess per voxel, ``(n, n, n)`` (e.g. the previous step's field).
    rtol, max_iter
        Relative residual to reach and iteration cap (default ``10 m + 100`` for ``m``
        active voxels: CG needs at most ``m`` in exact arithmetic, some tens here).

    Returns
    -------
    numpy.ndarray
        The solution on the active voxels and ``cv`` elsewhere, ``(n, n, n)`` (not
        clipped).

    Raises
    ------
    ExotwinError
        If the iteration cap is reached before the residual tolerance.
    """
    n = tumour.shape[0]
    idx, nb = _active_neighbours(np.ascontiguousarray(tumour, dtype=np.bool_))
    s_a = np.ravel(s)[idx]
    diag = s_a + np.ravel(u)[idx] + 6.0 * k
    fixed = (nb < 0).sum(axis=1)
    rhs = (s_a + k * fixed) * cv
    x = np.array(np.ravel(guess)[idx], dtype=np.float64)
    cap = 10 * idx.size + 100 if max_iter is None else int(max_iter)
    it, res = _pcg(nb, diag, rhs, float(k), x, float(rtol), cap)
    if it >= cap and res > rtol:
        raise ExotwinError(f"oxygen solve did not converge in {cap} iterations "
                           f"(relative residual {res:.3g} > {rtol:g})")  # fmt: skip
    out = np.full(n**3, float(cv))
    out[idx] = x
    return out.reshape(n, n, n)


__all__ = ["RTOL", "solve"]
