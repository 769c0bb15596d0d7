"""Export an ``exotwin fit`` problem as PEtab v1 (SBML model and five tables).

PEtab describes a deterministic ODE model under constant conditions, so the export is a
**single deterministic mean cell** of the protocol's intracellular model per group:

- model (``model.xml``): the protocol's model as flat SBML L3V2 (:mod:`exotwin.models`);
- pre-culture (:func:`exotwin.protocols.run.pre_culture`): every group is pre-equilibrated
  (PEtab ``preequilibrationConditionId``) at the steady state of the maintained line with
  its stable vectors and no drug; the transfected vectors then act for their ``since``
  lead ``L`` before the drugs start, written as drug inputs gated on ``time >= L`` and
  measurement times shifted by ``L``. One lead per problem (different leads are refused);
- conditions: one per protocol group, setting the cell line's parameters, the protocol's
  ``parameters:``, the knockdown/overexpression multipliers of
  :func:`exotwin.protocols.run._group_parameters` and the constant drug concentrations
  (uM) of the model's drug inputs (:func:`exotwin.culture.coupling` of the model). A multiplier of a
  free parameter ``P`` cannot be a number of the condition table: the model then gets a
  ``P_fold`` parameter (set per condition) and uses ``P_effective = P * P_fold`` wherever
  it used ``P``;
- observables: each readout of the data mapped to a model quantity (:data:`OBSERVABLES`),
  with normal noise on the fit's scale (log: log-normal) of the data's pooled replicate
  SD, as the residuals of :mod:`exotwin.fit` (without replicates: an estimated
  ``noise_sd``);
- measurements: every data row (group -> condition, ``time_h`` -> time);
- parameters: the ``--free`` parameters, log10 scale, their bounds, nominal value the
  protocol's value (line, ``parameters:``, else the model default) clipped into them.

Not expressible, hence left out: the fates of the population (division, death, the
weighting of western lysates by living cells), cell-to-cell parameter variation, vesicle
exchange between cells (autocrine uptake; exosome and conditioned-medium treatments and
uptake inhibitors), medium changes and drugs that start or stop during the run. Groups
that need the last two, or vesicle treatments, are refused rather than silently changed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml

from exotwin.assays.western import TARGETS
from exotwin.errors import ExotwinError

if TYPE_CHECKING:
    from exotwin.fit import Setup

OBSERVABLES = {f"{target}/GAPDH": quantity for target, quantity in TARGETS.items()}
"""Readout -> model quantity: western band ratios (:data:`exotwin.assays.western.TARGETS`)."""

FILES = {"model": "model.xml", "conditions": "conditions.tsv",
         "observables": "observables.tsv", "measurements": "measurements.tsv",
         "parameters": "parameters.tsv", "problem": "problem.yaml"}  # fmt: skip
NOISE_SD = "noise_sd"  # estimated noise parameter when the data have no replicates
LEAD_ID = "exotwin_transfection_lead"  # h from transfection to the protocol's t = 0


@dataclass
class Problem:
    """A PEtab v1 problem in memory: the SBML text and the tables (PEtab column names)."""

    sbml: str
    conditions: pd.DataFrame
    observables: pd.DataFrame
    measurements: pd.DataFrame
    parameters: pd.DataFrame
    notes: list[str]

    def files(self) -> dict[str, bytes]:
        """File name -> content of every file of the problem."""
        tables = {k: getattr(self, k).to_csv(sep="\t", index=False, lineterminator="\n")
                  for k in ("conditions", "observables", "measurements", "parameters")}  # fmt: skip
        problem = {"format_version": 1, "parameter_file": FILES["parameters"],
                   "problems": [{"sbml_files": [FILES["model"]],
                                 "condition_files": [FILES["conditions"]],
                                 "measurement_files": [FILES["measurements"]],
                                 "observable_files": [FILES["observables"]]}]}  # fmt: skip
        header = "".join(f"# {line}\n" for line in self.notes)
        out = {FILES["model"]: self.sbml, FILES["problem"]: header + yaml.safe_dump(problem)}
        out.update({FILES[k]: v for k, v in tables.items()})
        return {name: text.encode() for name, text in out.items()}


def _petab_id(text: str, prefix: str, taken: set[str]) -> str:
    """A unique PEtab id (letters, digits, ``_``; not starting with a digit) for a label."""
    base = prefix + re.sub(r"\W+", "_", text, flags=re.ASCII).strip("_")
    pid, k = base, 2
    while pid in taken:
        pid, k = f"{base}_{k}", k + 1
    taken.add(pid)
    return pid


def _drugs(group, gi: int, end: float, dt: float, source: str,
           model: str) -> dict[str, float]:  # fmt: skip
    """The group's drug inputs (model id -> uM), refusing what a constant condition can't be."""
    from exotwin.culture import coupling
    from exotwin.protocols import schema as S
    from exotwin.protocols.run import _drugs_at

    for ti, x in enumerate(group.treatments):
        if isinstance(x, S.Exosomes | S.ConditionedMedium):
            raise ExotwinError(f"group {group.label!r}: {x.type} act through vesicle exchange "
                               "between cells, which PEtab cannot express",
                               file=source, field=f"groups.{gi}.treatments.{ti}")  # fmt: skip
    steps = [_drugs_at(group, t, end) for t in np.arange(0.0, end - 1e-9, dt)]
    if any(s != steps[0] for s in steps):
        raise ExotwinError(f"group {group.label!r}: drugs change during the run (start, "
                           "duration or medium change); PEtab conditions are constant",
                           file=source, field=f"groups.{gi}.treatments")  # fmt: skip
    inputs = coupling(model).drugs
    unknown = sorted(set(steps[0]) - set(inputs))
    if unknown:
        raise ExotwinError(f"group {group.label!r}: drug {unknown[0]!r} sets no model input",
                           file=source, field=f"groups.{gi}.treatments")  # fmt: skip
    return {inputs[d]: c for d, c in steps[0].items()}


def _with_folds(sbml: str, folded: list[str]) -> str:
    """``sbml`` where each parameter ``P`` of ``folded`` is used as ``P * P_fold``."""
    import libsbml

    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    for pid in folded:
        effective = f"{pid}_effective"
        elements = doc.getListOfAllElements()
        for i in range(elements.getSize()):
            elements.get(i).renameSIdRefs(pid, effective)
        original = model.getParameter(pid)
        for new_id, constant in ((f"{pid}_fold", True), (effective, False)):
            p = model.createParameter()
            p.setId(new_id)
            p.setConstant(constant)
            p.setValue(1.0)
            if new_id == effective and original.isSetUnits():
                p.setUnits(original.getUnits())
            elif new_id != effective:
                p.setUnits("dimensionless")
        rule = model.createAssignmentRule()
        rule.setVariable(effective)
        rule.setMath(libsbml.parseL3Formula(f"{pid} * {pid}_fold"))
    return libsbml.writeSBMLToString(doc)


def _with_gates(sbml: str, drugs: list[str], lead_h: float) -> str:
    """``sbml`` where each drug input ``D`` acts only from ``time >= lead_h`` (the lead)."""
    import libsbml

    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    lead = model.createParameter()
    lead.setId(LEAD_ID)
    lead.setConstant(True)
    lead.setValue(float(lead_h))
    lead.setUnits("hour" if model.getUnitDefinition("hour") else "dimensionless")
    for pid in drugs:
        gated = f"{pid}_gated"
        elements = doc.getListOfAllElements()
        for i in range(elements.getSize()):
            elements.get(i).renameSIdRefs(pid, gated)
        q = model.createParameter()
        q.setId(gated)
        q.setConstant(False)
        q.setValue(0.0)
        if model.getParameter(pid).isSetUnits():
            q.setUnits(model.getParameter(pid).getUnits())
        rule = model.createAssignmentRule()
        rule.setVariable(gated)
        rule.setMath(libsbml.parseL3Formula(f"piecewise({pid}, time >= {LEAD_ID}, 0)"))
    return libsbml.writeSBMLToString(doc)


def _lead(p, source: str) -> float:
    """The protocol's one transfection lead (h) of non-stable vectors; 0 without any."""
    from exotwin.protocols.run import transfection_leads

    leads = transfection_leads(p.groups)
    if len(leads) > 1:
        raise ExotwinError("vectors transfected at different times before t = 0 "
                           f"({', '.join(f'{x:g} h' for x in sorted(leads))}); a PEtab "
                           "problem here holds one lead", file=source,
                           field="groups")  # fmt: skip
    return leads[0] if leads else 0.0


