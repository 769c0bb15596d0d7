"""Cell agents: off-lattice, centre-based mechanics, division, death and removal.

Each agent is one cell: a sphere (a disc in 2D, ``z == 0``) with a centre and a radius.
Mechanics is PhysiCell's standard model (Ghaffarizadeh, Heiland, Friedman, Mumenthaler &
Macklin, PLoS Comput Biol 14:e1005991, 2018, doi:10.1371/journal.pcbi.1005991):
overdamped motion, the velocity of cell ``i`` being the sum over neighbours ``j`` of::

    v_ij = [c_rep (1 - d/R)^2 [d < R] - c_adh (1 - d/R_A)^2 [d < R_A]] (x_i - x_j) / d

with ``d = |x_i - x_j|`` (floored at 1e-5 um as in PhysiCell), ``R = r_i + r_j`` and the
adhesion range ``R_A = a (r_i + r_j)`` (``a`` the relative maximum adhesion distance).
Positions are advanced with PhysiCell's Adams-Bashforth 2 step
``x += dt (1.5 v_n - 0.5 v_{n-1})`` (the previous velocity starts at zero, as in
PhysiCell) or with forward Euler (``MechanicsParams.scheme``).

Neighbours are found with a uniform grid of cell lists (bins at least as large as the
largest interaction distance), so a step costs O(n). Each cell's velocity is summed by one
thread, over the 27 neighbouring bins in a fixed order and within a bin in increasing id
order, so results are bitwise identical for any thread count.

Arrays: ``n`` cells; ``positions`` and ``velocity`` ``(n, 3)`` float64 (um, um/min);
``radius`` ``(n,)`` float64 (um); ``ids`` ``(n,)`` uint64; ``fate`` ``(n,)`` int8
(:data:`ALIVE`, :data:`APOPTOTIC`, :data:`NECROTIC`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numba import njit, prange

from exotwin import rng
from exotwin.errors import ExotwinError

ALIVE, APOPTOTIC, NECROTIC = 0, 1, 2
FATES = {ALIVE: "alive", APOPTOTIC: "apoptotic", NECROTIC: "necrotic"}
MAX_BINS = 50_000_000
# PhysiCell's floor on the centre-centre distance (um), avoiding a division by zero
MIN_DISTANCE = 1e-5


@dataclass(frozen=True)
class MechanicsParams:
    """Parameters of the standard mechanics model; defaults are PhysiCell's.

    Attributes
    ----------
    repulsion
        Cell-cell repulsion strength c_rep (um/min). PhysiCell default 10 um/min
        (Ghaffarizadeh et al. 2018, Table 1 and ``cell_cell_repulsion_strength``).
    adhesion
        Cell-cell adhesion strength c_adh (um/min). PhysiCell default 0.4 um/min
        (Ghaffarizadeh et al. 2018, ``cell_cell_adhesion_strength``).
    max_adhesion_distance
        Adhesion range relative to the radius, a (dimensionless). PhysiCell default 1.25
        (Ghaffarizadeh et al. 2018, ``relative_maximum_adhesion_distance``).
    scheme
        ``"ab2"`` (Adams-Bashforth 2, PhysiCell's) or ``"euler"``.
    """

    repulsion: float = 10.0
    adhesion: float = 0.4
    max_adhesion_distance: float = 1.25
    scheme: str = "ab2"

    def __post_init__(self):
        if not (self.repulsion >= 0 and self.adhesion >= 0 and self.max_adhesion_distance > 0):
            raise ExotwinError("repulsion and adhesion must be >= 0 um/min, "
                               "max_adhesion_distance > 0")
        if self.scheme not in ("ab2", "euler"):
            raise ExotwinError(f"mechanics scheme must be 'ab2' or 'euler', got {self.scheme!r}")


DEFAULT_RADIUS = (3.0 * 2494.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
"""PhysiCell's default cell radius (um): a 2494 um^3 cell (MCF-10A), about 8.41 um."""


@dataclass(frozen=True)
class Agents:
    """The cells as arrays; see the module docstring for shapes and units.

    ``velocity`` is the velocity of the last mechanics step (PhysiCell's
    ``previous_velocity``), used by the Adams-Bashforth step. ``next_id`` is the id the
    next new cell gets.
    """

    positions: np.ndarray
    radius: np.ndarray
    velocity: np.ndarray
    ids: np.ndarray
    fate: np.ndarray
    next_id: int = 0

    def __post_init__(self):
        n = self.ids.shape[0]
        shapes = {"positions": (n, 3), "velocity": (n, 3), "radius": (n,), "fate": (n,)}
        for name, want in shapes.items():
            if getattr(self, name).shape != want:
                raise ExotwinError(f"agents.{name} has shape {getattr(self, name).shape}, "
                                   f"expected {want}")

    @classmethod
    def create(cls, positions, radius=DEFAULT_RADIUS, first_id: int = 0) -> Agents:
        """New living cells at rest.

        Parameters
        ----------
        positions
            Centres (um), shape ``(n, 3)``, or ``(n, 2)`` for a 2D tissue (``z = 0``).
        radius
            Radius (um), scalar or shape ``(n,)``.
        first_id
            Id of the first cell; the others follow consecutively.
        """
        p = np.asarray(positions, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] not in (2, 3):
            raise ExotwinError(f"positions must have shape (n, 3) or (n, 2), got {p.shape}")
        n = p.shape[0]
        pos = np.zeros((n, 3))
        pos[:, : p.shape[1]] = p
        r = np.array(np.broadcast_to(np.asarray(radius, dtype=np.float64), (n,)))
        if not np.all(r > 0):
            raise ExotwinError("cell radii must be > 0 um")
        ids = np.arange(first_id, first_id + n, dtype=np.uint64)
        return cls(pos, r, np.zeros((n, 3)), ids, np.zeros(n, np.int8), first_id + n)

    @property
    def n(self) -> int:
        """Number of cells."""
        return int(self.ids.shape[0])

    @property
    def alive(self) -> np.ndarray:
        """Boolean mask of living cells, shape ``(n,)``."""
        return self.fate == ALIVE

    def volume(self) -> np.ndarray:
        """Cell volumes (um^3), shape ``(n,)``."""
        return 4.0 / 3.0 * math.pi * self.radius**3


def _bins(pos: np.ndarray, size: float):
    """Cell lists: bin coordinates ``(n, 3)``, cells sorted by (bin, id), bin starts, dims."""
    lo = pos.min(axis=0)
    coords = np.floor((pos - lo) / size).astype(np.int64)
    dims = coords.max(axis=0) + 1  # (x, y, z)
    nbins = int(np.prod(dims))
    if nbins > MAX_BINS:
        raise ExotwinError(f"cells spread over {nbins} neighbour bins of {size:.3g} um "
                           f"(limit {MAX_BINS}); remove cells that have left the tissue")
    linear = (coords[:, 2] * dims[1] + coords[:, 1]) * dims[0] + coords[:, 0]
    return coords, linear, dims, nbins


def _cell_lists(pos, ids, size):
    coords, linear, dims, nbins = _bins(pos, size)
    order = np.lexsort((ids, linear)).astype(np.int64)
    start = np.zeros(nbins + 1, np.int64)
    np.cumsum(np.bincount(linear, minlength=nbins), out=start[1:])
    return coords, order, start, dims


@njit(cache=True, inline="always")
def _pair(xi, yi, zi, ri, xj, yj, zj, rj, rep, adh, rel_adh):
    """Velocity contribution factor ``f`` of cell j on cell i (``v_i += f (x_i - x_j)``)."""
    dx, dy, dz = xi - xj, yi - yj, zi - zj
    d = max(math.sqrt(dx * dx + dy * dy + dz * dz), MIN_DISTANCE)
    big_r = ri + rj
    f = 0.0
    if d < big_r:
        t = 1.0 - d / big_r
        f = rep * t * t
    r_a = rel_adh * big_r
    if d < r_a:
        t = 1.0 - d / r_a
        f -= adh * t * t
    return f / d, dx, dy, dz


@njit(cache=True, parallel=True, fastmath=False)
def _velocities(ps, rs, cs, order, start, dims, rep, adh, rel_adh, out):
    """Standard-model velocities (um/min), written to ``out[order[k]]`` ``(n, 3)``.

    ``ps`` ``(n, 3)``, ``rs`` ``(n,)`` and ``cs`` ``(n, 3)`` are positions, radii and bin
    coordinates sorted by (bin, id), so that the cells of a bin are contiguous in memory.
    """
    nx, ny, nz = dims[0], dims[1], dims[2]
    for k in prange(ps.shape[0]):
        xi, yi, zi, ri = ps[k, 0], ps[k, 1], ps[k, 2], rs[k]
        vx = vy = vz = 0.0
        for bz in range(max(cs[k, 2] - 1, 0), min(cs[k, 2] + 2, nz)):
            for by in range(max(cs[k, 1] - 1, 0), min(cs[k, 1] + 2, ny)):
                for bx in range(max(cs[k, 0] - 1, 0), min(cs[k, 0] + 2, nx)):
                    b = (bz * ny + by) * nx + bx
                    for m in range(start[b], start[b + 1]):
                        if m == k:
                            continue
                        f, dx, dy, dz = _pair(xi, yi, zi, ri, ps[m, 0], ps[m, 1], ps[m, 2],
                                              rs[m], rep, adh, rel_adh)
                        vx += f * dx
                        vy += f * dy
                        vz += f * dz
        i = order[k]
        out[i, 0] = vx
        out[i, 1] = vy
        out[i, 2] = vz


def interaction_distance(agents: Agents, params: MechanicsParams) -> float:
    """Largest centre-centre distance (um) at which two of these cells interact."""
    if agents.n == 0:
        return 0.0
    return 2.0 * float(agents.radius.max()) * max(1.0, params.max_adhesion_distance)


def velocities(agents: Agents, params: MechanicsParams) -> np.ndarray:
    """Standard-model velocities of all cells (um/min), shape ``(n, 3)``."""
    out = np.zeros((agents.n, 3))
    if agents.n < 2:
        return out
    pos = agents.positions
    coords, order, start, dims = _cell_lists(pos, agents.ids, interaction_distance(agents, params))
    _velocities(pos[order], agents.radius[order], coords[order], order, start, dims,
                float(params.repulsion), float(params.adhesion),
                float(params.max_adhesion_distance), out)
    return out


def mechanics_step(agents: Agents, params: MechanicsParams, dt: float) -> Agents:
    """Move the cells by one mechanics step ``dt`` (min); pure.

    Parameters
    ----------
    agents
        The cells; not changed.
    params
        Mechanics parameters.
    dt
        Mechanics step (min); PhysiCell's default is 0.1 min.

    Returns
    -------
    Agents
        New positions ``(n, 3)`` and ``velocity`` ``(n, 3)`` (this step's velocity).
    """
    if not dt > 0:
        raise ExotwinError(f"mechanics dt must be > 0 min, got {dt}")
    v = velocities(agents, params)
    if params.scheme == "ab2":
        pos = agents.positions + dt * (1.5 * v - 0.5 * agents.velocity)
    else:
        pos = agents.positions + dt * v
    return replace(agents, positions=pos, velocity=v)


def directions(seed: int, ids: np.ndarray, step: int, ndim: int = 3) -> np.ndarray:
    """Uniform random unit vectors keyed by (seed, ``division_direction``, id, step).

    Two keyed uniforms per cell (counters ``2 step`` and ``2 step + 1``): in 3D
    ``z = 2 u_0 - 1`` and azimuth ``2 pi u_1`` (uniform on the sphere); in 2D the angle
    ``2 pi u_1`` in the xy plane. Shape ``(n, 3)``.
    """
    u0 = rng.uniform(seed, "division_direction", ids, 2 * step)
    phi = 2.0 * math.pi * rng.uniform(seed, "division_direction", ids, 2 * step + 1)
    z = 2.0 * u0 - 1.0 if ndim == 3 else np.zeros_like(u0)
    s = np.sqrt(1.0 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def division_order(agents: Agents, mask: np.ndarray) -> np.ndarray:
    """Indices ``(k,)`` of the cells in ``mask`` by increasing id.

    These are the mothers of the daughters :func:`divide` appends, in the daughters' order.
    """
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    return idx[np.argsort(agents.ids[idx], kind="stable")]


def divide(agents: Agents, mask: np.ndarray, seed: int, step: int, ndim: int = 3) -> Agents:
    """Divide the cells in ``mask``, as PhysiCell's ``Cell::divide``.

    Each mother of radius ``r`` keeps half its volume (radius ``r / 2^(1/3)``) and moves
    by ``-r/2 u``; the daughter, with the same radius, is placed at ``+r/2 u`` from the
    mother's old centre, ``u`` a random direction (:func:`directions`, keyed by the
    mother's id and ``step``). Daughters are appended in increasing mother id, with ids
    from ``next_id``, at rest and alive.

    Parameters
    ----------
    agents
        The cells; not changed.
    mask
        Which cells divide, shape ``(n,)`` bool.
    seed, step
        The run's seed and the phenotype step counter.
    ndim
        2 (divisions stay in the xy plane) or 3.
    """
    idx = division_order(agents, mask)
    if idx.size == 0:
        return agents
    k = idx.size
    u = directions(seed, agents.ids[idx], step, ndim)
    r = agents.radius[idx]
    shift = 0.5 * r[:, None] * u
    pos = agents.positions.copy()
    pos[idx] -= shift
    radius = agents.radius.copy()
    radius[idx] = r * 2.0 ** (-1.0 / 3.0)
    new_ids = np.arange(agents.next_id, agents.next_id + k, dtype=np.uint64)
    return Agents(
        np.concatenate([pos, agents.positions[idx] + shift]),
        np.concatenate([radius, radius[idx]]),
        np.concatenate([agents.velocity, np.zeros((k, 3))]),
        np.concatenate([agents.ids, new_ids]),
        np.concatenate([agents.fate, np.zeros(k, np.int8)]),
        agents.next_id + k,
    )


def kill(agents: Agents, mask: np.ndarray, fate: int = APOPTOTIC) -> Agents:
    """Set the fate of the living cells in ``mask`` (shape ``(n,)``) to ``fate``."""
    if fate not in FATES or fate == ALIVE:
        raise ExotwinError(f"death fate must be one of {[FATES[f] for f in FATES if f]}")
    f = agents.fate.copy()
    f[np.asarray(mask, dtype=bool) & (f == ALIVE)] = fate
    return replace(agents, fate=f)


def remove(agents: Agents, mask: np.ndarray | None = None) -> Agents:
    """Drop the cells in ``mask`` (default: every dead cell); order and ids are kept."""
    keep = agents.alive if mask is None else ~np.asarray(mask, dtype=bool)
    return Agents(agents.positions[keep], agents.radius[keep], agents.velocity[keep],
                  agents.ids[keep], agents.fate[keep], agents.next_id)


__all__ = [
    "ALIVE",
    "APOPTOTIC",
    "DEFAULT_RADIUS",
    "FATES",
    "NECROTIC",
    "Agents",
    "MechanicsParams",
    "directions",
    "divide",
    "division_order",
    "interaction_distance",
    "kill",
    "mechanics_step",
    "remove",
    "velocities",
]
