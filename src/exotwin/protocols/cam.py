"""The ``cam`` protocol kind: chick chorioallantoic membrane xenografts, eggs per group.

A CAM protocol (:class:`CamProtocol`, ``kind: cam``) names the graft's donor cells and
model, the groups (knockdown of a donor gene, block of endothelial vesicle uptake or of
graft vesicle secretion), the eggs per group, the days from grafting to harvest and the
readouts measured on each egg's photograph. :func:`run` simulates every egg
(:mod:`exotwin.tissue.cam`) and evaluates the comparisons with the culture protocols'
rules (:func:`exotwin.protocols.run.compare`). Design and provenance: docs/cam.md.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from exotwin.atomic import group_stem
from exotwin.protocols import schema as S
from exotwin.protocols import units
from exotwin.protocols.schema import ProtocolHeader, Quantity, _Strict, _time, check_known

MAX_EGGS = 255  # eggs per group: the egg key holds the egg number in 8 bits
CAM_POSITIVE = ("field_mm", "dx_um", "graft_radius_mm", "membrane_um", "diffusion_um2_per_min",
                "ec_area_um2", "patch_um", "ec_length_um", "guidance_length_um",
                "sprout_width_um", "diffusion_step_min", "phenotype_step_h")
MAX_AGENTS = 2**15  # graft agents and endothelial patches: 15 bits of a cell id each


class SecretionInhibitor(_Strict):
    """Blocks vesicle secretion by the graft cells by ``efficiency`` (e.g. GW4869)."""

    type: Literal["secretion_inhibitor"]
    efficiency: Annotated[float, Field(ge=0.0, le=1.0)]


CamTreatment = Annotated[S.Knockdown | S.UptakeInhibitor | SecretionInhibitor,
                         Field(discriminator="type")]  # fmt: skip


class CamGroup(_Strict):
    """Eggs grafted with the same cells and treatments.

    ``knockdown`` scales a donor gene's model input
    (:data:`exotwin.protocols.run.GENE_INPUTS`, checked against the graft model) by
    ``1 - efficiency``; ``uptake_inhibitor`` blocks endothelial vesicle uptake;
    ``secretion_inhibitor`` the graft's vesicle secretion.
    """

    label: str
    treatments: list[CamTreatment] = []

    def key_base(self) -> int:
        """Egg-key base of this group (16 bits from its label, the egg number below)."""
        return (zlib.crc32(self.label.encode()) & 0xFFFF) << 8


def _cam_fields() -> list[str]:
    from exotwin.tissue.cam import CamParameters

    return [f.name for f in fields(CamParameters) if f.type in ("float", float)]


class CamProtocol(ProtocolHeader):
    """A CAM xenograft experiment (see docs/cam.md).

    ``model`` is the donor (graft) model, ``endothelial_model`` the recipient's;
    ``cell_line`` and ``endothelial_line`` name their parameter sets in the cell-line
    registry (``null``: the model's defaults). ``cam`` overrides numeric fields of
    :class:`exotwin.tissue.cam.CamParameters`; ``parameters`` the donor model's.
    """

    kind: Literal["cam"]
    model: str = "npc_ebv_cell"
    endothelial_model: str = "endothelial_cell"
    cell_line: str | None = "CNE2-EBV"
    endothelial_line: str | None = "HUVEC"
    graft_cells: Annotated[float, Field(gt=0)] = 1e6
    graft_agents: Annotated[int, Field(gt=0, lt=MAX_AGENTS)] = 32
    cell_variation_cv: Annotated[float, Field(ge=0.0, lt=2.0)] = 0.2
    embryonic_day: Annotated[int, Field(ge=3, le=18)] = 9
    eggs: Annotated[int, Field(ge=1, le=MAX_EGGS)] = 6
    duration: Quantity = "4 d"
    parameters: S.ModelParameters = {}
    cam: dict[str, float] = {}
    groups: Annotated[list[CamGroup], Field(min_length=1)]
    readouts: list[str] = []
    comparisons: list[S.Comparison] = []
    assumptions: dict[str, str] = {}

    _t = field_validator("duration")(lambda cls, v: _time(v))

    @field_validator("cam")
    @classmethod
    def _cam(cls, v: dict[str, float]) -> dict[str, float]:
        check_known(v, _cam_fields(), "cam parameter")
        for k, x in v.items():
            if not (math.isfinite(x) and x >= 0):
                raise ValueError(f"{k}: must be a finite non-negative number, got {x}")
            if k in CAM_POSITIVE and not x > 0:
                raise ValueError(f"{k}: a size, step or diffusivity must be positive, got {x}")
        return v

    @field_validator("readouts")
    @classmethod
    def _readouts(cls, v: list[str]) -> list[str]:
        from exotwin.tissue.cam import READOUTS

        check_known(v, list(READOUTS), "readout")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CamProtocol:
        from exotwin.errors import ExotwinError
        from exotwin.tissue.cam import CamParameters, cam_coupling

        try:  # the declared couplings hold every entry the CAM needs (ids: at run)
            cam_coupling(self.model, self.endothelial_model, check_ids=False)
        except ExotwinError as exc:
            raise ValueError(f"{exc.field}: {exc.reason}") from None
        labels = [g.label for g in self.groups]
        if len(set(labels)) != len(labels):
            raise ValueError("groups: labels must be unique")
        if len({g.key_base() for g in self.groups}) != len(labels):
            raise ValueError("groups: two labels share an egg key; rename one")
        from exotwin.protocols.run import GENE_INPUTS

        S.check_known_genes(self.groups, GENE_INPUTS)
        cam = replace(CamParameters(), **self.cam)
        step = cam.phenotype_step_h
        hours = units.time_h(self.duration)
        if hours <= 0 or not S.on_step(hours, step):
            raise ValueError(f"duration: {hours:g} h is not a positive multiple of {step:g} h")
        if cam.n_patches >= MAX_AGENTS:
            raise ValueError(f"cam: {cam.n_patches} endothelial patches; at most "
                             f"{MAX_AGENTS - 1} (raise patch_um)")  # fmt: skip
        S.check_end_point(self.comparisons, labels, self.measured(), self.duration,
                          "eggs are read at harvest")  # fmt: skip
        return self

    def measured(self) -> list[str]:
        """The readouts taken from every egg (all of them when ``readouts`` is empty)."""
        from exotwin.tissue.cam import READOUTS

        return list(self.readouts) or list(READOUTS)

    def primary_readout(self) -> str:
        """The readout that picks each group's representative egg.

        The first comparison's readout; without comparisons, the first measured one.
        """
        return self.comparisons[0].readout if self.comparisons else self.measured()[0]

    def describe(self, seed: int) -> str:
        """One sentence on the design, for the report."""
        return (f"CAM xenograft {self.id}: {self.graft_cells:g} {self.cell_line or self.model} "
                f"cells grafted at E{self.embryonic_day}, harvested after {self.duration}; "
                f"{self.eggs} eggs per group, seed {seed}.")  # fmt: skip


def _block(group: CamGroup, kind: type) -> float:
    return max((t.efficiency for t in group.treatments if isinstance(t, kind)), default=0.0)


def representative(values: np.ndarray) -> int:
    """Index of the egg at its group's median of ``values`` ``(n_eggs,)``.

    With an even number of eggs the two middle eggs are equally near the median; the one
    with the lower value is taken. Equal values go by egg order. The rule uses only the
    readout values, never the picture.
    """
    values = np.asarray(values, dtype=float)
    order = np.lexsort((np.arange(values.size), values))
    return int(order[(values.size - 1) // 2])


def run(protocol: CamProtocol, seed: int, out: Path | None = None, source: str = ""):
    """Simulate every egg of a CAM protocol, measure its photograph, evaluate comparisons.

    Parameters
    ----------
    protocol
        A validated CAM protocol.
    seed
        Run seed; every draw is keyed by it and the protocol id.
    out
        Directory for one photograph per group, or ``None``: the group's representative
        egg (:func:`representative` of :meth:`CamProtocol.primary_readout`), named
        ``<id>_g<index>_<group>_egg<n>.png`` (:func:`exotwin.atomic.group_stem`).
    source
        Where the protocol came from, for messages.

    Returns
    -------
    RunResult
        Tidy readouts (one row per egg and readout, ``time_h`` the harvest) and one
        comparison record per comparison.
    """
    from exotwin.assays import tidy
    from exotwin.cells import equilibrate, new_population
    from exotwin.cells.lines import cell_line_parameters
    from exotwin.protocols.measure import stream_seed
    from exotwin.protocols.run import (
        RunResult,
        _group_parameters,
        check_genes,
        compare,
        pre_culture,
    )
    from exotwin.tissue import cam as C

    p = protocol
    stream = stream_seed(seed, p.id)
    base = C.with_overrides(C.CamParameters(), p.cam)
    hours = units.time_h(p.duration)
    donor_line = cell_line_parameters(p.cell_line, p.model, file=source) if p.cell_line else {}
    endo_line = (cell_line_parameters(p.endothelial_line, p.endothelial_model, file=source)
                 if p.endothelial_line else {})  # fmt: skip
    links = C.cam_coupling(p.model, p.endothelial_model, file=source)
    per_agent = max(1, round(p.graft_cells / p.graft_agents))
    primary = p.primary_readout()
    rows: list[dict] = []
    files: list[Path] = []
    for gi, g in enumerate(p.groups):
        check_genes(g.treatments, p.model, f"groups.{gi}", source)
    for gi, g in enumerate(p.groups):
        cam = replace(base, secretion_scale=base.secretion_scale
                      * (1.0 - _block(g, SecretionInhibitor)),
                      uptake_inhibition=max(base.uptake_inhibition,
                                            _block(g, S.UptakeInhibitor)))  # fmt: skip
        params = _group_parameters(donor_line, g, p.parameters)
        primary_values = np.zeros(p.eggs)
        vessels: list[np.ndarray] = []  # segments of each egg, to re-photograph one (small)
        for number in range(1, p.eggs + 1):
            key = g.key_base() | number
            ids = np.uint64(key << 16) + np.arange(p.graft_agents, dtype=np.uint64)
            graft = new_population(p.model, p.graft_agents, stream, cells_per_agent=per_agent,
                                   variation_cv=p.cell_variation_cv, parameters=params,
                                   ids=ids)  # fmt: skip
            graft = pre_culture(graft, donor_line, g, p.parameters)
            patches = np.uint64((key << 16) | MAX_AGENTS) + np.arange(cam.n_patches,
                                                                      dtype=np.uint64)
            endo = new_population(p.endothelial_model, cam.n_patches, stream,
                                  parameters=endo_line, ids=patches)  # fmt: skip
            endo = equilibrate(endo)
            egg = C.new_egg(graft, endo, cam, stream, key, links)
            C.advance(egg, cam, hours, stream, key)
            image = C.photograph(egg, cam, stream, key)
            values = C.measure(image, cam)
            rows += [{"assay": "cam", "sample": f"{g.label} egg {number}", "group": g.label,
                      "replicate": number, "time_h": hours, "readout": r,
                      "value": float(values[r]), "unit": C.READOUTS[r]}
                     for r in p.measured()]  # fmt: skip
            primary_values[number - 1] = values[primary]
            if out is not None:
                vessels.append(egg.network.used().copy())
        if out is not None:
            i = representative(primary_values)
            image = C.photograph(vessels[i], cam, stream, g.key_base() | (i + 1))
            name = f"{p.id}_{group_stem(gi, g.label)}_egg{i + 1}.png"
            files.append(_save_photograph(image, cam, Path(out) / name,
                                          f"{g.label}, egg {i + 1}, {p.duration}"))
    readouts = tidy(rows)
    result = RunResult(p, seed, readouts, files=files)
    result.comparisons = [compare(p, c, readouts) for c in p.comparisons]
    return result


def _save_photograph(image: np.ndarray, cam, path: Path, title: str) -> Path:
    """Write the egg's photograph with the graft outline and a 1-mm scale bar (PNG)."""
    from matplotlib.patches import Circle

    from exotwin.analysis.figures import blank_figure, save

    size = cam.field_mm
    fig = blank_figure(4.0, 4.0)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    ax.imshow(image, cmap="gray", origin="lower", extent=(0, size, 0, size), vmin=0, vmax=1)
    ax.add_patch(Circle((size / 2, size / 2), cam.graft_radius_mm, fill=False, ls="--",
                        ec="#dd8452", lw=1))  # fmt: skip
    ax.plot([0.3, 1.3], [0.3, 0.3], color="white", lw=3)
    ax.text(0.8, 0.5, "1 mm", color="white", ha="center", fontsize=8)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    return path


__all__ = ["CamGroup", "CamProtocol", "SecretionInhibitor", "representative", "run"]
