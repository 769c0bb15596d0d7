"""Vessel networks in a 2D tissue sheet: tip-cell growth, rendering and image morphometry.

Owns the vessels of the chick chorioallantoic membrane (CAM) twin (:mod:`.cam`):

* a network of straight segments laid down by migrating tip cells, in the discrete
  tip-cell framework of Anderson & Chaplain (Bull Math Biol 60:857, 1998,
  doi:10.1006/bulm.1998.0042): each tip moves with a persistent direction, biased up a
  guidance gradient and perturbed by noise, leaves a vessel behind it, branches with a
  hazard, and stops when it fuses with another vessel (anastomosis), leaves the domain
  or stops on its own;
* new sprouts arising from the voxels that hold vessels;
* rendering of the network as a bright-field (stereo microscope) image with imaging
  noise, and the measurements labs make on such photographs: vessel area fraction,
  skeleton branch points, vessels crossing a ring, and branch counts per area.

Tips advance one after the other in id order in one serial compiled kernel, so
anastomosis between tips of the same step does not depend on threads. Every random
number is keyed by (seed, purpose, entity, step) (:mod:`exotwin.rng`); entities carry the
egg key and a code of what is drawn (:func:`entity`).

Arrays: tips ``(k,)`` each; ``occupancy`` ``(ny, nx)`` int64 on the diffusion grid (0 or
the owner sprout id + 1); segments ``(m, 6)`` float64 rows ``(x0, y0, x1, y1, width_um,
kind)``, kind 0 for the pre-existing plexus and 1 for new sprouts; positions in um with
the origin at the grid corner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from exotwin import rng

PLEXUS, SPROUT = 0, 1
# entity codes of the random draws (bits 36-39 of an entity; the egg key above them)
DRAW_DIRECTION, DRAW_BRANCH, DRAW_STOP, DRAW_SIDE, DRAW_INIT, DRAW_INIT_ANGLE = range(6)
DRAW_ROOT, DRAW_PIXEL = 6, 7


def entity(egg_key: int, code: int, ids: np.ndarray) -> np.ndarray:
    """Random-stream entities ``(egg_key << 40) | (code << 36) | id`` (ids < 2**36)."""
    ids = np.asarray(ids, dtype=np.uint64)
    return (np.uint64(egg_key) << np.uint64(40)) | (np.uint64(code) << np.uint64(36)) | ids


@dataclass
class Network:
    """Growing vessels: active tips, the occupancy grid and the segments laid down.

    Attributes
    ----------
    x, y, ux, uy
        Tip positions (um) and unit directions, ``(k,)``.
    sid
        Sprout id of each tip ``(k,)`` int64 (a branch gets a new id).
    ox, oy
        Where each sprout started (um), ``(k,)``; a tip cannot fuse within two voxels of it.
    width
        Vessel width each tip lays down (um), ``(k,)``.
    kind
        :data:`PLEXUS` or :data:`SPROUT` per tip, ``(k,)`` int64.
    occupancy
        ``(ny, nx)`` int64: 0, or 1 + the id of the first sprout through the voxel.
    segments
        ``(capacity, 6)``; the first ``n_segments`` rows are used.
    next_sid
        The id the next new sprout gets.
    """

    x: np.ndarray
    y: np.ndarray
    ux: np.ndarray
    uy: np.ndarray
    sid: np.ndarray
    ox: np.ndarray
    oy: np.ndarray
    width: np.ndarray
    kind: np.ndarray
    occupancy: np.ndarray
    segments: np.ndarray = field(default_factory=lambda: np.zeros((1024, 6)))
    n_segments: int = 0
    next_sid: int = 0

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> Network:
        """No tips and no vessels on a ``(ny, nx)`` grid."""
        z = np.zeros(0)
        return cls(z, z, z, z, np.zeros(0, np.int64), z, z, z, np.zeros(0, np.int64),
                   np.zeros(shape, np.int64))  # fmt: skip

    @property
    def n_tips(self) -> int:
        """Number of active tips."""
        return int(self.x.size)

    def used(self) -> np.ndarray:
        """The segments laid down so far, ``(n_segments, 6)``."""
        return self.segments[: self.n_segments]

    def add_tips(self, x, y, ux, uy, width, kind: int) -> None:
        """Start new sprouts (new ids, in the order given) at ``(x, y)`` heading ``(ux, uy)``."""
        k = np.asarray(x).size
        ids = np.arange(self.next_sid, self.next_sid + k, dtype=np.int64)
        self.next_sid += k
        cat = np.concatenate
        self.x, self.y = cat([self.x, x]), cat([self.y, y])
        self.ux, self.uy = cat([self.ux, ux]), cat([self.uy, uy])
        self.sid = cat([self.sid, ids])
        self.ox, self.oy = cat([self.ox, x]), cat([self.oy, y])
        self.width = cat([self.width, np.broadcast_to(np.asarray(width, float), (k,))])
        self.kind = cat([self.kind, np.full(k, kind, np.int64)])

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the tips in ``mask`` ``(k,)``."""
        for name in ("x", "y", "ux", "uy", "sid", "ox", "oy", "width", "kind"):
            setattr(self, name, getattr(self, name)[mask])


