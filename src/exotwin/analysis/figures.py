"""Figure panels in the style of a paper, drawn off-screen with matplotlib's Agg canvas.

Owns the plot kinds the analyses share: bars (or points) with SD, the replicate points
and significance stars; dose-response curves; time courses; flow dot plots with quadrant
gates; size distributions; box plots; correlation scatter plots. Figures are plain
``matplotlib.figure.Figure`` objects on a ``FigureCanvasAgg``: no display and no pyplot
state are involved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from exotwin.atomic import atomic_path

COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
           "#8c8c8c")  # fmt: skip


def blank_figure(width: float, height: float) -> Figure:
    """An empty figure on its own Agg canvas (no pyplot, no global backend change)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: Path) -> None:
    """Write ``fig`` atomically; the format follows the suffix (``.png``, ``.svg``)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."))


def new_figure(n_panels: int = 1, width: float = 3.2, height: float = 2.8):
    """A figure with ``n_panels`` side by side on the Agg canvas; returns (figure, axes list)."""
    fig = Figure(figsize=(width * n_panels, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return fig, list(axes)


def _jitter(n: int) -> np.ndarray:
    """Deterministic horizontal offsets of ``n`` points around a bar centre."""
    return np.linspace(-0.15, 0.15, n) if n > 1 else np.zeros(n)


def _centre(v: np.ndarray, geometric: bool) -> tuple[float, float, float]:
    """Centre and error-bar ends: mean +- SD, or 2 ** (mean +- SD) of log2 values."""
    if v.size == 0:
        return np.nan, np.nan, np.nan
    w = np.log2(v) if geometric else v
    m, sd = w.mean(), (w.std(ddof=1) if w.size > 1 else 0.0)
    return (2.0**m, 2.0 ** (m - sd), 2.0 ** (m + sd)) if geometric else (m, m - sd, m + sd)


def group_panels(data: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str,
                 marks: Mapping[tuple[str, str], str] | None = None, kind: str = "bar",
                 log: bool = False, geometric: bool = False) -> Figure:  # fmt: skip
    """Bars (or points) at the mean with SD error bars, replicate points and stars.

    Parameters
    ----------
    data
        Panel title -> group -> replicate values (one panel per title).
    ylabel
        Axis label.
    marks
        (panel, group) -> significance mark drawn above that group (``*``, ``ns`` ...).
    kind
        ``bar`` or ``points``.
    log
        Logarithmic y axis.
    geometric
        Centre at the geometric mean and error bars at 2 ** (mean +- SD) of log2 values
        (fold changes).
    """
    marks = marks or {}
    fig, axes = new_figure(len(data), width=max(2.4, 0.6 * max(map(len, data.values())) + 1))
    for ax, (panel, groups) in zip(axes, data.items(), strict=True):
        for i, (g, values) in enumerate(groups.items()):
            v = np.asarray(values, float)
            v = v[np.isfinite(v)]
            mean, low, high = _centre(v, geometric)
            colour = COLOURS[i % len(COLOURS)]
            if kind == "bar":
                ax.bar(i, mean, 0.6, color=colour, alpha=0.6, edgecolor=colour)
            else:
                ax.hlines(mean, i - 0.25, i + 0.25, color=colour, lw=2)
            ax.errorbar(i, mean, yerr=[[mean - low], [high - mean]], color="black", capsize=4,
                        lw=1)  # fmt: skip
            ax.plot(i + _jitter(v.size), v, "o", ms=3.5, mfc="white", mec="black", mew=0.8)
            mark = marks.get((panel, g), "")
            if mark and v.size:
                top = max(high, v.max())
                ax.annotate(mark, (i, top), xytext=(0, 4), textcoords="offset points",
                            ha="center", va="bottom", fontsize=10)  # fmt: skip
        ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
        ax.set_title(str(panel), fontsize=10)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        else:
            ax.margins(y=0.15)
    return fig


def dose_response(points: pd.DataFrame, curves: Mapping[str, Callable[[np.ndarray], np.ndarray]],
                  ylabel: str = "viability (%)", title: str = "") -> Figure:  # fmt: skip
    """Mean +- SD per dose and group (``points``: group, dose, mean, sd) and fitted curves."""
    fig, (ax,) = new_figure(width=3.8)
    positive = points.loc[points["dose"] > 0, "dose"]
    low = positive.min() / 3 if not positive.empty else 1e-3
    for i, (g, sub) in enumerate(points.groupby("group", sort=False)):
        colour = COLOURS[i % len(COLOURS)]
        x = np.where(sub["dose"] > 0, sub["dose"], low)
        ax.errorbar(x, sub["mean"], yerr=sub["sd"].fillna(0), fmt="o", color=colour,
                    capsize=3, ms=4, label=str(g))  # fmt: skip
        if g in curves and not positive.empty:
            grid = np.geomspace(low, positive.max() * 1.5, 200)
            ax.plot(grid, curves[g](grid), color=colour, lw=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("dose (0 drawn at the left edge)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return fig


def time_course(summary: pd.DataFrame, ylabel: str, title: str = "") -> Figure:
    """Mean +- SD over time per group (``summary``: group, time_h, mean, sd)."""
    fig, (ax,) = new_figure(width=3.8)
    for i, (g, sub) in enumerate(summary.sort_values("time_h").groupby("group", sort=False)):
        ax.errorbar(sub["time_h"], sub["mean"], yerr=sub["sd"].fillna(0), marker="o", ms=4,
                    capsize=3, color=COLOURS[i % len(COLOURS)], label=str(g))  # fmt: skip
    ax.set_xlabel("time (h)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return fig


def dot_plot(x: np.ndarray, y: np.ndarray, names: tuple[str, str],
             thresholds: tuple[float, float], percents: Mapping[str, float], title: str = "",
             max_points: int = 20_000) -> Figure:  # fmt: skip
    """Flow dot plot on symmetric-log axes with the quadrant gates and their percentages."""
    fig, (ax,) = new_figure(width=3.4, height=3.2)
    step = max(1, x.size // max_points)
    ax.scatter(x[::step], y[::step], s=1, c="black", alpha=0.3, linewidths=0, rasterized=True)
    ax.set_xscale("symlog", linthresh=100)
    ax.set_yscale("symlog", linthresh=100)
    ax.axvline(thresholds[0], color="red", lw=0.8)
    ax.axhline(thresholds[1], color="red", lw=0.8)
    corners = {"x-y-": (0.02, 0.02, "left", "bottom"), "x+y-": (0.98, 0.02, "right", "bottom"),
               "x-y+": (0.02, 0.98, "left", "top"), "x+y+": (0.98, 0.98, "right", "top")}
    for q, (cx, cy, ha, va) in corners.items():
        ax.text(cx, cy, f"{percents.get(q, float('nan')):.1f}%", transform=ax.transAxes,
                ha=ha, va=va, color="red", fontsize=8)  # fmt: skip
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title, fontsize=9)
    return fig


def curves(data: Mapping[str, tuple[np.ndarray, np.ndarray]], xlabel: str, ylabel: str,
           title: str = "") -> Figure:  # fmt: skip
    """Line plots of several (x, y) curves, e.g. particle size distributions."""
    fig, (ax,) = new_figure(width=3.8)
    for i, (label, (xv, yv)) in enumerate(data.items()):
        ax.plot(xv, yv, color=COLOURS[i % len(COLOURS)], lw=1.2, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return fig


def box_panels(data: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str,
               marks: Mapping[str, str] | None = None) -> Figure:  # fmt: skip
    """One box plot (with points) per panel title, groups side by side, a mark per panel."""
    marks = marks or {}
    fig, axes = new_figure(len(data), width=2.4)
    for ax, (panel, groups) in zip(axes, data.items(), strict=True):
        values = [np.asarray(v, float) for v in groups.values()]
        ax.boxplot(values, widths=0.5, showfliers=False)
        for i, v in enumerate(values):
            ax.plot(i + 1 + _jitter(v.size), v, "o", ms=2.5, alpha=0.6,
                    color=COLOURS[i % len(COLOURS)])  # fmt: skip
        ax.set_xticks(range(1, len(values) + 1), list(groups))
        ax.set_title(f"{panel} {marks.get(panel, '')}".strip(), fontsize=10)
        ax.set_ylabel(ylabel)
    return fig


def scatter(x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, text: str) -> Figure:
    """Correlation scatter plot with its least-squares line and a text box (r, rho, p)."""
    fig, (ax,) = new_figure(width=3.2, height=3.0)
    ax.plot(x, y, "o", ms=3, alpha=0.6, color=COLOURS[0])
    if np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.array([x.min(), x.max()])
        ax.plot(grid, slope * grid + intercept, color="black", lw=1)
    ax.text(0.02, 0.98, text, transform=ax.transAxes, ha="left", va="top", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def rectangle(x: float, y: float, width: float, height: float, colour: str = "red"):
    """An unfilled rectangle patch (e.g. a detected band on a blot image)."""
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), width, height, fill=False, edgecolor=colour, lw=0.8)