def build(setup: Setup) -> Problem:
    """The PEtab problem of a checked calibration (:func:`exotwin.fit.prepare`).

    Raises
    ------
    ExotwinError
        A readout with no model quantity, or a group a constant condition cannot express.
    """
    import libsbml

    from exotwin.cells.lines import cell_line_parameters
    from exotwin.models import to_sbml
    from exotwin.protocols import units
    from exotwin.protocols.run import _expression, _group_parameters

    p, source = setup.protocol, setup.source
    sbml = to_sbml(p.model)
    model = libsbml.readSBMLFromString(sbml).getModel()
    free = [n.removeprefix("model.") for n in setup.names]
    defaults = {q.getId(): q.getValue() for q in model.getListOfParameters()}
    line = cell_line_parameters(p.cell_line, p.model, file=source)
    fixed = {k: v for k, v in p.parameters.items() if k not in free}
    end, dt = units.time_h(p.duration), units.time_h(p.phenotype_step)
    taken: set[str] = set()
    lead = _lead(p, source)
    rows, folds, gated, pre_ids, ids = [], set(), set(), {}, {}
    for gi, group in enumerate(p.groups):
        drugs = _drugs(group, gi, end, dt, source, p.model)
        gated |= set(drugs)
        for min_lead, suffix in ((0.0, ""), (float("inf"), " pre-culture")):
            fold = _expression(group, min_lead)  # pre-culture: stable vectors only
            values = {k: v for k, v in _group_parameters(line, group, fixed, min_lead).items()
                      if k not in free}  # fmt: skip
            values.update(drugs if not suffix else dict.fromkeys(drugs, 0.0))
            for k in free:
                if fold.get(k, 1.0) != 1.0:
                    folds.add(k)
                values[f"{k}_fold"] = fold.get(k, 1.0)
            cid = _petab_id(group.label + suffix, "c_", taken)
            (pre_ids if suffix else ids)[group.label] = cid
            rows.append({"conditionId": cid, "conditionName": group.label + suffix, **values})
    conditions = pd.DataFrame(rows)
    for d in gated:  # a drug a group does not give is absent (0) in that group
        conditions[d] = conditions[d].fillna(0.0)
    columns = [c for c in conditions.columns[2:]
               if not c.endswith("_fold") or c.removesuffix("_fold") in folds]  # fmt: skip
    for c in columns:  # a parameter a group leaves alone keeps the model's value there
        conditions[c] = conditions[c].fillna(defaults.get(c, np.nan))
    conditions = conditions[["conditionId", "conditionName", *columns]]
    species = {s.getId() for s in model.getListOfSpecies()}
    known = species | set(defaults)
    data = setup.measured
    obs_rows, obs_ids = [], {}
    sd = setup.pooled_sd
    for readout in sorted(data["readout"].unique()):
        quantity = OBSERVABLES.get(readout)
        if quantity is None or quantity not in known:
            raise ExotwinError(f"readout {readout!r} has no model quantity for PEtab; "
                               f"known: {', '.join(OBSERVABLES)}", file=setup.data,
                               field="readout")  # fmt: skip
        obs_ids[readout] = _petab_id(readout, "obs_", taken)
        obs_rows.append({"observableId": obs_ids[readout], "observableName": readout,
                         "observableFormula": quantity,
                         "observableTransformation": "log" if setup.scale == "log" else "lin",
                         "noiseFormula": NOISE_SD if sd is None else repr(sd),
                         "noiseDistribution": "normal"})  # fmt: skip
    measurements = pd.DataFrame({
        "observableId": data["readout"].map(obs_ids),
        "preequilibrationConditionId": data["group"].map(pre_ids),
        "simulationConditionId": data["group"].map(ids),
        "measurement": data["value"].astype(float),
        "time": data["time_h"].astype(float) + lead})  # fmt: skip
    nominal = {k: float(np.clip(p.parameters.get(k, line.get(k, defaults[k])), lo, hi))
               for k, lo, hi in zip(free, setup.lo, setup.hi, strict=True)}  # fmt: skip
    par_rows = [{"parameterId": k, "parameterName": f"model.{k}", "parameterScale": "log10",
                 "lowerBound": float(lo), "upperBound": float(hi), "nominalValue": nominal[k],
                 "estimate": 1}
                for k, lo, hi in zip(free, setup.lo, setup.hi, strict=True)]  # fmt: skip
    if sd is None:
        par_rows.append({"parameterId": NOISE_SD, "parameterName": "replicate SD (fit scale)",
                         "parameterScale": "log10", "lowerBound": 1e-3, "upperBound": 10.0,
                         "nominalValue": 0.1, "estimate": 1})  # fmt: skip
    notes = [f"PEtab v1 export of exotwin fit: protocol {p.id} ({source}), data {setup.data}",
             f"model {p.model}, cell line {p.cell_line}, scale {setup.scale}",
             "a single deterministic mean cell per group: no population fates, cell "
             "variation, vesicle exchange or medium changes (see docs/scale.md)",
             f"pre-culture: line steady state, then {lead:g} h transfection lead "
             f"({LEAD_ID}); measurement times are protocol times + {lead:g} h"]  # fmt: skip
    sbml = _with_folds(sbml, sorted(folds)) if folds else sbml
    if lead > 0 and gated:
        sbml = _with_gates(sbml, sorted(gated), lead)
    return Problem(sbml, conditions, pd.DataFrame(obs_rows), measurements,
                   pd.DataFrame(par_rows), notes)  # fmt: skip


def write(problem: Problem, out: str | Path) -> Path:
    """Write the problem's files into ``out`` atomically; the path of ``problem.yaml``."""
    from exotwin.atomic import atomic_write_files

    return atomic_write_files(out, problem.files()) / FILES["problem"]


def export(protocol: str | Path, data: str | Path, free: list[str], out: str | Path,
           scale: str = "log") -> dict:  # fmt: skip
    """Write the PEtab problem of ``exotwin fit PROTOCOL DATA --free ...`` into ``out``.

    Parameters
    ----------
    protocol, data, free, scale
        As for :func:`exotwin.fit.fit`.
    out
        Output directory (written atomically: all files or, on error, none).

    Returns
    -------
    dict
        ``problem`` (path of ``problem.yaml``), ``seconds``, row counts ``conditions``,
        ``observables``, ``measurements``.
    """
    from exotwin.fit import prepare

    clock = time.perf_counter()
    problem = build(prepare(protocol, data, free, scale))
    path = write(problem, out)
    return {"problem": path, "seconds": time.perf_counter() - clock,
            "conditions": len(problem.conditions), "observables": len(problem.observables),
            "measurements": len(problem.measurements)}  # fmt: skip