@njit(cache=True)
def _advance(x, y, ux, uy, sid, ox, oy, width, kind, length, occ, dx, seg, n_seg, active):
    """Move every tip ``length[i]`` um along its direction, marking voxels; serial, id order.

    A tip stops (``active[i] = False``) when it would leave the grid or enters a voxel
    owned by another sprout farther than two voxels from its own start (anastomosis: it
    stops in that voxel). One segment per tip is appended to ``seg``; returns the new
    segment count.
    """
    ny, nx = occ.shape
    for i in range(x.shape[0]):
        if length[i] <= 0.0:
            continue
        n_sub = int(math.ceil(length[i] / (0.5 * dx)))
        h = length[i] / n_sub
        x0, y0 = x[i], y[i]
        cx, cy = x0, y0
        for _ in range(n_sub):
            px, py = cx + h * ux[i], cy + h * uy[i]
            if px < 0.0 or py < 0.0 or px >= nx * dx or py >= ny * dx:
                active[i] = False
                break
            ix, iy = int(px / dx), int(py / dx)
            owner = occ[iy, ix]
            cx, cy = px, py
            if owner == 0:
                occ[iy, ix] = sid[i] + 1
            elif owner != sid[i] + 1:
                far = (px - ox[i]) ** 2 + (py - oy[i]) ** 2 > (2.0 * dx) ** 2
                if far:
                    active[i] = False
                    break
        if cx != x0 or cy != y0:
            seg[n_seg, 0], seg[n_seg, 1], seg[n_seg, 2], seg[n_seg, 3] = x0, y0, cx, cy
            seg[n_seg, 4], seg[n_seg, 5] = width[i], kind[i]
            n_seg += 1
        x[i], y[i] = cx, cy
    return n_seg


def _hazard_draw(seed, egg_key, code, ids, step, hazard_dt) -> np.ndarray:
    """Whether each entity's event happens over a step with integrated hazard ``hazard_dt``."""
    u = rng.uniform(seed, "event_sampling", entity(egg_key, code, ids), step)
    return u < -np.expm1(-np.asarray(hazard_dt, dtype=float))


def _angles(seed, egg_key, code, ids, step) -> np.ndarray:
    return 2.0 * math.pi * rng.uniform(seed, "division_direction", entity(egg_key, code, ids), step)


@dataclass(frozen=True)
class GrowthRules:
    """How the tips of one step move, branch and stop; all per tip ``(k,)`` or scalars.

    Attributes
    ----------
    speed
        Elongation speed (um/h).
    branch_per_h
        Branching hazard (1/h).
    stop_per_h
        Hazard of a tip stopping on its own (1/h).
    bias_x, bias_y
        Guidance bias added to the direction before normalising (dimensionless). Default 0:
        no guidance (the caller passes the CAM's; assumed unbiased otherwise).
    noise
        Standard deviation of the Gaussian direction noise per step (dimensionless).
        assumed: 0.3; the callers pass their own (:class:`PlexusParameters`,
        :class:`~exotwin.tissue.cam.CamParameters`).
    branch_angle
        Angle (rad) between a branch and its parent's direction. assumed: 40 degrees, used
        by plexus and sprouts alike; no measured CAM branching angle was used.
    width_ratio, min_width
        A branch's width relative to its parent's (dimensionless), and the smallest width
        (um). assumed: 1 (sprouts keep their width; the plexus passes its Murray's-law
        ratio) and 10 um; the callers pass their own smallest width.
    """

    speed: np.ndarray | float
    branch_per_h: np.ndarray | float
    stop_per_h: np.ndarray | float
    bias_x: np.ndarray | float = 0.0
    bias_y: np.ndarray | float = 0.0
    noise: float = 0.3
    branch_angle: float = math.radians(40.0)
    width_ratio: float = 1.0
    min_width: float = 10.0


