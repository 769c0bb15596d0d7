"""Tissue outputs: xarray/Zarr snapshots of cells and fields, snapshot images, an animation.

A run's snapshots go into one Zarr store (format 3), one group per snapshot named
``step_NNNNNNNNN`` (its diffusion step). Each group is an xarray Dataset
(:func:`snapshot_dataset`) written to a temporary store beside the target and then moved
into it with one rename, so snapshots are appended: a killed run leaves every finished
snapshot complete and readable, and no half-written one.

Images are drawn with :mod:`exotwin.analysis.figures` (Agg canvas, atomic save): the
first substance's field (or a named one; in 3D the middle z plane) with the cells drawn
to scale and coloured by fate. The animation is a GIF of all snapshots of a store, its
frames rendered on the Agg canvas and written by Pillow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from exotwin.errors import ExotwinError
from exotwin.tissue import agents as ag
from exotwin.tissue import checkpoint as ck
from exotwin.tissue import coupling as cp

STORE = "snapshots.zarr"
FATE_COLOURS = {ag.ALIVE: "#dd8452", ag.APOPTOTIC: "#4c72b0", ag.NECROTIC: "#222222"}
_CELL_VARS = ("id", "position", "radius", "fate", "secretion", "uptake")


def group_name(state: ck.SimulationState) -> str:
    """Group (and file stem) of a state: ``step_`` and its diffusion step, nine digits."""
    return f"step_{state.steps['diffusion']:09d}"


def snapshot_dataset(state: ck.SimulationState, cfg):
    """Cells and fields of ``state`` as an :class:`xarray.Dataset`.

    Cells (dimension ``cell``): ``id``, ``position`` ``(cell, axis)`` and ``radius`` (um),
    ``fate`` (codes in the attribute ``fate_codes``), ``secretion`` and ``uptake``
    ``(cell, substance)`` (amount per min, amount since the last phenotype step) and one
    ``state_<id>`` per recorded intracellular state. Fields: one variable per substance
    over ``(y, x)`` (2D) or ``(z, y, x)`` (3D) with voxel-centre coordinates in um and
    its units as ``units``. Attributes: ``time`` (``time_min``), ``seed``, scenario id and
    the step counters.
    """
    import xarray as xr

    a, grid = state.agents, cfg.grid_()
    subs = cfg.substance_list()
    names = [s.name for s in subs]
    clash = [n for n in names if n in _CELL_VARS or n.startswith("state_")]
    if clash:
        raise ExotwinError(f"substance names {clash} clash with snapshot variables",
                           field="substances")
    axes = ("z", "y", "x")[3 - grid.ndim:]
    dims = grid.dims[3 - grid.ndim:]
    coords = {ax: (ax, (np.arange(n) + 0.5) * grid.dx, {"units": "um"})
              for ax, n in zip(axes, dims, strict=True)}
    data = {
        "id": ("cell", a.ids),
        "position": (("cell", "axis"), a.positions, {"units": "um"}),
        "radius": ("cell", a.radius, {"units": "um"}),
        "fate": ("cell", a.fate, {"codes": ", ".join(f"{k} {v}" for k, v in ag.FATES.items())}),
    }
    amount = [f"{s.units} um^3" for s in subs]
    if "secretion" in state.cell_data:
        data["secretion"] = (("cell", "substance"), state.cell_data["secretion"],
                             {"units": "amount/min", "amount": amount,
                              "long_name": "secretion per cell"})
        data["uptake"] = (("cell", "substance"), state.cell_data["uptaken"],
                          {"units": "amount", "amount": amount,
                           "long_name": "uptake per cell from the last phenotype step on"})
    ic = cfg.intracellular
    if ic is not None and ic.record:
        cm = cp.compiled(cfg)
        order = [s.id for s in cm.spec.states]
        for sid in ic.record:
            data[f"state_{sid}"] = ("cell", state.cell_data["kinetic_state"][:, order.index(sid)],
                                    {"units": cm.spec.units.get(sid, ""), "model": ic.model})
    for j, s in enumerate(subs):
        field = state.fields[j].reshape(dims)
        data[s.name] = (axes, field, {"units": s.units, "long_name": s.name})
    ds = xr.Dataset(
        data,
        coords={**coords, "axis": np.array(["x", "y", "z"], dtype=object),
                "substance": np.array(names, dtype=object),
                "time": ((), float(state.time), {"units": "min"})},
        attrs={"time_min": float(state.time), "seed": str(state.seed), "scenario": cfg.id,
               **{f"step_{k}": int(v) for k, v in state.steps.items()},
               "fate_codes": ", ".join(f"{k} {v}" for k, v in ag.FATES.items())},
    )
    return ds


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move directory ``tmp`` to ``target``; an existing ``target`` is replaced."""
    if target.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                      dir=target.parent))
        os.replace(target, trash / target.name)
        os.replace(tmp, target)
        shutil.rmtree(trash)
    else:
        os.replace(tmp, target)


