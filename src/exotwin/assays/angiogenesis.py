"""Tube formation on Matrigel: the network model, its virtual image and the image analysis.

Owns the ``tube_formation`` assay: endothelial cells seeded on Matrigel gather into a
network, a virtual phase-contrast image of it is rendered with noise, and the image is
analysed like ImageJ's Angiogenesis Analyzer (Carpentier et al., Sci Rep 2020,
doi:10.1038/s41598-020-67289-8): segmentation, skeleton, total tube length, junctions,
segments and meshes.

Network model (two stages, both from the mechanism of vasculogenesis in vitro):

1. Aggregation. Cells migrate up the gradient of the chemoattractant they secrete
   (VEGF-A) and gather where its concentration peaks; the peaks are spaced by the
   range ``l = sqrt(D tau)`` of the attractant, which sets the mesh size of the
   network (Serini et al., EMBO J 2003, doi:10.1093/emboj/cdg176: l ~ 100 um, meshes
   ~ 200-300 um, independent of cell density above percolation). The quasi-steady
   attractant field of the seeded cells is their density smoothed over ``l``; every
   cell joins the peak whose basin it lies in (watershed of the field), so a node holds
   the cells of its basin.
2. Cords. Neighbouring nodes (Delaunay neighbours) are joined by a cord when their
   distance is at most the sum of their reaches; a node's reach is proportional to the
   mean sprouting activity (elongation) of its cells; the cells lining a cord leave the
   aggregates it joins. Elongation is what turns
   aggregates into connected networks: cells that do not elongate form isolated
   clusters (Merks et al., Dev Biol 2006, doi:10.1016/j.ydbio.2005.10.003).

Image analysis on a ``(rows, cols)`` grey image (tubes dark): Gaussian smoothing, Otsu
threshold, small objects removed, skeleton (scikit-image); tube length sums pixel steps
(1 for orthogonal, sqrt(2) for diagonal steps not bridging an orthogonal corner);
junctions are clusters of skeleton pixels with >= 3 skeleton neighbours; segments are
the skeleton pieces between two junctions; meshes are the background regions enclosed
by tubes (not touching the image border) above a minimum area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field
from scipy import ndimage
from scipy.spatial import Delaunay

from exotwin import rng
from exotwin.assays.endothelial import (
    ASSAY_CODES,
    PhenotypeNames,
    draw_cells,
    entity_keys,
    phenotype,
)


@dataclass(frozen=True)
class TubeParameters:
    """Geometry of the Matrigel assay, the network model, the image and its analysis.

    Attributes
    ----------
    well_area_cm2
        Growth area of a 96-well (cm2): 0.32. assumed: the usual vendor figure, as the
        96-well plate of :data:`exotwin.culture.PLATES`.
    field_um
        Side of the square field imaged (um). assumed: 1600 um, a 4x field as used for
        Angiogenesis Analyzer.
    margin_um
        Matrigel simulated around the field (um) so the network does not end at its edge.
        assumed: 300 um (a few attractant ranges).
    attractant_range_um
        Range ``l`` of the autocrine attractant (um): 100 um (Serini et al. 2003).
    min_node_cells
        Cells an aggregate needs to be a node of the network (count). assumed: 3.
    reach_um
        Reach of a node of untreated cells (sprouting activity 1) (um). assumed: 150 um:
        untreated HUVEC join about 40 % of the Delaunay neighbour pairs of nodes (~250 um
        apart), a partly closed network (~10 meshes per field) as on growth-factor-reduced
        Matrigel at 6 h; at sprouting activity 2 over 90 % are joined (the ceiling).
    cell_area_um2
        Projected area per cell of an aggregate (um2). assumed: 250 um2 (rounded cells
        piled in multilayered clusters).
    cord_cell_um
        Length of cord lined by one elongated cell (um); those cells leave the nodes.
        assumed: 80 um (HUVEC elongate to 50-100 um on Matrigel).
    tube_width_um
        Width of a cord (um). assumed: 16 um (one to two elongated cells).
    pixel_um
        Pixel size of the image (um). assumed: 4 um (4x objective, binned camera).
    background, tube_level, noise_sd, illumination
        Grey levels of background and cords (0-1), pixel noise SD and the amplitude of a
        linear illumination gradient across the field, all grey levels (dimensionless).
        assumed: 0.6, 0.3, 0.06, 0.1.
    smooth_px
        Gaussian smoothing before thresholding (pixels). assumed: 1.
    min_object_um2
        Smallest dark object kept (um2): debris and single cells are not tubes. assumed:
        1000 um2.
    min_tube_um
        Skeleton pieces shorter than this that touch no junction are not tubes (um).
        assumed: 40 um (about one cell length).
    junction_merge_um
        Junction pixels closer than this belong to one junction (um). assumed: 12 um.
    min_mesh_um2
        Smallest enclosed area counted as a mesh (um2). assumed: 2000 um2.
    """

    well_area_cm2: float = 0.32
    field_um: float = 1600.0
    margin_um: float = 300.0
    attractant_range_um: float = 100.0
    min_node_cells: int = 3
    reach_um: float = 150.0
    cell_area_um2: float = 250.0
    cord_cell_um: float = 80.0
    tube_width_um: float = 16.0
    pixel_um: float = 4.0
    background: float = 0.6
    tube_level: float = 0.3
    noise_sd: float = 0.06
    illumination: float = 0.1
    smooth_px: float = 1.0
    min_object_um2: float = 1000.0
    min_tube_um: float = 40.0
    junction_merge_um: float = 12.0
    min_mesh_um2: float = 2000.0


class TubeOptions(PhenotypeNames):
    """Options of ``tube_formation`` (1.5e4 HUVEC per 96-well on Matrigel, 6 h, assumed)."""

    cells_per_well: int = Field(15_000, gt=0, le=200_000)


# ---------------------------------------------------------------------------------------
# network model


def attractant(sources: np.ndarray, length_px: float) -> np.ndarray:
    """Steady attractant ``c`` of point sources ``(rows, cols)``: ``(l^2 lap - 1) c = -s``.

    Secretion ``s``, diffusion ``D`` and decay ``1/tau`` with ``l = sqrt(D tau)``; solved
    by FFT on a grid padded by ``4 l`` so the periodic images do not interact (the
    kernel decays as ``exp(-r / l)``). Units: per unit secretion, same shape as ``sources``.
    """
    pad = int(math.ceil(4.0 * length_px))
    big = np.pad(sources, pad)
    ky = 2.0 * np.pi * np.fft.fftfreq(big.shape[0])
    kx = 2.0 * np.pi * np.fft.rfftfreq(big.shape[1])
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2
    c = np.fft.irfft2(np.fft.rfft2(big) / (1.0 + length_px**2 * k2), s=big.shape)
    return c[pad:pad + sources.shape[0], pad:pad + sources.shape[1]]


@dataclass(frozen=True)
class Network:
    """A tube network: nodes, their cells and the cords between them.

    ``nodes`` ``(m, 2)`` (um), cells left in each node's aggregate ``(m,)``, cords as node
    index pairs ``(k, 2)``.
    """

    nodes: np.ndarray
    cells: np.ndarray
    edges: np.ndarray


def network(xy: np.ndarray, sprouting: np.ndarray, extent_um: float,
            params: TubeParameters | None = None) -> Network:  # fmt: skip
    """The network formed by cells at ``xy`` ``(n, 2)`` (um, in ``[0, extent)``).

    ``sprouting`` ``(n,)`` is each cell's sprouting activity. See the module docstring.
    """
    from skimage.segmentation import watershed

    p = params or TubeParameters()
    grid = 10.0  # um, resolution of the attractant field
    nb = int(math.ceil(extent_um / grid))
    ij = np.clip((xy / grid).astype(np.int64), 0, nb - 1)
    density = np.zeros((nb, nb))
    np.add.at(density, (ij[:, 0], ij[:, 1]), 1.0)
    field = attractant(density, p.attractant_range_um / grid)
    size = int(2 * round(p.attractant_range_um / grid) + 1)
    peaks = (field == ndimage.maximum_filter(field, size=size, mode="constant")) & (field > 0)
    markers, _ = ndimage.label(peaks)
    basins = watershed(-field, markers)
    label = basins[ij[:, 0], ij[:, 1]]
    m = int(label.max())
    count = np.bincount(label, minlength=m + 1)[1:]
    cx = np.bincount(label, weights=xy[:, 0], minlength=m + 1)[1:]
    cy = np.bincount(label, weights=xy[:, 1], minlength=m + 1)[1:]
    sp = np.bincount(label, weights=sprouting, minlength=m + 1)[1:]
    keep = count >= p.min_node_cells
    nodes = np.stack([cx[keep], cy[keep]], axis=1) / count[keep][:, None]
    reach = p.reach_um * sp[keep] / count[keep]
    edges = np.zeros((0, 2), dtype=np.int64)
    if nodes.shape[0] >= 3:
        tri = Delaunay(nodes).simplices
        pairs = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
        pairs = np.unique(np.sort(pairs, axis=1), axis=0)
        length = np.linalg.norm(nodes[pairs[:, 0]] - nodes[pairs[:, 1]], axis=1)
        joined = length <= reach[pairs[:, 0]] + reach[pairs[:, 1]]
        edges, length = pairs[joined], length[joined]
        # the cells lining a cord leave its two nodes, half each
        used = np.bincount(edges.ravel(), weights=np.repeat(length / (2.0 * p.cord_cell_um), 2),
                           minlength=nodes.shape[0])  # fmt: skip
        return Network(nodes, np.maximum(count[keep] - used, 1.0), edges)
    return Network(nodes, count[keep].astype(float), edges)


# ---------------------------------------------------------------------------------------
# rendering


def draw_segments(shape: tuple[int, int], starts: np.ndarray, ends: np.ndarray,
                  width_px: float) -> np.ndarray:  # fmt: skip
    """Boolean image ``shape`` of thick segments from ``starts`` to ``ends`` ``(k, 2)`` (px).

    Points every 0.25 px along each segment mark the centre lines; pixels within half the
    width of a centre line are set. Coordinates are (row, column), pixel centres at
    integers.
    """
    out = np.zeros(shape, dtype=bool)
    if len(starts) == 0:
        return out
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    n = np.ceil(np.linalg.norm(ends - starts, axis=1) / 0.25).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(n)), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.maximum(np.repeat(n, n) - 1, 1)
    pts = np.rint(starts[seg] + t[:, None] * (ends[seg] - starts[seg])).astype(np.int64)
    inside = (pts >= 0).all(axis=1) & (pts[:, 0] < shape[0]) & (pts[:, 1] < shape[1])
    centre = np.zeros(shape, dtype=bool)
    centre[pts[inside, 0], pts[inside, 1]] = True
    if width_px <= 1.0:
        return centre
    return ndimage.distance_transform_edt(~centre) <= 0.5 * width_px


def render(net: Network, offset_um: float, seed: int, key: int,
           params: TubeParameters | None = None) -> np.ndarray:  # fmt: skip
    """Virtual phase-contrast image ``(rows, cols)`` of the field (grey 0-1, tubes dark).

    The field starts at ``offset_um`` in both axes of the network's coordinates. Node
    aggregates are discs holding their cells; pixel noise is keyed per pixel.
    """
    p = params or TubeParameters()
    npx = int(round(p.field_um / p.pixel_um))
    shape = (npx, npx)
    px = (net.nodes - offset_um) / p.pixel_um - 0.5
    mask = draw_segments(shape, px[net.edges[:, 0]], px[net.edges[:, 1]],
                         p.tube_width_um / p.pixel_um)  # fmt: skip
    if net.nodes.shape[0]:
        radius = np.sqrt(net.cells * p.cell_area_um2 / math.pi) / p.pixel_um
        centre = np.zeros(shape, dtype=np.int64)
        ij = np.rint(px).astype(np.int64)
        ok = (ij >= 0).all(axis=1) & (ij < npx).all(axis=1)
        centre[ij[ok, 0], ij[ok, 1]] = np.flatnonzero(ok) + 1
        dist, (ri, ci) = ndimage.distance_transform_edt(centre == 0, return_indices=True)
        nearest = centre[ri, ci]
        rad = np.where(nearest > 0, np.concatenate([[0.0], radius])[nearest], 0.0)
        mask |= (nearest > 0) & (dist <= rad)
    ramp = p.illumination * (np.arange(npx) / npx - 0.5)
    img = np.where(mask, p.tube_level, p.background) + ramp[None, :]
    keys = key + np.arange(img.size, dtype=np.uint64)
    noise = rng.normal(seed, "measurement_noise", keys, step=12).reshape(shape)
    return img + p.noise_sd * noise


# ---------------------------------------------------------------------------------------
# analysis (Angiogenesis Analyzer-like)


_RING = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]])


def segment_tubes(image: np.ndarray, params: TubeParameters | None = None) -> np.ndarray:
    """Tube mask of a grey image (tubes dark): smoothing, Otsu threshold, small objects removed."""
    from skimage.filters import threshold_otsu

    p = params or TubeParameters()
    smooth = ndimage.gaussian_filter(image, p.smooth_px) if p.smooth_px > 0 else image
    mask = smooth < threshold_otsu(smooth)
    labels, n = ndimage.label(mask)
    if n:
        sizes = np.bincount(labels.ravel())
        keep = sizes * p.pixel_um**2 >= p.min_object_um2
        keep[0] = False
        mask = keep[labels]
    return mask


def skeleton_length(skel: np.ndarray) -> float:
    """Length of a skeleton (pixels).

    Orthogonal steps count 1, diagonal steps sqrt(2) unless an orthogonal path already
    joins the two pixels (a staircase corner).
    """
    s = skel.astype(bool)
    orth = (s[:, 1:] & s[:, :-1]).sum() + (s[1:, :] & s[:-1, :]).sum()
    a, b = s[:-1, :-1], s[1:, 1:]  # down-right diagonal; corners s[:-1, 1:], s[1:, :-1]
    c, d = s[:-1, 1:], s[1:, :-1]  # down-left diagonal
    diag_dr = a & b & ~c & ~d
    diag_dl = c & d & ~a & ~b
    return float(orth + math.sqrt(2.0) * (diag_dr.sum() + diag_dl.sum()))


def analyse(image: np.ndarray, params: TubeParameters | None = None,
            mask: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """Angiogenesis Analyzer-like metrics of a grey image ``(rows, cols)`` (tubes dark).

    Returns total tube length (um), junctions, segments, branches (pieces with a free
    end) and meshes. ``mask`` skips the segmentation (a given binary tube image).
    """
    from skimage.morphology import skeletonize

    p = params or TubeParameters()
    tubes = segment_tubes(image, p) if mask is None else np.asarray(mask, dtype=bool)
    skel = skeletonize(tubes)
    nb = ndimage.convolve(skel.astype(np.int64), _RING, mode="constant") * skel
    merge = max(int(round(p.junction_merge_um / p.pixel_um / 2.0)), 1)
    junction_px = ndimage.binary_dilation(skel & (nb >= 3), iterations=merge)
    _, junctions = ndimage.label(junction_px, structure=np.ones((3, 3)))
    # skeleton pieces: the skeleton with the junction zones cut out
    pieces, n_pieces = ndimage.label(skel & ~junction_px, structure=np.ones((3, 3)))
    ends = np.bincount(pieces[(nb == 1) & (pieces > 0)], minlength=n_pieces + 1)[1:]
    touches = np.bincount(pieces[ndimage.binary_dilation(junction_px, structure=np.ones((3, 3)))
                                 & (pieces > 0)], minlength=n_pieces + 1)[1:]  # fmt: skip
    plen = ndimage.sum_labels(np.ones_like(pieces), pieces, np.arange(1, n_pieces + 1))
    # isolated short pieces (debris, round cells) are not tubes
    isolated_short = (touches == 0) & (np.asarray(plen) * p.pixel_um < p.min_tube_um)
    drop = np.concatenate([[False], isolated_short])[pieces]
    skel_kept = skel & ~drop
    segments = int(((ends == 0) & (touches > 0)).sum())
    branches = int(((ends > 0) & (touches > 0)).sum())
    background, n_bg = ndimage.label(~tubes)
    border = np.unique(np.concatenate([background[0], background[-1], background[:, 0],
                                       background[:, -1]]))  # fmt: skip
    sizes = np.bincount(background.ravel(), minlength=n_bg + 1) * p.pixel_um**2
    enclosed = np.ones(n_bg + 1, dtype=bool)
    enclosed[0] = False
    enclosed[border] = False
    meshes = int((enclosed & (sizes >= p.min_mesh_um2)).sum())
    return {
        "total tube length (um)": skeleton_length(skel_kept) * p.pixel_um,
        "junctions": float(junctions),
        "segments": float(segments),
        "branches": float(branches),
        "meshes": float(meshes),
    }


# ---------------------------------------------------------------------------------------
# the assay


def seeded_network(sprouting: np.ndarray, weights: np.ndarray, cells_per_well: int, seed: int,
                   sample_id: int, params: TubeParameters | None = None,
                   ) -> tuple[Network, float, int]:  # fmt: skip
    """Seed cells on the simulated Matrigel area and form their network.

    ``sprouting`` and ``weights`` are per agent ``(n_agents,)``. Returns the network, the
    offset of the imaged field (um) and the image's random key.
    """
    p = params or TubeParameters()
    extent = p.field_um + 2.0 * p.margin_um
    mean = cells_per_well * (extent * 1e-4) ** 2 / p.well_area_cm2
    base = int(entity_keys(ASSAY_CODES["tube_formation"], sample_id, np.array([0]))[0])
    n = int(rng.poisson(seed, "measurement_noise", np.array([base], np.uint64),
                        np.array([mean]), step=13)[0])  # fmt: skip
    keys = base + np.arange(n, dtype=np.uint64)
    xy = extent * np.stack([rng.uniform(seed, "measurement_noise", keys, step=10),
                            rng.uniform(seed, "measurement_noise", keys, step=11)], axis=1)
    cells = draw_cells({"s": sprouting}, weights, n, seed, keys)
    return network(xy, cells["s"], extent, p), p.margin_um, base


def tube_formation(ctx, options: TubeOptions, params: TubeParameters | None = None):
    """Angiogenesis Analyzer metrics of the virtual image of the well's cells on Matrigel."""
    p = params or TubeParameters()
    values, weights = phenotype(ctx.well.population, [options.sprouting])
    if weights.sum() <= 0:
        return [ctx.row("tube_formation", k, float("nan"), u) for k, u in
                (("total tube length (um)", "um"), ("junctions", "count"), ("meshes", "count"))]
    net, offset, key = seeded_network(values[options.sprouting], weights,
                                      options.cells_per_well, ctx.seed, ctx.sample_id, p)
    image = render(net, offset, ctx.seed, key, p)
    metrics = analyse(image, p)
    if ctx.out is not None:
        _save_image(ctx, image, p)
    return [ctx.row("tube_formation", k, v, "um" if k.endswith("(um)") else "count")
            for k, v in metrics.items()]  # fmt: skip


def _save_image(ctx, image, p):
    from pathlib import Path

    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(4.0, 4.0)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0,
              extent=(0, p.field_um, 0, p.field_um))  # fmt: skip
    ax.set_axis_off()
    path = Path(ctx.out) / "images" / ctx.file_name("_tubes.png")
    save(fig, path)
    ctx.files.append(path)