def grow(net: Network, rules: GrowthRules, dt: float, dx: float, seed: int, egg_key: int,
         step: int) -> None:  # fmt: skip
    """One growth step of ``dt`` hours (in place): turn, move, fuse, branch, stop.

    Direction: ``u + bias + noise * N(0, 1)^2`` normalised; moves of ``speed * dt`` um
    with anastomosis (:func:`_advance`); then a surviving tip branches with probability
    ``1 - exp(-branch_per_h dt)`` (the branch turns by ``branch_angle`` to a random side)
    and stops with ``1 - exp(-stop_per_h dt)``.
    """
    k = net.n_tips
    if k == 0:
        return
    ids = net.sid.astype(np.uint64)
    e = entity(egg_key, DRAW_DIRECTION, ids)
    nx_ = rng.normal(seed, "division_direction", e, 2 * step)
    ny_ = rng.normal(seed, "division_direction", e, 2 * step + 1)
    vx = net.ux + np.broadcast_to(rules.bias_x, (k,)) + rules.noise * nx_
    vy = net.uy + np.broadcast_to(rules.bias_y, (k,)) + rules.noise * ny_
    norm = np.hypot(vx, vy)
    norm[norm == 0] = 1.0
    net.ux, net.uy = vx / norm, vy / norm
    if net.n_segments + k > net.segments.shape[0]:
        grown = np.zeros((2 * (net.n_segments + k), 6))
        grown[: net.n_segments] = net.used()
        net.segments = grown
    active = np.ones(k, dtype=np.bool_)
    length = np.ascontiguousarray(np.broadcast_to(np.asarray(rules.speed, float) * dt, (k,)))
    net.n_segments = _advance(net.x, net.y, net.ux, net.uy, net.sid, net.ox, net.oy, net.width,
                              net.kind, length, net.occupancy, float(dx), net.segments,
                              net.n_segments, active)  # fmt: skip
    branch = active & _hazard_draw(seed, egg_key, DRAW_BRANCH, ids, step,
                                   np.broadcast_to(rules.branch_per_h, (k,)) * dt)  # fmt: skip
    stop = _hazard_draw(seed, egg_key, DRAW_STOP, ids, step,
                        np.broadcast_to(rules.stop_per_h, (k,)) * dt)  # fmt: skip
    b = np.flatnonzero(branch)
    side = np.where(rng.uniform(seed, "event_sampling", entity(egg_key, DRAW_SIDE, ids[b]),
                                step) < 0.5, -1.0, 1.0)  # fmt: skip
    c, s = math.cos(rules.branch_angle), np.sin(side * rules.branch_angle)
    bx = net.ux[b] * c - net.uy[b] * s
    by = net.ux[b] * s + net.uy[b] * c
    bw = np.maximum(net.width[b] * rules.width_ratio, rules.min_width)
    parents = (net.x[b], net.y[b], net.kind[b])
    net.keep(active & ~stop)
    for kind in (PLEXUS, SPROUT):
        m = parents[2] == kind
        net.add_tips(parents[0][m], parents[1][m], bx[m], by[m], bw[m], kind)


