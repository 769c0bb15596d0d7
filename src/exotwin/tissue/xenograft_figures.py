"""Figures of a xenograft run: tumour photographs, blots, mid-plane snapshots, growth GIF.

Owns the rendering of :class:`~exotwin.tissue.xenograft.Tumour` results (PNG/GIF through
matplotlib, written atomically) and the per-mouse record (JSON: growth curves and vesicle
accounts; no wall-clock, so one seed always writes the same file) and, apart, the
wall-clock timing. The "photograph" of an excised tumour is its projected thickness
(cells per column of voxels) upsampled and shaded, to scale with a 1-cm bar, like Fig. 6A.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from exotwin.atomic import atomic_write_text, group_stem

TISSUE_RGB = np.array([0.93, 0.80, 0.78])  # pale pink of an excised s.c. xenograft
NECROTIC_RGB = np.array([0.80, 0.73, 0.55])  # yellowish necrotic core


def _photo(t, xp, zoom: int = 8) -> np.ndarray:
    """RGB image ``(ny*zoom, nx*zoom, 3)`` of a tumour seen from above (white background)."""
    n = xp.box_voxels
    occ = t.occupancy().reshape(n, n, n) / xp.capacity
    necrotic = t.necrotic.reshape(n, n, n) / xp.capacity
    thick = ndimage.zoom(occ.sum(axis=0), zoom, order=1)
    nec = ndimage.zoom(necrotic.sum(axis=0), zoom, order=1)
    mask = thick > 0.5
    shade = np.clip(0.55 + 0.45 * np.sqrt(thick / max(thick.max(), 1e-12)), 0.0, 1.0)
    share = np.clip(np.divide(nec, thick, out=np.zeros_like(thick), where=thick > 0), 0, 1)
    colour = (1 - share)[..., None] * TISSUE_RGB + share[..., None] * NECROTIC_RGB
    return np.where(mask[..., None], colour * shade[..., None], 1.0)


def photographs(p, tumours: dict, xp, path: Path) -> Path:
    """One row per group, one tumour per mouse, to scale, with a 1-cm bar (PNG)."""
    from exotwin.analysis.figures import blank_figure, save

    labels = [g.label for g in p.groups]
    fig = blank_figure(1.3 * p.mice + 1.4, 1.25 * len(labels) + 0.3)
    size = xp.box_voxels * xp.dx_um / 1000.0
    n = xp.box_voxels
    seen = np.zeros((n, n), dtype=bool)  # one window for all: tumours keep their scale
    for t in tumours.values():
        seen |= (t.occupancy().reshape(n, n, n) > 0).any(axis=0)
    rows, cols = np.nonzero(seen) if seen.any() else (np.array([0, n - 1]),) * 2
    lo = max(0, min(rows.min(), cols.min()) - 1) * xp.dx_um / 1000.0
    hi = min(n, max(rows.max(), cols.max()) + 2) * xp.dx_um / 1000.0
    for r, label in enumerate(labels):
        for m in range(1, p.mice + 1):
            ax = fig.add_subplot(len(labels), p.mice, r * p.mice + m)
            ax.imshow(_photo(tumours[(label, m)], xp), origin="lower",
                      extent=(0, size, 0, size))  # fmt: skip
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if m == 1:
                ax.set_ylabel(label, fontsize=7)
            if r == len(labels) - 1 and m == p.mice:
                x0 = lo + 0.05 * (hi - lo)
                ax.plot([x0, x0 + 3.0], [lo + 0.04 * (hi - lo)] * 2, color="black", lw=2)
                ax.text(x0, lo + 0.08 * (hi - lo), "3 mm", fontsize=6)
    fig.suptitle(f"{p.id}: excised tumours at sacrifice (simulated)", fontsize=8)
    save(fig, path)
    return path


def blots(p, readouts: pd.DataFrame, path: Path) -> Path:
    """Blot-like bands of mouse 1 of every group: band darkness ~ target/GAPDH (PNG)."""
    from exotwin.analysis.figures import blank_figure, save

    targets = [f"{t}/GAPDH" for t in p.western]
    labels = [g.label for g in p.groups]
    sel = readouts[readouts["replicate"] == 1].set_index(["readout", "group"])["value"]
    fig = blank_figure(1.0 + 0.9 * len(labels), 0.4 * (len(targets) + 1) + 0.8)
    ax = fig.add_axes((0.2, 0.05, 0.78, 0.75))
    rows = [*targets, "GAPDH"]
    for i, target in enumerate(rows):
        values = np.array([1.0 if target == "GAPDH" else float(sel.get((target, g), np.nan))
                           for g in labels])  # fmt: skip
        top = np.nanmax(values) if np.isfinite(values).any() and np.nanmax(values) > 0 else 1.0
        for j, v in enumerate(values):
            dark = 0.9 * np.clip(v / top, 0.0, 1.0) if np.isfinite(v) else 0.0
            ax.add_patch(_band(j, len(rows) - 1 - i, dark))
        ax.text(-0.15, len(rows) - 1 - i + 0.4, target.removesuffix("/GAPDH"), ha="right",
                fontsize=7)  # fmt: skip
    ax.set_xlim(-0.1, len(labels))
    ax.set_ylim(0, len(rows))
    ax.set_axis_off()
    for j, g in enumerate(labels):
        ax.text(j + 0.4, len(rows) + 0.1, g, rotation=35, fontsize=6, ha="left")
    save(fig, path)
    return path


def _band(x: float, y: float, dark: float):
    from matplotlib.patches import FancyBboxPatch

    grey = 1.0 - dark
    return FancyBboxPatch((x + 0.08, y + 0.3), 0.65, 0.25, boxstyle="round,pad=0.02",
                          fc=(grey, grey, grey), ec="none")  # fmt: skip


PANELS = (("cells", "cells / voxel capacity", "magma"), ("dead", "dead fraction", "Greys"),
          ("cisplatin", "peak 6-h mean cisplatin (uM)", "viridis"),
          ("o2", "pO2 (mmHg)", "Blues_r"))  # fmt: skip


def _panel_data(fr: dict, xp) -> list[np.ndarray]:
    """The four mid-plane images of one frame, in :data:`PANELS` order, ``(ny, nx)`` each."""
    return [fr["cells"] / xp.capacity, fr["dead"], fr["cisplatin"], fr["o2"]]


def _draw_frame(fig, fr: dict, xp, vmax: dict | None = None) -> list:
    """Four mid-plane panels of one frame: cells, dead fraction, peak cisplatin, pO2.

    Returns the four images (for :func:`growth_gif` to update in place).
    """
    fig.clear()
    size = xp.box_voxels * xp.dx_um / 1000.0
    images = []
    for i, ((key, label, cmap), data) in enumerate(zip(PANELS, _panel_data(fr, xp),
                                                       strict=True)):  # fmt: skip
        ax = fig.add_subplot(1, 4, i + 1)
        top = (vmax or {}).get(key) or (float(np.max(data)) or 1.0)
        im = ax.imshow(data, origin="lower", cmap=cmap, vmin=0.0, vmax=top,
                       extent=(0, size, 0, size))  # fmt: skip
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
        ax.set_title(label, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("mm", fontsize=6)
        images.append(im)
    fig.subplots_adjust(left=0.04, right=0.97, wspace=0.55)  # tick labels clear of colorbars
    _title(fig, fr)
    return images


def _title(fig, fr: dict):
    """Set (or update) the figure's title to the frame's day; returns the title text."""
    return fig.suptitle(f"mid-plane, day {fr['time_h'] / 24.0:g}", fontsize=8)


def snapshots(jobs: list[tuple], xp) -> list[Path]:
    """PNGs of tumours' mid-planes at sacrifice (cells, dead fraction, cisplatin, pO2).

    ``jobs`` holds ``(tumour, path, title)``; one figure is drawn and its images and
    colour scales (each panel's own maximum) updated for every further tumour.
    """
    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(11.0, 2.8)
    images: list = []
    for t, path, title in jobs:
        fr = t.frames[-1]
        if not images:
            images = _draw_frame(fig, fr, xp)
        for im, data in zip(images, _panel_data(fr, xp), strict=True):
            im.set_data(data)
            im.set_clim(0.0, float(np.max(data)) or 1.0)
        fig.suptitle(title, fontsize=8)
        save(fig, path)
    return [path for _, path, _ in jobs]


def snapshot(t, xp, path: Path, title: str) -> Path:
    """PNG of one tumour's mid-plane at sacrifice (see :func:`snapshots`)."""
    return snapshots([(t, path, title)], xp)[0]


def growth_gif(t, xp, path: Path, fps: float = 4.0) -> Path:
    """GIF of one tumour's mid-plane, one frame per day, fixed colour scales."""
    from exotwin.analysis.figures import blank_figure
    from exotwin.tissue.output import write_gif

    vmax = {"cells": max(float(f["cells"].max()) for f in t.frames) / xp.capacity or 1.0,
            "dead": 1.0, "o2": xp.o2_vascular_mmhg,
            "cisplatin": max(float(f["cisplatin"].max()) for f in t.frames) or 1.0}  # fmt: skip
    fig = blank_figure(11.0, 2.8)
    images = _draw_frame(fig, t.frames[0], xp, vmax)
    title = _title(fig, t.frames[0])

    def show(fr: dict) -> None:  # fixed scales: only the images and the day change
        for im, data in zip(images, _panel_data(fr, xp), strict=True):
            im.set_data(data)
        _title(fig, fr)

    return write_gif(path, fig, [lambda fr=fr: show(fr) for fr in t.frames], fps, dpi=60,
                     animated=[*images, title])  # fmt: skip


def growth_curves(p, tumours: dict, path: Path) -> Path:
    """Mean tumour weight per group over time (PNG)."""
    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(4.5, 3.0)
    ax = fig.add_axes((0.15, 0.15, 0.55, 0.75))
    for g in p.groups:
        curves = np.array([[w for _, w in tumours[(g.label, m)].growth]
                           for m in range(1, p.mice + 1)])  # fmt: skip
        days = np.array([h for h, _ in tumours[(g.label, 1)].growth]) / 24.0
        ax.plot(days, curves.mean(axis=0), label=g.label, lw=1)
    ax.set_xlabel("days after inoculation", fontsize=7)
    ax.set_ylabel("tumour weight (g), mean", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    save(fig, path)
    return path


def write_figures(p, tumours: dict, readouts: pd.DataFrame, xp, out: Path) -> list[Path]:
    """Every figure of a run under ``out/xenograft``, and the per-mouse JSON record."""
    root = out / "xenograft"
    root.mkdir(parents=True, exist_ok=True)
    files = [photographs(p, tumours, xp, root / f"{p.id}_tumours.png"),
             blots(p, readouts, root / f"{p.id}_blots.png"),
             growth_curves(p, tumours, root / f"{p.id}_growth.png")]  # fmt: skip
    files += snapshots([(tumours[(g.label, 1)], root / f"{p.id}_{group_stem(gi, g.label)}"
                         "_midplane.png", f"{g.label}, mouse 1, mid-plane at sacrifice")
                        for gi, g in enumerate(p.groups)], xp)  # fmt: skip
    first = p.groups[0].label
    files.append(growth_gif(tumours[(first, 1)], xp, root / f"{p.id}_growth.gif"))
    record = {"growth_g": {f"{g} mouse {m}": t.growth for (g, m), t in tumours.items()},
              "vesicle_balance": {f"{g} mouse {m}": dict(t.ledger)
                                  for (g, m), t in tumours.items()}}  # fmt: skip
    path = root / f"{p.id}_mice.json"
    atomic_write_text(path, json.dumps(record, indent=1))
    files.append(path)
    return files


def write_timing(p, seconds: dict[str, float], out: Path) -> Path:
    """Wall-clock seconds per mouse, ``out/xenograft/<id>_timing.json``.

    Kept apart from the results: it differs between two runs of one seed.
    """
    path = out / "xenograft" / f"{p.id}_timing.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"note": "wall-clock, varies between identical runs; not a result",
              "seconds_per_mouse": seconds, "total_seconds": sum(seconds.values())}
    atomic_write_text(path, json.dumps(record, indent=1))
    return path


__all__ = ["blots", "growth_curves", "growth_gif", "photographs", "snapshot", "snapshots",
           "write_figures", "write_timing"]
