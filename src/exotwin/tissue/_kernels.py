"""Compiled kernels of the diffusion solver: reaction update and prefactored Thomas sweeps.

Two kernels do all the work of a step (see :mod:`exotwin.tissue.diffusion` for the
scheme):

- :func:`sweep_x` reads each x line of the input fields (stride 1), applies the exact
  per-voxel reaction update (decay, secretion, uptake, supply) and solves the backward
  Euler tridiagonal system along x in place in the output, one line per ``prange``
  iteration.
- :func:`sweep_strided` solves along an axis that is not the fastest in memory (y, or z)
  for many lines at once: the recurrences run over the line index, and the inner loop
  runs over a block of the fast axis with stride 1, as BioFVM does (Ghaffarizadeh et
  al., Bioinformatics 32:1256, 2016).

Results below ``TINY`` in magnitude are flushed to zero (see there).

Every voxel's arithmetic is the same whatever thread handles it, and there is no
reduction across threads (ledger terms are written per line and summed in numpy), so
results are bitwise identical for any thread count.

Thomas algorithm with a constant off-diagonal ``-c`` and prefactored ``inv[i]`` (the
inverse pivots) and ``e[i] = c * inv[i]``::

    forward:  y[0] = r[0] inv[0];   y[i] = (r[i] + c y[i-1]) inv[i]
    backward: x[n-1] = y[n-1];      x[i] = y[i] + e[i] x[i+1]

Boundary data ``bc[s] = (2c_lo, 2c_lo g_lo, 2c_hi, 2c_hi g_hi)``: a Dirichlet face adds
``2c g`` to the first (last) right-hand side, and the inflow through it in the step is
``2c (g - x)`` per voxel volume; a zero-flux face has zeros.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# x lines solved side by side by one task of :func:`sweep_x`
LINES = 16
# Results smaller than this (in any concentration unit) are set to zero. The far tail of
# a point source shrinks geometrically along each sweep and would otherwise reach
# subnormal numbers, which made a step 15x slower (3.4 vs 0.2 ms on 41^3).
TINY = 1e-150


@njit(cache=True, inline="always")
def _flush(v):
    return v if abs(v) >= TINY else 0.0


@njit(cache=True, inline="always")
def _factors(b, dt):
    """``exp(-b dt)`` and ``(1 - exp(-b dt)) / b`` of a total rate ``b > 0`` (1/min)."""
    x = b * dt
    return math.exp(-x), -math.expm1(-x) / b


@njit(cache=True, inline="always")
def _react_with(rho, supply, b, ebt, phi, dt):
    """:func:`_react` with the total rate ``b`` and its :func:`_factors` given."""
    if b <= 0.0:
        return rho + supply * dt, 0.0
    new = rho * ebt + supply * phi
    integral = (supply * dt - (new - rho)) / b
    return new, integral


@njit(cache=True, fastmath=False)
def _react(rho, srate, supply, urate, decay, dt):
    """Exact solution over ``dt`` of ``d rho/dt = supply - (srate + urate + decay) rho``.

    Returns the new value and the time integral of ``rho`` over the step (zero when the
    total rate is zero, where it is not needed by the ledger).
    """
    b = srate + urate + decay
    if b <= 0.0:
        return rho + supply * dt, 0.0
    ebt, phi = _factors(b, dt)
    return _react_with(rho, supply, b, ebt, phi, dt)


@njit(parallel=True, cache=True, fastmath=False)
def sweep_x(
    u_in, u_out, c, inv, e, bc, decay, decay_factor, dt,
    has_src, srate, target, supply, urate, want_ledger, react_ledger, flux,
):  # fmt: skip
    """Reaction update then backward-Euler solve along x, ``LINES`` x lines at a time.

    Each task copies its lines, after the reaction update, into a transposed buffer
    ``(nx, LINES)`` so that the Thomas recurrences of the lines run side by side
    (vector loops over lines) instead of one latency-bound chain per line.

    Parameters
    ----------
    u_in, u_out
        Fields before and after, shape ``(n_s, nz, ny, nx)``; ``u_in`` is not changed.
    c
        ``D dt / dx**2`` per substance, shape ``(n_s,)``.
    inv, e
        Prefactored Thomas coefficients, shape ``(n_s, nx)``.
    bc
        Boundary data of the x faces, shape ``(n_s, 4)`` (module docstring).
    decay, decay_factor
        Decay rate (1/min) and ``exp(-decay dt)`` per substance, shape ``(n_s,)``.
    dt
        Step (min).
    has_src
        Flags ``(rate and target, supply, uptake)``: which per-voxel terms are given; an
        absent one may be any 4-d array.
    srate, target, supply, urate
        Per-voxel secretion rate (1/min), saturation density (concentration), zero-order
        supply (concentration/min) and uptake rate (1/min), shape of the fields.
    want_ledger
        Whether to fill the two ledger arrays.
    react_ledger
        Per x line net secretion, uptake and decay (concentration x voxels), shape
        ``(n_s * nz * ny, 3)``.
    flux
        Per x line inflow through the low and high x faces, shape ``(n_s * nz * ny, 2)``.
    """
    ns, nz, ny, nx = u_in.shape
    nblk = (ny + LINES - 1) // LINES
    for t in prange(ns * nz * nblk):
        s = t // (nz * nblk)
        k = (t // nblk) % nz
        j0 = (t % nblk) * LINES
        nl = min(LINES, ny - j0)
        buf = np.empty((nx, LINES))
        zero = np.zeros(nx)
        any_src = has_src[0] or has_src[1] or has_src[2]
        f = decay_factor[s]
        lam = decay[s]
        for jj in range(nl):
            j = j0 + jj
            src = u_in[s, k, j]
            gained = 0.0
            uptaken = 0.0
            decayed = 0.0
            if any_src:
                sr = srate[s, k, j] if has_src[0] else zero
                tg = target[s, k, j] if has_src[0] else zero
                q = supply[s, k, j] if has_src[1] else zero
                ur = urate[s, k, j] if has_src[2] else zero
                last_b = math.nan  # exp factors of the last total rate (runs of equal rates)
                ebt = phi = 0.0
                for i in range(nx):
                    rho = src[i]
                    if sr[i] == 0.0 and ur[i] == 0.0 and q[i] == 0.0:
                        new = rho * f
                        decayed += rho - new
                    else:
                        sp = q[i] + sr[i] * tg[i]
                        b = sr[i] + ur[i] + lam
                        if b != last_b and b > 0.0:
                            last_b = b
                            ebt, phi = _factors(b, dt)
                        new, integral = _react_with(rho, sp, b, ebt, phi, dt)
                        gained += sp * dt - sr[i] * integral
                        uptaken += ur[i] * integral
                        decayed += lam * integral
                    buf[i, jj] = new
            else:
                for i in range(nx):
                    new = src[i] * f
                    decayed += src[i] - new
                    buf[i, jj] = new
            if want_ledger:
                line = (s * nz + k) * ny + j
                react_ledger[line, 0] = gained
                react_ledger[line, 1] = uptaken
                react_ledger[line, 2] = decayed
        cs = c[s]
        iv = inv[s]
        ev = e[s]
        lo = bc[s, 1]
        hi = bc[s, 3]
        for jj in range(nl):
            buf[0, jj] = (buf[0, jj] + lo) * iv[0]
        if nx == 1:
            for jj in range(nl):
                buf[0, jj] += hi * iv[0]
        for i in range(1, nx):
            p = iv[i]
            if i == nx - 1:
                for jj in range(nl):
                    buf[i, jj] = (buf[i, jj] + hi + cs * buf[i - 1, jj]) * p
            else:
                for jj in range(nl):
                    buf[i, jj] = (buf[i, jj] + cs * buf[i - 1, jj]) * p
        for i in range(nx - 2, -1, -1):
            ei = ev[i]
            for jj in range(nl):
                buf[i, jj] += ei * buf[i + 1, jj]
        for jj in range(nl):
            dst = u_out[s, k, j0 + jj]
            for i in range(nx):
                dst[i] = _flush(buf[i, jj])
            if want_ledger:
                line = (s * nz + k) * ny + j0 + jj
                flux[line, 0] = lo - bc[s, 0] * buf[0, jj]
                flux[line, 1] = hi - bc[s, 2] * buf[nx - 1, jj]


@njit(parallel=True, cache=True, fastmath=False)
def sweep_strided(v, group, width, c, inv, e, bc, want_ledger, flux):
    """Backward-Euler solve along the middle axis of ``v``, many lines at once.

    Parameters
    ----------
    v
        Fields viewed as ``(n_batch, n, n_fast)``, changed in place; lines run along
        axis 1. The y sweep uses ``(n_s * nz, ny, nx)``, the z sweep
        ``(n_s, nz, ny * nx)``.
    group
        Batches per substance (``nz`` for y, 1 for z): substance = batch // group.
    width
        Block of the fast axis handled by one ``prange`` iteration.
    c, inv, e, bc
        As in :func:`sweep_x`, for this axis.
    want_ledger
        Whether to fill ``flux``.
    flux
        Inflow through the low and high faces of each line, shape ``(n_batch, n_fast, 2)``.
    """
    nb, n, nf = v.shape
    nblocks = (nf + width - 1) // width
    for t in prange(nb * nblocks):
        b = t // nblocks
        f0 = (t % nblocks) * width
        f1 = min(nf, f0 + width)
        s = b // group
        cs = c[s]
        iv = inv[s]
        ev = e[s]
        lo = bc[s, 1]
        hi = bc[s, 3]
        vb = v[b]
        row = vb[0]
        p0 = iv[0]
        for f in range(f0, f1):
            row[f] = (row[f] + lo) * p0
        if n == 1:
            for f in range(f0, f1):
                row[f] += hi * p0
        for i in range(1, n):
            prev = vb[i - 1]
            row = vb[i]
            p = iv[i]
            if i == n - 1:
                for f in range(f0, f1):
                    row[f] = (row[f] + hi + cs * prev[f]) * p
            else:
                for f in range(f0, f1):
                    row[f] = (row[f] + cs * prev[f]) * p
        for i in range(n - 2, -1, -1):
            nxt = vb[i + 1]
            row = vb[i]
            ei = ev[i]
            for f in range(f0, f1):
                row[f] = _flush(row[f] + ei * nxt[f])
        last = vb[n - 1]
        for f in range(f0, f1):
            last[f] = _flush(last[f])
        if want_ledger:
            first = vb[0]
            for f in range(f0, f1):
                flux[b, f, 0] = lo - bc[s, 0] * first[f]
                flux[b, f, 1] = hi - bc[s, 2] * last[f]