def sprout(net: Network, activity: np.ndarray, rate_per_h: float, dt: float, dx: float,
           guide_x: np.ndarray, guide_y: np.ndarray, width: float, seed: int, egg_key: int,
           step: int) -> int:  # fmt: skip
    """New sprouts from vessel voxels (in place); returns how many started.

    Parameters
    ----------
    net
        The network; voxels with ``occupancy > 0`` hold vessels.
    activity
        Sprouting activity of the endothelium of each voxel, ``(ny, nx)``.
    rate_per_h
        Sprout initiation hazard per vessel voxel at activity 1 (1/h).
    dt
        Step (h).
    dx
        Voxel edge (um).
    guide_x, guide_y
        Guidance bias per voxel ``(ny, nx)``: a new sprout heads along it when it is not
        zero, otherwise in a random direction.
    width
        Width of a new sprout (um).
    seed, egg_key, step
        Random-stream key.
    """
    idx = np.flatnonzero(net.occupancy.ravel() > 0)
    if idx.size == 0:
        return 0
    hit = _hazard_draw(seed, egg_key, DRAW_INIT, idx, step,
                       rate_per_h * activity.ravel()[idx] * dt)  # fmt: skip
    idx = idx[hit]
    if idx.size == 0:
        return 0
    ny, nx = net.occupancy.shape
    iy, ix = np.divmod(idx, nx)
    gx, gy = guide_x.ravel()[idx], guide_y.ravel()[idx]
    g = np.hypot(gx, gy)
    phi = _angles(seed, egg_key, DRAW_INIT_ANGLE, idx, step)
    ux = np.where(g > 0, gx / np.where(g > 0, g, 1.0), np.cos(phi))
    uy = np.where(g > 0, gy / np.where(g > 0, g, 1.0), np.sin(phi))
    net.add_tips((ix + 0.5) * dx, (iy + 0.5) * dx, ux, uy, width, SPROUT)
    return int(idx.size)


@dataclass(frozen=True)
class PlexusParameters:
    """The pre-existing CAM vessel tree at grafting (assumed; shaped to look like E9 CAM).

    Attributes
    ----------
    roots
        Vessels entering the imaged field from its edges (count; assumed: 8).
    root_width_um
        Width of an entering vessel (um). assumed: 60 um, a CAM arteriole/venule seen by
        stereo microscope at E9-E10.
    width_ratio, min_width_um
        Daughter/parent width at a branch (dimensionless; assumed 0.8, close to Murray's law
        for a symmetric split, 2^(-1/3) = 0.79) and the narrowest visible vessel (um;
        assumed 12).
    branch_per_mm
        Branching per mm of growth (1/mm; assumed: 2, spacing of CAM branch points ~0.5 mm).
    noise
        Direction noise per growth step of one voxel, 25 um at the default voxel
        (dimensionless; assumed: 0.12).
    length_mm
        Growth length of the tree (mm). assumed: 7, so the tree spans a 5-mm field.
    """

    roots: int = 8
    root_width_um: float = 60.0
    width_ratio: float = 0.8
    min_width_um: float = 12.0
    branch_per_mm: float = 2.0
    noise: float = 0.12
    length_mm: float = 7.0


def plexus(shape: tuple[int, int], dx: float, params: PlexusParameters, seed: int,
           egg_key: int) -> Network:  # fmt: skip
    """The egg's pre-existing vessel tree: roots from the edges grown as a branching tree.

    Growth uses :func:`grow` in steps of one voxel (``dt`` = 1 at speed ``dx``); its
    draws use step numbers from 2**31 up, apart from the experiment's steps.
    """
    ny, nx = shape
    net = Network.empty(shape)
    roots = np.arange(params.roots, dtype=np.uint64)
    u = rng.uniform(seed, "placement", entity(egg_key, DRAW_ROOT, roots), 0)
    phi = _angles(seed, egg_key, DRAW_ROOT, roots, 1)
    side = np.floor(u * 4.0).astype(int)  # 0 bottom, 1 right, 2 top, 3 left
    along = (u * 4.0) % 1.0
    w, h = nx * dx, ny * dx
    eps = 1e-6 * dx
    x = np.choose(side, [along * w, w - eps, along * w, np.full_like(along, eps)])
    y = np.choose(side, [np.full_like(along, eps), along * h, h - eps, along * h])
    inward = np.choose(side, [math.pi / 2, math.pi, -math.pi / 2, 0.0])
    angle = inward + 0.5 * (phi / math.pi - 1.0)  # within +-0.5 rad of the inward normal
    net.add_tips(x, y, np.cos(angle), np.sin(angle), params.root_width_um, PLEXUS)
    rules = GrowthRules(speed=dx, branch_per_h=params.branch_per_mm * dx / 1000.0,
                        stop_per_h=0.0, noise=params.noise,
                        width_ratio=params.width_ratio, min_width=params.min_width_um)  # fmt: skip
    for k in range(int(round(params.length_mm * 1000.0 / dx))):
        grow(net, rules, 1.0, dx, seed, egg_key, 2**31 + k)
        if net.n_tips == 0:
            break
    net.keep(np.zeros(net.n_tips, dtype=bool))  # the tree is laid down; its tips are done
    return net


