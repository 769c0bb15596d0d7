"""Diffusion-reaction of many substances on a 2D or 3D Cartesian grid (owns the scheme).

Each substance ``rho`` (concentration, in the substance's own units) obeys::

    d rho/dt = D lap(rho) - lambda rho + s (rho* - rho) - u rho + q

with diffusion coefficient ``D`` (um^2/min), decay ``lambda`` (1/min), and per-voxel
secretion rate ``s`` (1/min) towards the saturation density ``rho*``, uptake rate ``u``
(1/min) and zero-order supply ``q`` (concentration/min), the cell source/sink terms of
BioFVM (Ghaffarizadeh, Friedman & Macklin, Bioinformatics 32:1256, 2016,
doi:10.1093/bioinformatics/btv730).

One step of length ``dt`` (min) is a first-order operator splitting:

1. the reaction terms, solved exactly per voxel over ``dt`` (so concentrations stay
   non-negative for any ``dt``);
2. locally one-dimensional (LOD) backward Euler diffusion: ``(I - dt D L_x)``, then
   ``(I - dt D L_y)``, then (3D) ``(I - dt D L_z)``, each a batch of tridiagonal systems
   solved by the Thomas algorithm, prefactored once per (substance, axis, dt) -- the
   scheme of BioFVM (Ghaffarizadeh et al. 2016).

The grid is cell-centred (finite volumes): voxel ``i`` spans ``[i dx, (i + 1) dx]``.
A zero-flux (Neumann) face has no flux; a Dirichlet face holds the value ``g`` on the
face itself, half a voxel from the first centre (flux ``D (g - rho_0) / (dx / 2)``),
unlike BioFVM, which overwrites the outermost voxels. Without Dirichlet faces the
total of every substance changes only by the reaction terms, to round-off; the
:class:`Ledger` accounts for every term exactly.

Arrays: fields are ``float64`` of shape ``(n_substances, nz, ny, nx)``, C-contiguous;
a 2D grid has ``nz == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from exotwin.errors import ExotwinError
from exotwin.tissue import _kernels

FACES = ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max")
AXES = ("x", "y", "z")
# y/z sweeps: one parallel task handles this many values of the fast axis (8 KiB of
# float64), enough for vector loops and for two tasks per core on small grids.
BLOCK = 1024


@dataclass(frozen=True)
class Grid:
    """A uniform Cartesian grid of cubic voxels.

    Parameters
    ----------
    shape
        ``(ny, nx)`` for 2D or ``(nz, ny, nx)`` for 3D, in voxels.
    dx
        Voxel edge (um). The default 20 um is BioFVM's and PhysiCell's usual voxel
        (Ghaffarizadeh et al. 2016; about one cell diameter).
    """

    shape: tuple[int, ...]
    dx: float = 20.0

    def __post_init__(self):
        shape = tuple(int(n) for n in self.shape)
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ExotwinError(f"grid shape must be 2 or 3 positive sizes, got {self.shape}")
        if not self.dx > 0:
            raise ExotwinError(f"grid dx must be > 0 um, got {self.dx}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dx", float(self.dx))

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (2 or 3)."""
        return len(self.shape)

    @property
    def dims(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)``, with ``nz == 1`` in 2D."""
        return (1, *self.shape) if self.ndim == 2 else self.shape

    @property
    def voxel_volume(self) -> float:
        """Volume of a voxel (um^3 in 3D; um^2 per um of depth in 2D)."""
        return self.dx**self.ndim

    def centres(self, axis: str) -> np.ndarray:
        """Voxel centres along ``axis`` (``"x"``, ``"y"`` or ``"z"``), in um."""
        n = self.dims[2 - AXES.index(axis)]
        return (np.arange(n) + 0.5) * self.dx


@dataclass(frozen=True)
class Dirichlet:
    """A face held at a fixed concentration ``value`` (the substance's units)."""

    value: float


ZERO_FLUX = "zero_flux"
"""The Neumann zero-flux boundary (the default on every face)."""


@dataclass(frozen=True)
class Substance:
    """A diffusing substance.

    Parameters
    ----------
    name
        Identifier.
    diffusion
        Diffusion coefficient D (um^2/min).
    decay
        First-order decay rate lambda (1/min).
    units
        Units of its concentration (any; the solver is linear).
    boundary
        Mapping face -> :class:`Dirichlet` or :data:`ZERO_FLUX`; faces are ``x_min``,
        ``x_max``, ``y_min``, ``y_max``, ``z_min``, ``z_max``, and ``"all"`` sets every
        face not named. Unnamed faces are zero flux. Stored as a sorted tuple.
    provenance
        Where ``diffusion`` and ``decay`` come from.
    """

    name: str
    diffusion: float
    decay: float = 0.0
    units: str = "a.u."
    boundary: tuple = ()
    provenance: str = ""

    def __post_init__(self):
        spec = dict(self.boundary)
        default = spec.pop("all", ZERO_FLUX)
        for face in spec:
            if face not in FACES:
                raise ExotwinError(f"unknown face {face!r}; use one of {FACES}", field=self.name)
        faces = []
        for face in FACES:
            bc = spec.get(face, default)
            if bc != ZERO_FLUX and not isinstance(bc, Dirichlet):
                raise ExotwinError(f"boundary of {face} must be Dirichlet(value) or ZERO_FLUX",
                                   field=self.name)
            faces.append((face, bc))
        if not self.diffusion >= 0 or not self.decay >= 0:
            raise ExotwinError("diffusion and decay must be >= 0", field=self.name)
        object.__setattr__(self, "boundary", tuple(faces))
        object.__setattr__(self, "diffusion", float(self.diffusion))
        object.__setattr__(self, "decay", float(self.decay))

    def face(self, name: str):
        """Boundary condition of face ``name``."""
        return dict(self.boundary)[name]


@dataclass(frozen=True)
class Substances:
    """The substances of a simulation, in the order of the fields' first axis."""

    items: tuple[Substance, ...]

    def __post_init__(self):
        object.__setattr__(self, "items", tuple(self.items))
        names = [s.name for s in self.items]
        if not names or len(set(names)) != len(names):
            raise ExotwinError(f"substance names must be unique and not empty: {names}")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def names(self) -> tuple[str, ...]:
        """Names in field order."""
        return tuple(s.name for s in self.items)

    def index(self, name: str) -> int:
        """Position of substance ``name`` on the fields' first axis."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ExotwinError(f"unknown substance {name!r}; have {self.names}") from None

    def zeros(self, grid: Grid) -> np.ndarray:
        """Empty fields, shape ``(n_substances, nz, ny, nx)``."""
        return np.zeros((len(self), *grid.dims))


@dataclass(frozen=True)
class Sources:
    """Per-voxel cell source terms; each array has the fields' shape or is ``None`` (zero).

    Parameters
    ----------
    rate
        Secretion rate s (1/min) towards ``target``.
    target
        Saturation density rho* (the substance's units).
    supply
        Zero-order supply q (units/min), e.g. a cell's net export divided by the voxel
        volume.
    """

    rate: np.ndarray | None = None
    target: np.ndarray | None = None
    supply: np.ndarray | None = None


@dataclass(frozen=True)
class Ledger:
    """Amounts (concentration x volume) per substance over a step, shape ``(n_s,)`` each.

    ``after - before == secreted - uptaken - decayed + boundary_inflow`` to round-off.
    """

    secreted: np.ndarray
    uptaken: np.ndarray
    decayed: np.ndarray
    boundary_inflow: np.ndarray

    @property
    def net(self) -> np.ndarray:
        """Net change of the total amount of each substance."""
        return self.secreted - self.uptaken - self.decayed + self.boundary_inflow

    def __add__(self, other: Ledger) -> Ledger:
        return Ledger(*(a + b for a, b in zip(self._parts(), other._parts(), strict=True)))

    def _parts(self):
        return (self.secreted, self.uptaken, self.decayed, self.boundary_inflow)


@dataclass(frozen=True)
class _Axis:
    c: np.ndarray  # (n_s,) D dt / dx^2
    inv: np.ndarray  # (n_s, n) inverse pivots
    e: np.ndarray  # (n_s, n) c * inv
    bc: np.ndarray  # (n_s, 4) (2c_lo, 2c_lo g_lo, 2c_hi, 2c_hi g_hi)


@dataclass(frozen=True)
class Factors:
    """Prefactored solver data for one (grid, substances, dt); see :func:`factor`."""

    dt: float
    decay: np.ndarray
    decay_factor: np.ndarray
    axes: tuple = field(default=())


def _thomas(n: int, c: float, dir_lo: bool, dir_hi: bool) -> tuple[np.ndarray, np.ndarray]:
    """Inverse pivots and ``c * inv`` of ``I - c T`` with the boundary rows of one axis."""
    diag = np.full(n, 1.0 + 2.0 * c)
    diag[0] -= c
    diag[-1] -= c
    diag[0] += 2.0 * c * dir_lo
    diag[-1] += 2.0 * c * dir_hi
    inv = np.empty(n)
    piv = diag[0]
    inv[0] = 1.0 / piv
    for i in range(1, n):
        piv = diag[i] - c * c * inv[i - 1]
        inv[i] = 1.0 / piv
    return inv, c * inv


@lru_cache(maxsize=64)
def factor(grid: Grid, substances: Substances, dt: float) -> Factors:
    """Prefactor the tridiagonal systems of every (substance, axis) for step ``dt`` (min)."""
    if not dt > 0:
        raise ExotwinError(f"dt must be > 0 min, got {dt}")
    nz, ny, nx = grid.dims
    axes = []
    for a, n in zip(AXES[: grid.ndim], (nx, ny, nz), strict=False):
        cs, invs, es, bcs = [], [], [], []
        for sub in substances.items:
            c = sub.diffusion * dt / grid.dx**2
            lo, hi = sub.face(f"{a}_min"), sub.face(f"{a}_max")
            inv, e = _thomas(n, c, lo != ZERO_FLUX, hi != ZERO_FLUX)
            cs.append(c)
            invs.append(inv)
            es.append(e)
            row = [0.0, 0.0, 0.0, 0.0]
            if lo != ZERO_FLUX:
                row[0:2] = [2 * c, 2 * c * lo.value]
            if hi != ZERO_FLUX:
                row[2:4] = [2 * c, 2 * c * hi.value]
            bcs.append(row)
        axes.append(_Axis(np.array(cs), np.array(invs), np.array(es), np.array(bcs)))
    decay = np.array([s.decay for s in substances.items])
    return Factors(float(dt), decay, np.exp(-decay * dt), tuple(axes))


_NONE4 = np.zeros((1, 1, 1, 1))
_NONE2 = np.zeros((1, 2))
_NONE3 = np.zeros((1, 1, 2))


def _check(fields: np.ndarray, grid: Grid, substances: Substances) -> None:
    want = (len(substances), *grid.dims)
    if not isinstance(fields, np.ndarray) or fields.shape != want:
        got = getattr(fields, "shape", type(fields).__name__)
        raise ExotwinError(f"fields must have shape {want} (substances, nz, ny, nx), got {got}")
    if fields.dtype != np.float64:
        raise ExotwinError(f"fields must be float64, got {fields.dtype}")


def _dense(a, shape, name) -> np.ndarray:
    """A per-voxel term as a C-contiguous float64 array of the fields' shape (or a stub)."""
    if a is None:
        return _NONE4
    a = np.asarray(a, dtype=np.float64)
    if a.shape != shape:
        try:
            a = np.broadcast_to(a, shape)
        except ValueError:
            raise ExotwinError(f"{name} has shape {a.shape}, fields have {shape}") from None
    if not (a.flags.c_contiguous and a.flags.writeable):  # one compiled kernel type
        a = np.array(a, order="C")
    if not a.min() >= 0 or not np.isfinite(a.max()):
        raise ExotwinError(f"{name} must be finite and >= 0")
    return a


def step_with_ledger(
    fields: np.ndarray,
    grid: Grid,
    params: Substances,
    dt: float,
    sources: Sources | None = None,
    sinks: np.ndarray | None = None,
    *,
    ledger: bool = True,
) -> tuple[np.ndarray, Ledger | None]:
    """Advance the fields by ``dt`` and account for every amount that entered or left.

    Parameters
    ----------
    fields
        Concentrations, shape ``(n_substances, nz, ny, nx)``, float64; not changed.
    grid
        The grid.
    params
        The substances (D, decay, boundaries), in field order.
    dt
        Step (min).
    sources
        Cell secretion and supply, arrays of the fields' shape (see :class:`Sources`).
    sinks
        Uptake rate u (1/min), array of the fields' shape.
    ledger
        Whether to compute the :class:`Ledger` (5-15 % slower).

    Returns
    -------
    new_fields, ledger
        New concentrations, shape ``(n_substances, nz, ny, nx)``, and the amounts
        (concentration x voxel volume) per substance, or ``None``.
    """
    _check(fields, grid, params)
    fac = factor(grid, params, float(dt))
    ns = len(params)
    nz, ny, nx = grid.dims
    u_in = fields if fields.flags.c_contiguous and fields.flags.writeable else fields.copy()
    out = np.empty_like(u_in)
    src = sources or Sources()
    if (src.rate is None) != (src.target is None):
        raise ExotwinError("sources.rate and sources.target go together")
    shape = u_in.shape
    srate = _dense(src.rate, shape, "sources.rate")
    target = _dense(src.target, shape, "sources.target")
    supply = _dense(src.supply, shape, "sources.supply")
    urate = _dense(sinks, shape, "sinks")
    has_src = (src.rate is not None, src.supply is not None, sinks is not None)
    lines = ns * nz * ny
    react = np.zeros((lines, 3)) if ledger else _NONE2
    fx = np.zeros((lines, 2)) if ledger else _NONE2
    ax = fac.axes[0]
    _kernels.sweep_x(u_in, out, ax.c, ax.inv, ax.e, ax.bc, fac.decay, fac.decay_factor,
                     fac.dt, has_src, srate, target, supply, urate, ledger, react, fx)
    inflow = fx.reshape(ns, -1).sum(axis=1) if ledger else None
    views = [(out.reshape(ns * nz, ny, nx), nz)]
    if grid.ndim == 3:
        views.append((out.reshape(ns, nz, ny * nx), 1))
    for ax, (v, group) in zip(fac.axes[1:], views, strict=True):
        fl = np.zeros((v.shape[0], v.shape[2], 2)) if ledger else _NONE3
        _kernels.sweep_strided(v, group, min(BLOCK, v.shape[2]), ax.c, ax.inv, ax.e, ax.bc,
                               ledger, fl)
        if ledger:
            inflow = inflow + fl.reshape(ns, -1).sum(axis=1)
    if not ledger:
        return out, None
    vol = grid.voxel_volume
    r = react.reshape(ns, -1, 3).sum(axis=1) * vol
    return out, Ledger(r[:, 0], r[:, 1], r[:, 2], inflow * vol)


def step(
    fields: np.ndarray,
    grid: Grid,
    params: Substances,
    dt: float,
    sources: Sources | None = None,
    sinks: np.ndarray | None = None,
) -> np.ndarray:
    """Advance the fields by one step ``dt`` (min); pure (the input is not changed).

    Parameters
    ----------
    fields
        Concentrations, shape ``(n_substances, nz, ny, nx)``, float64.
    grid, params, dt, sources, sinks
        As in :func:`step_with_ledger`.

    Returns
    -------
    numpy.ndarray
        New concentrations, shape ``(n_substances, nz, ny, nx)``.
    """
    return step_with_ledger(fields, grid, params, dt, sources, sinks, ledger=False)[0]


def total(fields: np.ndarray, grid: Grid) -> np.ndarray:
    """Total amount (concentration x volume) of each substance, shape ``(n_substances,)``."""
    return fields.reshape(fields.shape[0], -1).sum(axis=1) * grid.voxel_volume


def run(
    fields: np.ndarray,
    grid: Grid,
    params: Substances,
    dt: float,
    n_steps: int,
    sources: Sources | None = None,
    sinks: np.ndarray | None = None,
) -> np.ndarray:
    """Take ``n_steps`` steps of ``dt`` (min) with constant sources and sinks."""
    for _ in range(int(n_steps)):
        fields = step(fields, grid, params, dt, sources, sinks)
    return fields


__all__ = [
    "FACES",
    "ZERO_FLUX",
    "Dirichlet",
    "Factors",
    "Grid",
    "Ledger",
    "Sources",
    "Substance",
    "Substances",
    "factor",
    "run",
    "step",
    "step_with_ledger",
    "total",
]