def write_snapshot(store: str | os.PathLike[str], state: ck.SimulationState, cfg) -> str:
    """Append the snapshot of ``state`` to the Zarr store ``store``; returns its group name.

    The group is written to a temporary store in the store's directory, then renamed into
    place (replacing a group of the same name).
    """
    import zarr

    store = Path(store)
    name = group_name(state)
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        if not (store / "zarr.json").exists():
            tmp = Path(tempfile.mkdtemp(prefix=f".{store.name}.", dir=store.parent))
            zarr.open_group(tmp, mode="w", zarr_format=3,
                            attributes={"scenario": cfg.id, "seed": str(cfg.seed),
                                        "content": "one group per snapshot, step_NNNNNNNNN"})
            _replace_dir(tmp, store)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=store.parent))
        try:
            snapshot_dataset(state, cfg).to_zarr(tmp, mode="w", zarr_format=3,
                                                 consolidated=False)
            _replace_dir(tmp, store / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise ExotwinError(f"cannot write snapshot: {exc.strerror or exc}",
                           file=str(store)) from exc
    return name


def snapshot_names(store: str | os.PathLike[str]) -> list[str]:
    """Names of the complete snapshots in a store, in time order."""
    store = Path(store)
    if not (store / "zarr.json").exists():
        raise ExotwinError("not a snapshot store (no zarr.json)", file=str(store))
    return sorted(p.name for p in store.iterdir()
                  if p.name.startswith("step_") and (p / "zarr.json").exists())


def open_snapshot(store: str | os.PathLike[str], name: str):
    """One snapshot of a store, loaded into memory, as an :class:`xarray.Dataset`."""
    import xarray as xr

    try:
        return xr.open_zarr(store, group=name, consolidated=False).load()
    except (OSError, KeyError, ValueError) as exc:
        raise ExotwinError(f"cannot read snapshot {name}: {exc}", file=str(store)) from None


def draw(fig, ds, substance: str | None = None, vmax: float | None = None) -> None:
    """Draw one snapshot on ``fig`` (cleared first): a field and the cells by fate.

    ``substance`` defaults to the first; ``vmax`` fixes the colour scale (animations).
    In 3D the middle z plane is shown with the cells that cut it.
    """
    from matplotlib.collections import EllipseCollection
    from matplotlib.patches import Patch

    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    name = substance or str(ds["substance"].values[0])
    if name not in ds:
        raise ExotwinError(f"no substance {name!r} in the snapshot", field="substance")
    field = ds[name]
    pos = ds["position"].values
    r = ds["radius"].values
    if "z" in field.dims:
        k = field.sizes["z"] // 2
        z0 = float(ds["z"].values[k])
        field = field.isel(z=k)
        dz = pos[:, 2] - z0
        cut = np.abs(dz) < r
        pos, r = pos[cut], np.sqrt(r[cut] ** 2 - dz[cut] ** 2)
        fate = ds["fate"].values[cut]
    else:
        fate = ds["fate"].values
    x, y = ds["x"].values, ds["y"].values
    h = 0.5 * (x[1] - x[0]) if x.size > 1 else 0.5 * float(x[0]) * 2
    im = ax.imshow(field.values, origin="lower", cmap="viridis", vmin=0.0, vmax=vmax,
                   extent=(x[0] - h, x[-1] + h, y[0] - h, y[-1] + h))
    fig.colorbar(im, ax=ax, label=f"{name} ({field.attrs.get('units', '')})")
    colours = [FATE_COLOURS[int(f)] for f in fate]
    ax.add_collection(EllipseCollection(2 * r, 2 * r, np.zeros(r.size), units="xy",
                                        offsets=pos[:, :2], offset_transform=ax.transData,
                                        facecolors=colours, edgecolors="black",
                                        linewidths=0.2, alpha=0.9))
    ax.set_xlabel("x (um)")
    ax.set_ylabel("y (um)")
    ax.set_title(f"t = {float(ds['time']):g} min, {int((fate == ag.ALIVE).sum())} "
                 f"living cells")
    ax.legend(handles=[Patch(color=c, label=ag.FATES[f]) for f, c in FATE_COLOURS.items()],
              loc="upper right", fontsize=6)


def snapshot_image(ds, path: str | os.PathLike[str], substance: str | None = None) -> Path:
    """Write a PNG of one snapshot (see :func:`draw`)."""
    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(5.0, 4.2)
    draw(fig, ds, substance)
    save(fig, Path(path))
    return Path(path)


def animation(store: str | os.PathLike[str], path: str | os.PathLike[str],
              substance: str | None = None, fps: float = 4.0) -> Path:
    """Write a GIF of every snapshot of ``store`` (one colour scale for all frames)."""
    from exotwin.analysis.figures import blank_figure

    names = snapshot_names(store)
    if not names:
        raise ExotwinError("no snapshots to animate", file=str(store))
    frames = [open_snapshot(store, n) for n in names]
    name = substance or str(frames[0]["substance"].values[0])
    vmax = max(float(f[name].max()) for f in frames) or 1.0
    fig = blank_figure(5.0, 4.2)
    return write_gif(path, fig, [lambda ds=ds: draw(fig, ds, name, vmax) for ds in frames], fps)


def write_gif(path: str | os.PathLike[str], fig, frames, fps: float = 4.0,
              dpi: int = 80, animated: list | None = None) -> Path:  # fmt: skip
    """Write a GIF atomically: each of ``frames`` (callables) draws one frame on ``fig``.

    ``animated`` names the artists that alone change between frames (same layout and
    scales otherwise): the rest is then drawn once and every frame redraws only these and
    the spines of their axes (blitting), instead of the whole figure.
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    before = fig.dpi
    try:
        fig.set_dpi(dpi)
        images = list(_frames_blitted(fig, frames, animated) if animated
                      else _frames_drawn(fig, frames))  # fmt: skip
        size = fig.canvas.get_width_height()
        pictures = [Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1) for rgba in images]
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=int(1000 / fps), loop=0)  # fmt: skip
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        fig.set_dpi(before)
        Path(tmp).unlink(missing_ok=True)
    return path


def _frames_drawn(fig, frames):
    """RGBA bytes of each frame, the whole figure drawn for each."""
    for draw_frame in frames:
        draw_frame()
        fig.canvas.draw()
        yield bytes(fig.canvas.buffer_rgba())


def _frames_blitted(fig, frames, animated: list):
    """RGBA bytes of each frame: a background without ``animated``, then only those."""
    canvas = fig.canvas
    for artist in animated:
        artist.set_visible(False)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    for artist in animated:
        artist.set_visible(True)
    spines = [sp for ax in {a.axes for a in animated if a.axes is not None}
              for sp in ax.spines.values()]  # fmt: skip
    for draw_frame in frames:
        draw_frame()
        canvas.restore_region(background)
        for artist in [*animated, *spines]:
            fig.draw_artist(artist)
        yield bytes(canvas.buffer_rgba())


__all__ = ["STORE", "animation", "draw", "group_name", "open_snapshot", "snapshot_dataset",
           "snapshot_image", "snapshot_names", "write_gif", "write_snapshot"]