# ----------------------------------------------------------------------------- rendering


@njit(cache=True)
def _rasterise(seg, n_seg, px, out):
    """Coverage (0-1) of pixels of size ``px`` (um) by segments of their width; serial."""
    ny, nx = out.shape
    for s in range(n_seg):
        x0, y0, x1, y1 = seg[s, 0] / px, seg[s, 1] / px, seg[s, 2] / px, seg[s, 3] / px
        r = 0.5 * seg[s, 4] / px
        lo_x = max(int(math.floor(min(x0, x1) - r - 1)), 0)
        hi_x = min(int(math.ceil(max(x0, x1) + r + 1)), nx - 1)
        lo_y = max(int(math.floor(min(y0, y1) - r - 1)), 0)
        hi_y = min(int(math.ceil(max(y0, y1) + r + 1)), ny - 1)
        vx, vy = x1 - x0, y1 - y0
        ll = vx * vx + vy * vy
        for iy in range(lo_y, hi_y + 1):
            for ix in range(lo_x, hi_x + 1):
                cx, cy = ix + 0.5 - x0, iy + 0.5 - y0
                t = 0.0 if ll == 0.0 else min(max((cx * vx + cy * vy) / ll, 0.0), 1.0)
                d = math.hypot(cx - t * vx, cy - t * vy)
                cover = min(max(r - d + 0.5, 0.0), 1.0)
                if cover > out[iy, ix]:
                    out[iy, ix] = cover


@dataclass(frozen=True)
class Imaging:
    """A stereo-microscope photograph of the CAM (assumed values, typical of such images).

    Attributes
    ----------
    pixel_um
        Pixel size on the membrane (um). assumed: 10 um, which resolves vessels >= ~15 um
        wide.
    background, contrast
        Grey level of the membrane and the darkening by a fully covering vessel (grey levels
        0-1, dimensionless). assumed: 0.85 and 0.55.
    noise_sd
        Pixel noise (grey levels, Gaussian). assumed: 0.04.
    blur_px
        Optical blur, Gaussian sigma (pixels). assumed: 0.7.
    """

    pixel_um: float = 10.0
    background: float = 0.85
    contrast: float = 0.55
    noise_sd: float = 0.04
    blur_px: float = 0.7


def render(segments: np.ndarray, size_um: tuple[float, float], imaging: Imaging, seed: int,
           egg_key: int) -> np.ndarray:  # fmt: skip
    """A grey image of the vessels (dark on a bright membrane) with blur and pixel noise.

    Parameters
    ----------
    segments
        ``(m, 6)`` rows as :class:`Network` segments.
    size_um
        ``(height, width)`` of the field (um).
    imaging
        Camera settings.
    seed, egg_key
        Random-stream key of the pixel noise.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` float64 image in [0, 1], row = y.
    """
    from scipy.ndimage import gaussian_filter

    ny = int(round(size_um[0] / imaging.pixel_um))
    nx = int(round(size_um[1] / imaging.pixel_um))
    cover = np.zeros((ny, nx))
    seg = np.ascontiguousarray(segments, dtype=np.float64)
    _rasterise(seg, seg.shape[0], float(imaging.pixel_um), cover)
    img = imaging.background - imaging.contrast * cover
    if imaging.blur_px > 0:
        img = gaussian_filter(img, imaging.blur_px, mode="nearest")
    if imaging.noise_sd > 0:
        pixels = entity(egg_key, DRAW_PIXEL, np.arange(ny * nx, dtype=np.uint64))
        img = img + imaging.noise_sd * rng.normal(seed, "measurement_noise", pixels).reshape(
            ny, nx)
    return np.clip(img, 0.0, 1.0)


