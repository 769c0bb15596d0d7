"""The matrix-free O2 solve of the xenograft against a direct sparse solve of the same
system (independent assembly from a Kronecker-product Laplacian), against the spectral
(sine-transform) solution of the whole-box problem, and its failure when capped.
"""

import numba
import numpy as np
import pytest
from scipy import fft, ndimage, sparse
from scipy.sparse.linalg import spsolve

from exotwin.errors import ExotwinError
from exotwin.tissue.o2_solver import solve

K, CV = 0.1, 40.0  # D / dx^2 (1/min) of 1e5 um^2/min on 1-mm voxels; vascular pO2 (mmHg)


def reference(tumour, s, u, k, cv):
    """Direct solve: the face Laplacian of the whole box restricted to the active voxels."""
    n = tumour.shape[0]
    path = sparse.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1])
    eye = sparse.identity(n)
    adj = (sparse.kron(sparse.kron(path, eye), eye) + sparse.kron(sparse.kron(eye, path), eye)
           + sparse.kron(sparse.kron(eye, eye), path)).tocsr()
    active = np.flatnonzero(ndimage.binary_dilation(tumour).ravel())
    sub = adj[active][:, active]
    fixed = 6.0 - np.asarray(sub.sum(axis=1)).ravel()
    a = sparse.diags(s[active] + u[active] + 6.0 * k) - k * sub
    out = np.full(n**3, cv)
    out[active] = spsolve(a.tocsc(), (s[active] + k * fixed) * cv)
    return out.reshape(tumour.shape)


def rates(tumour, g):
    """Exchange falling with depth (down to ~0 in the core) and consumption, some zero."""
    depth = ndimage.distance_transform_edt(tumour)
    s = np.where(tumour, 114.0 * np.exp(-np.clip(depth - 1.0, 0, None) / 0.15), 0.0).ravel()
    u = np.where(tumour, 6.0 * g.random(tumour.shape) * (g.random(tumour.shape) > 0.2), 0.0)
    return s, u.ravel()


def ball(n, r, centre=None):
    c = np.array(centre if centre is not None else (n // 2,) * 3)
    z, y, x = np.indices((n, n, n))
    return (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r


def shapes():
    g = np.random.default_rng(7)
    holed = ball(23, 9)
    holed &= ~ball(23, 3, (11, 11, 13))  # a cavity
    holed &= g.random(holed.shape) > 0.15  # scattered holes
    yield "one voxel", ball(9, 0)
    yield "small", ball(9, 2)
    yield "large", ball(23, 8)
    yield "holes", holed
    yield "at the edge", ball(23, 7, (3, 11, 20))
    yield "two nodules", ball(23, 4, (6, 6, 6)) | ball(23, 5, (15, 15, 14))


@pytest.mark.parametrize("name,tumour", list(shapes()))
def test_matches_a_direct_sparse_solve(name, tumour):
    g = np.random.default_rng(3)
    s, u = rates(tumour, g)
    want = reference(tumour, s, u, K, CV)
    for guess in (np.full(tumour.shape, CV), CV * g.random(tumour.shape)):
        got = solve(tumour, s, u, K, CV, guess)
        assert np.abs(got - want).max() <= 1e-9 * np.abs(want).max(), name
        assert np.all(got[~ndimage.binary_dilation(tumour)] == CV)


def test_whole_box_matches_the_sine_transform_solution():
    # all voxels active, uniform rates: A = (s + u) I + k L (L the Dirichlet face
    # Laplacian, eigenvalues sum of 2 - 2 cos(pi j / (n + 1))), diagonal in the DST-I basis
    n, s, u = 15, 0.3, 2.0
    tumour = np.ones((n, n, n), dtype=bool)
    b = np.full((n, n, n), s * CV)
    for axis in range(3):  # faces on the domain edge see C_v
        idx = [slice(None)] * 3
        for end in (0, n - 1):
            idx[axis] = end
            b[tuple(idx)] += K * CV
    lam = 2.0 - 2.0 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))
    eig = s + u + K * (lam[:, None, None] + lam[None, :, None] + lam[None, None, :])
    want = fft.idstn(fft.dstn(b, type=1) / eig, type=1)
    got = solve(tumour, np.full(n**3, s), np.full(n**3, u), K, CV, np.full((n, n, n), CV))
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # deep inside, diffusion from the edge is negligible: the local balance s C_v / (s + u)
    assert got[n // 2, n // 2, n // 2] == pytest.approx(s * CV / (s + u), rel=1e-3)


def test_iteration_cap_raises_a_clear_error():
    tumour = ball(23, 8)
    s, u = rates(tumour, np.random.default_rng(1))
    with pytest.raises(ExotwinError, match="did not converge in 3 iterations"):
        solve(tumour, s, u, K, CV, np.full(tumour.shape, CV), max_iter=3)


def test_no_tumour_is_the_vascular_value():
    tumour = np.zeros((5, 5, 5), dtype=bool)
    got = solve(tumour, np.zeros(125), np.zeros(125), K, CV, np.zeros((5, 5, 5)))
    assert np.all(got == CV)


def test_bitwise_the_same_for_any_numba_thread_count():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has fewer than 2 threads")
    tumour = ball(23, 8)
    s, u = rates(tumour, np.random.default_rng(5))
    before = numba.get_num_threads()
    try:
        got = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            got.append(solve(tumour, s, u, K, CV, np.full(tumour.shape, CV)).tobytes())
    finally:
        numba.set_num_threads(before)
    assert got[0] == got[1]