# ----------------------------------------------------------------------------- morphometry


def vessel_mask(image: np.ndarray, min_size_px: int = 20) -> np.ndarray:
    """Vessels as dark objects: Otsu threshold, specks below ``min_size_px`` removed.

    Returns a boolean ``(ny, nx)`` mask (all False for a featureless image).
    """
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_objects

    if np.ptp(image) == 0:
        return np.zeros(image.shape, dtype=bool)
    mask = image < threshold_otsu(image)
    return remove_small_objects(mask, max_size=min_size_px - 1)


def skeleton(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide centre lines of a mask (scikit-image ``skeletonize``)."""
    from skimage.morphology import skeletonize

    return skeletonize(mask)


def _neighbours(skel: np.ndarray) -> np.ndarray:
    from scipy.ndimage import convolve

    k = np.ones((3, 3), dtype=np.int64)
    k[1, 1] = 0
    return convolve(skel.astype(np.int64), k, mode="constant") * skel


def junctions(skel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Branch points of a skeleton: clusters of pixels with three or more neighbours.

    Returns
    -------
    (labels, centres)
        ``labels`` ``(ny, nx)`` int (0 off junctions, cluster number on them) and the
        cluster centres ``(n, 2)`` as (row, column).
    """
    from scipy.ndimage import center_of_mass, label

    lab, n = label(_neighbours(skel) >= 3, structure=np.ones((3, 3)))
    if n == 0:
        return lab, np.zeros((0, 2))
    centres = np.array(center_of_mass(np.ones_like(lab), lab, np.arange(1, n + 1)))
    return lab, centres.reshape(n, 2)


def branches(skel: np.ndarray, region: np.ndarray) -> int:
    """Number of skeleton branches (pieces between junctions, >= 2 px) touching ``region``."""
    from scipy.ndimage import binary_dilation, label

    jl, _ = junctions(skel)
    pieces = skel & ~binary_dilation(jl > 0, structure=np.ones((3, 3)))
    lab, n = label(pieces, structure=np.ones((3, 3)))
    if n == 0:
        return 0
    size = np.bincount(lab.ravel(), minlength=n + 1)
    inside = np.bincount(lab.ravel(), weights=region.ravel().astype(float), minlength=n + 1)
    return int(np.sum((size[1:] >= 2) & (inside[1:] > 0)))


def ring_crossings(mask: np.ndarray, centre: tuple[float, float], radius: float) -> int:
    """Number of vessels crossing a circle (pixels): runs of mask pixels along it.

    ``centre`` is (row, column) in pixels; the circle is sampled every half pixel. A
    circle lying wholly inside vessels counts one.
    """
    n = max(int(math.ceil(4.0 * math.pi * radius)), 8)
    t = np.arange(n) * (2.0 * math.pi / n)
    r = np.floor(centre[0] + radius * np.sin(t)).astype(int)
    c = np.floor(centre[1] + radius * np.cos(t)).astype(int)
    ok = (r >= 0) & (r < mask.shape[0]) & (c >= 0) & (c < mask.shape[1])
    on = np.zeros(n, dtype=bool)
    on[ok] = mask[r[ok], c[ok]]
    if on.all():
        return 1
    return int(np.sum(on & ~np.roll(on, 1)))


def disc(shape: tuple[int, int], centre: tuple[float, float], r_in: float,
         r_out: float) -> np.ndarray:  # fmt: skip
    """Pixels whose centres lie at ``r_in <= d < r_out`` from ``centre`` (row, column)."""
    rows, cols = np.indices(shape)
    d = np.hypot(rows + 0.5 - centre[0], cols + 0.5 - centre[1])
    return (d >= r_in) & (d < r_out)


__all__ = [
    "PLEXUS",
    "SPROUT",
    "GrowthRules",
    "Imaging",
    "Network",
    "PlexusParameters",
    "branches",
    "disc",
    "entity",
    "grow",
    "junctions",
    "plexus",
    "render",
    "ring_crossings",
    "skeleton",
    "sprout",
    "vessel_mask",
]
