"""Run a protocol: build the wells of every group and replicate, treat, assay, compare.

Gene names map to model inputs through :data:`GENE_INPUTS` (declared, not inferred):
a knockdown of efficiency e multiplies the gene's synthesis by (1 - e); an
overexpression of fold f multiplies it by f. Drugs reach model inputs through the
declared coupling of the model of the cells they are given to
(:func:`exotwin.culture.coupling`). The recipient wells run the model of the protocol's
cell line; a donor with its own ``cell_line`` runs that line's model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exotwin.analysis import stats
from exotwin.assays import tidy, western
from exotwin.cells import equilibrate, new_population
from exotwin.cells.lines import cell_line_parameters
from exotwin.cells.population import STABLE_LINE_H
from exotwin.culture import Well, advance, coupling
from exotwin.culture.isolation import Conditioned, collect, ultracentrifuge
from exotwin.errors import ExotwinError
from exotwin.protocols import schema as S
from exotwin.protocols import units
from exotwin.protocols.measure import MAX_STEPS, MAX_WELLS, MEASURES, AssayContext, stream_seed

GENE_INPUTS = {"ERp44": "ERp44_expression", "GSDME": "GSDME_expression",
               "STIM1": "STIM1_expression", "LMP1": "LMP1_expression"}
WELL_ID_STRIDE = 10_000_000  # cell ids of different wells never collide
# A qualitative claim (representative blot or image, no statistics in the paper) passes
# when the group means differ in the stated direction by at least this fold: twice the SD
# of the log-ratio of two bands with the western assay's 15 % CV, 2 * sqrt(2) * 0.149
# = 0.42 in ln units, exp(0.42) = 1.52, rounded to 1.5. Fixed before any result was seen.
VISIBLE_FOLD = 1.5


@dataclass
class RunResult:
    """Readouts (tidy), comparison results and files written by one protocol run."""

    protocol: S.Protocol
    seed: int
    readouts: pd.DataFrame
    comparisons: list[dict] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _expression(group: S.Group, min_lead_h: float = 0.0) -> dict[str, float]:
    """Expression multipliers of the group's vectors transfected at least ``min_lead_h`` ago.

    Every gene has an input: protocols are checked at load (``schema.check_known_genes``).
    """
    params: dict[str, float] = {}
    for t in group.treatments:
        if isinstance(t, S.Knockdown | S.Overexpression):
            if t.lead_h() < min_lead_h:
                continue
            factor = (1.0 - t.efficiency) if isinstance(t, S.Knockdown) else t.fold
            params[GENE_INPUTS[t.gene]] = params.get(GENE_INPUTS[t.gene], 1.0) * factor
    return params


def transfection_leads(groups) -> list[float]:
    """The distinct finite ``since`` leads (h) of the groups' vectors, longest first."""
    return sorted({t.lead_h() for g in groups for t in g.treatments
                   if isinstance(t, S.Knockdown | S.Overexpression)} - {float("inf")},
                  reverse=True)  # fmt: skip


def pre_culture(pop, line: dict[str, float], group: S.Group,
                protocol: dict[str, float] | None = None):  # fmt: skip
    """The group's cells at t = 0: the maintained line at steady state, then transfection.

    The line (with its stable vectors) is first brought to steady state
    (:func:`exotwin.cells.equilibrate`); each transfected vector then acts for its
    ``since`` hours before t = 0, without treatments. ``pop.params`` already holds the
    group's own values (:func:`_group_parameters`); only the vector inputs differ during
    the earlier windows.
    """
    leads = transfection_leads([group])
    inputs = set(_expression(group))
    windows = [float("inf"), *leads]  # window i: vectors with lead >= windows[i]
    for i, start in enumerate(windows):
        active = _group_parameters(line, group, protocol, start)
        values = {k: active.get(k, 1.0) for k in inputs}
        stop = windows[i + 1] if i + 1 < len(windows) else 0.0
        hours = STABLE_LINE_H if start == float("inf") else start - stop
        pop = equilibrate(pop, hours, parameters=values)
    return pop


def _group_parameters(line: dict[str, float], group: S.Group,
                      protocol: dict[str, float] | None = None,
                      min_lead_h: float = 0.0) -> dict[str, float]:  # fmt: skip
    """The cell line's parameters, the protocol's ``parameters``, the group's expression.

    A knockdown or overexpression multiplier scales the line's value of the same input;
    only vectors transfected at least ``min_lead_h`` before t = 0 count (``inf``: the
    stable ones, i.e. the line before transfection).
    """
    line = {**line, **(protocol or {})}
    expression = _expression(group, min_lead_h)
    return {**line, **{k: line.get(k, 1.0) * v for k, v in expression.items()}}


def _drugs_at(group: S.Group, t: float, end: float,
              media: dict[str, Conditioned] | None = None) -> dict[str, float]:  # fmt: skip
    """Drug concentrations (uM) in the medium during the step starting at ``t``.

    Drugs carried by a transferred conditioned medium count from its transfer, diluted by
    its share of the medium, until the next medium change.
    """
    out: dict[str, float] = {}
    changes = [units.time_h(x.at) for x in group.treatments if isinstance(x, S.MediumChange)]
    for x in group.treatments:
        if isinstance(x, S.Drug | S.Tunicamycin):
            start = units.time_h(x.start)
            stop = start + units.time_h(x.duration) if x.duration is not None else end
            stop = min([stop, *[c for c in changes if c > start]])
            if start <= t < stop:
                out[x.drug()] = out.get(x.drug(), 0.0) + x.concentration_um()
        elif isinstance(x, S.ConditionedMedium) and media is not None:
            start = units.time_h(x.start)
            stop = min([end, *[c for c in changes if c > start]])
            if start <= t < stop:
                for drug, conc in media[f"{x.source}:{x.part}"].drugs.items():
                    out[drug] = out.get(drug, 0.0) + conc * x.share
    return out


def _dose(well: Well, group: S.Group, t: float, media: dict[str, Conditioned]) -> None:
    """Exosomes and conditioned media whose ``start`` is ``t`` enter the well's medium."""
    for x in group.treatments:
        if not isinstance(x, S.Exosomes | S.ConditionedMedium):
            continue
        if abs(units.time_h(x.start) - t) > 1e-9:
            continue
        if isinstance(x, S.Exosomes):
            prep = media[f"{x.source}:exosomes"]
            if prep.particles <= 0:
                raise ExotwinError(f"donor {x.source!r} released no vesicles to isolate",
                                   field="donors")  # fmt: skip
            particles = x.particles_per_ml(well.vesicle_params.particles_per_ug) * well.volume_ml
            cargo = {k: particles * prep.per_vesicle(k) for k in prep.cargo}
            if x.label != "none":
                cargo[x.label] = particles  # one dye unit per labelled vesicle
            well.vesicles.add(particles, cargo)
        else:
            well.vesicles.remove_fraction(x.share)  # the replaced share of the old medium
            medium = media[f"{x.source}:{x.part}"]
            portion = medium.scaled(x.share * well.volume_ml / medium.volume_ml)
            well.vesicles.add(portion.particles, portion.cargo)


def step_well(well: Well, group: S.Group, t: float, dt: float, end: float,
              media: dict[str, Conditioned] | None = None) -> None:  # fmt: skip
    """One phenotype step of a group's well from ``t``: medium, dosing, drugs, then cells.

    A medium change at ``t`` removes the medium's vesicles (counted as ``removed``); the
    drug exposures it ends are handled by :func:`_drugs_at`. Exosomes and conditioned
    media starting at ``t`` are then added from ``media`` (donor material by
    ``"<donor>:<exosomes|whole|exosome_depleted>"``).
    """
    if any(isinstance(x, S.MediumChange) and abs(units.time_h(x.at) - t) < 1e-9
           for x in group.treatments):  # fmt: skip
        well.vesicles.remove_fraction(1.0)
    if media is not None:
        _dose(well, group, t, media)
    well.drugs = _drugs_at(group, t, end, media)
    advance(well, dt, dt)


def _population(p: S.Protocol, n_cells: float, n_agents: int, params: dict, seed: int,
                well_index: int, model: str | None = None):  # fmt: skip
    per_agent = max(1, round(n_cells / n_agents))
    return new_population(
        model or p.model, n_agents, seed=seed, cells_per_agent=per_agent,
        variation_cv=p.cell_variation_cv, parameters=params,
        first_id=well_index * WELL_ID_STRIDE,
    )  # fmt: skip


def condition_donors(p: S.Protocol, seed: int, source: str = "") -> dict[str, Conditioned]:
    """Culture every donor, collect its medium and ultracentrifuge it.

    Returns
    -------
    dict
        ``"<donor>:whole"``, ``"<donor>:exosomes"`` (the pellet) and
        ``"<donor>:exosome_depleted"`` (the supernatant) for every donor.
    """
    dt = units.time_h(p.phenotype_step)
    media: dict[str, Conditioned] = {}
    for di, donor in enumerate(p.donors):
        if any(isinstance(t, S.Exosomes | S.ConditionedMedium) for t in donor.treatments):
            raise ExotwinError("a donor culture cannot itself receive exosomes or medium",
                               file=source, field=f"donors.{di}.treatments")  # fmt: skip
        group = S.Group(label=donor.label, treatments=donor.treatments)
        line, model = donor_line(p, donor)
        # the protocol's ``parameters`` are ids of the recipients' model
        values = cell_line_parameters(line, model, file=source)
        fixed = p.parameters if model == p.model else None
        params = _group_parameters(values, group, fixed)
        pop = _population(p, donor.cells, donor.agents, params, seed,
                          len(p.groups) * p.replicates + di, model)  # fmt: skip
        pop = pre_culture(pop, values, group, fixed)
        well = Well.seed(pop, donor.plate)
        end = units.time_h(donor.duration)
        t = 0.0
        while t < end - 1e-9:
            step_well(well, group, t, dt, end)
            t += dt
        whole = collect(donor.label, well.vesicles, well.volume_ml, well.drugs)
        pellet, supernatant = ultracentrifuge(whole, donor.isolation.yield_)
        media[f"{donor.label}:whole"] = whole
        media[f"{donor.label}:exosomes"] = pellet
        media[f"{donor.label}:exosome_depleted"] = supernatant
    return media


def donor_line(p: S.Protocol, donor: S.Donor) -> tuple[str, str]:
    """(cell line, model) of a donor culture: its own line, or the protocol's."""
    if donor.cell_line is None:
        return p.cell_line, p.model
    return donor.cell_line, S.line_model(donor.cell_line) or p.model


def check_genes(treatments, model: str, where: str, source: str) -> None:
    """Every knockdown or overexpression must scale an input of ``model`` (at run time).

    The gene itself is checked at load (:func:`exotwin.protocols.schema.check_known_genes`).

    ``where`` is the field path of the treatment list (``groups.0``), for the message.
    """
    from exotwin.kinetics import compile_model

    inputs = None
    for ti, x in enumerate(treatments):
        if not isinstance(x, S.Knockdown | S.Overexpression):
            continue
        name = GENE_INPUTS[x.gene]  # a gene without an input is refused at load
        if inputs is None:
            spec = compile_model(model).spec
            inputs = {k for k in spec.constants if spec.kinds[k] == "parameter"}
        if name not in inputs:
            raise ExotwinError(f"gene {x.gene!r} (input {name!r}) is not part of model "
                               f"{model!r}", file=source,
                               field=f"{where}.treatments.{ti}.gene")  # fmt: skip


def _check_inputs(p: S.Protocol, source: str) -> None:
    """Drugs and genes of groups and donors, and western targets, must exist in the model."""
    from exotwin.kinetics import compile_model

    def check(treatments, model: str, where: str) -> None:
        drugs = coupling(model).drugs
        for ti, x in enumerate(treatments):
            if isinstance(x, S.Drug | S.Tunicamycin) and x.drug() not in drugs:
                raise ExotwinError(
                    f"drug {x.drug()!r} reaches no input of model {model!r} (its drugs: "
                    f"{', '.join(drugs) or 'none'}; culture/couplings.yaml)",
                    file=source, field=f"{where}.treatments.{ti}"
                    + (".name" if isinstance(x, S.Drug) else ".type"))  # fmt: skip
        check_genes(treatments, model, where, source)

    for gi, group in enumerate(p.groups):
        check(group.treatments, p.model, f"groups.{gi}")
    for di, donor in enumerate(p.donors):
        check(donor.treatments, donor_line(p, donor)[1], f"donors.{di}")
    known = compile_model(p.model).output_index
    for ai, assay in enumerate(p.assays):
        for band in western.bands(list(assay.targets)):
            names = western.TARGETS[band]
            missing = [n for n in ((names,) if isinstance(names, str) else names) if n not in known]
            if missing:
                raise ExotwinError(f"western target {band!r} needs {missing[0]!r}, which model "
                                   f"{p.model!r} does not have", file=source,
                                   field=f"assays.{ai}.targets")  # fmt: skip


def _check_on_steps(p: S.Protocol, dt: float, end: float, source: str) -> None:
    """Every treatment time and donor duration must fall on a phenotype step in the run."""

    def check(value, field: str, limit: float) -> None:
        h = units.time_h(value)
        if abs(round(h / dt) * dt - h) > 1e-9 or h > limit + 1e-9:
            raise ExotwinError(f"{h:g} h is not a step of {dt:g} h within {limit:g} h",
                               file=source, field=field)  # fmt: skip

    for gi, group in enumerate(p.groups):
        for ti, x in enumerate(group.treatments):
            where = f"groups.{gi}.treatments.{ti}"
            if isinstance(x, S.MediumChange):
                check(x.at, f"{where}.at", end)
            if isinstance(x, S.Drug | S.Tunicamycin | S.Exosomes | S.ConditionedMedium):
                check(x.start, f"{where}.start", end)
            if isinstance(x, S.Drug | S.Tunicamycin) and x.duration is not None:
                check(x.duration, f"{where}.duration", float("inf"))
    for di, donor in enumerate(p.donors):
        check(donor.duration, f"donors.{di}.duration", float("inf"))
        for ti, x in enumerate(donor.treatments):
            if isinstance(x, S.Drug | S.Tunicamycin):
                check(x.start, f"donors.{di}.treatments.{ti}.start", units.time_h(donor.duration))


def run(protocol: S.Protocol, seed: int, out: Path | None = None, source: str = "") -> RunResult:
    """Simulate every group x replicate of a protocol and evaluate its comparisons."""
    p = protocol
    dt = units.time_h(p.phenotype_step)
    end = units.time_h(p.duration)
    times = sorted({units.time_h(x) for a in p.assays for x in a.times})
    for tt in [*times, end]:
        if abs(round(tt / dt) * dt - tt) > 1e-9 or tt > end + 1e-9:
            raise ExotwinError(f"assay time {tt} h is not a step of {dt} h within the run",
                               file=source, field="assays")  # fmt: skip
    if end / dt >= MAX_STEPS:
        raise ExotwinError(f"{end:g} h in steps of {dt:g} h is {end / dt:.0f} steps; at most "
                           f"{MAX_STEPS - 1} are supported", file=source,
                           field="phenotype_step")  # fmt: skip
    if len(p.groups) * p.replicates + len(p.donors) >= MAX_WELLS:
        raise ExotwinError(f"at most {MAX_WELLS - 1} wells (groups x replicates + donors)",
                           file=source, field="replicates")  # fmt: skip
    _check_on_steps(p, dt, end, source)
    _check_inputs(p, source)
    line = cell_line_parameters(p.cell_line, p.model, file=source)
    rows: list[dict] = []
    files: list[Path] = []
    stream = stream_seed(seed, p.id)  # every draw of this run: recorded seed + protocol id
    media = condition_donors(p, stream, source)
    for gi, group in enumerate(p.groups):
        params = _group_parameters(line, group, p.parameters)
        inhibition = max((t.efficiency for t in group.treatments
                          if isinstance(t, S.UptakeInhibitor)), default=0.0)  # fmt: skip
        for ri in range(p.replicates):
            pop = _population(p, p.cells_per_well, p.agents_per_well, params, stream,
                              gi * p.replicates + ri)  # fmt: skip
            pop = pre_culture(pop, line, group, p.parameters)
            well = Well.seed(pop, p.plate, uptake_inhibition=inhibition)
            t = 0.0
            for target in sorted({*times, end}):
                while t < target - 1e-9:
                    step_well(well, group, t, dt, end, media)
                    t += dt
                if target in times:
                    for assay in p.assays:
                        if any(abs(units.time_h(x) - target) < 1e-9 for x in assay.times):
                            ctx = AssayContext(p, assay, well, group.label, gi, ri + 1, target,
                                               stream, out, files, seed)  # fmt: skip
                            rows += MEASURES[assay.type].function(ctx)
    readouts = tidy(rows)
    _check_compared(p, readouts, source)
    result = RunResult(p, seed, readouts, files=files)
    result.comparisons = [compare(p, c, readouts) for c in p.comparisons]
    return result


def _check_compared(p: S.Protocol, readouts: pd.DataFrame, source: str) -> None:
    """Each comparison's readout was measured once per well at its time (else: user error).

    A misspelt readout or an unmeasured time would otherwise be a silent "not tested", and
    the same readout read twice per well (two identical assays) would double n.
    """
    measured = list(dict.fromkeys(readouts["readout"])) if len(readouts) else []
    for i, c in enumerate(p.comparisons):
        if c.readout not in measured:
            raise ExotwinError(S.not_measured(c.readout, measured), file=source,
                               field=f"comparisons.{i}.readout")  # fmt: skip
        own = readouts[readouts["readout"] == c.readout]
        t = units.time_h(c.time)
        at = own[np.isclose(own["time_h"], t)]
        if at.empty:
            hours = ", ".join(f"{h:g}" for h in sorted(set(own["time_h"])))
            raise ExotwinError(f"{c.readout!r} is measured at {hours} h, not at {t:g} h",
                               file=source, field=f"comparisons.{i}.time")  # fmt: skip
        if at.duplicated(["group", "replicate"]).any():
            raise ExotwinError(f"{c.readout!r} is read twice per well at {t:g} h (two assays "
                               "give it); keep one", file=source, field="assays")  # fmt: skip


def claim_verdicts(comparisons: list[dict]) -> list[dict]:
    """One verdict per claim: a claim tested by several comparisons passes only if all do."""
    by_claim: dict[str, list[dict]] = {}
    for c in comparisons:
        by_claim.setdefault(c["id"], []).append(c)
    out = []
    for cid, parts in by_claim.items():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        verdicts = {p["verdict"] for p in parts}
        verdict = "fail" if "fail" in verdicts else (
            "not_tested" if "not_tested" in verdicts else "pass")  # fmt: skip
        p_values = [p["p_value"] for p in parts if p["p_value"] is not None]
        out.append({
            "id": cid, "verdict": verdict,
            "expected": "; ".join(f"{p.get('readout', '')}: {p['expected']}" for p in parts),
            "observed": "; ".join(f"{p.get('readout', '')}: {p['observed']}" for p in parts),
            "p_value": max(p_values) if p_values else None, "protocol": parts[0]["protocol"],
            "parts": parts,
        })  # fmt: skip
    return out


def compare(p: S.Protocol, c: S.Comparison, readouts: pd.DataFrame) -> dict:
    """Evaluate one comparison: observed direction and p-value against the expectation."""
    t = units.time_h(c.time)
    sel = readouts[(readouts["readout"] == c.readout) & (np.isclose(readouts["time_h"], t))]
    values = {g: sel.loc[sel["group"] == g, "value"].to_numpy(float) for g in c.groups}
    if len(c.groups) == 1:
        return _compare_one(p, c, values[c.groups[0]], t)
    first, second = c.groups[0], c.groups[1]
    if any(v.size < 2 for v in values.values()):
        return {"id": c.claim, "verdict": "not_tested", "expected": c.expected,
                "observed": None, "p_value": None, "protocol": p.id,
                "reason": f"fewer than 2 replicates of {c.readout} at {t:g} h"}  # fmt: skip
    m1, m2 = float(values[first].mean()), float(values[second].mean())
    if c.test == "visible":
        p_value = stats.t_test(values[first], values[second])
        fold = fold_in_direction(m1, m2, c.expected)
        verdict = "pass" if fold >= VISIBLE_FOLD else "fail"
        expected = f"{first} {c.expected} than {second}"
        observed = (f"{_fold_text(first, second, m1, m2)} "
                    f"({m1:.4g} vs {m2:.4g}, mean of {values[first].size})")  # fmt: skip
        test = (f"visible difference: >= {VISIBLE_FOLD}-fold in the stated direction "
                "(P from a two-tailed t-test, reported only)")  # fmt: skip
        if c.than_groups:
            b = [sel.loc[sel["group"] == g, "value"].to_numpy(float).mean()
                 for g in c.than_groups]  # fmt: skip
            base_fold = fold_in_direction(float(b[0]), float(b[1]), c.expected)
            verdict = "pass" if fold >= VISIBLE_FOLD and fold > base_fold else "fail"
            expected += f", by more than {c.than_groups[0]} vs {c.than_groups[1]}"
            observed += "; " + _fold_text(*c.than_groups, float(b[0]), float(b[1]))
            test += "; interaction: the shift exceeds the shift between the baseline groups"
        return {
            "id": c.claim, "verdict": verdict, "expected": expected, "observed": observed,
            "p_value": p_value, "protocol": p.id, "readout": c.readout, "time_h": t,
            "groups": list(c.groups), "test": test,
        }  # fmt: skip
    if c.test == "t-test" or len(c.groups) == 2:
        p_value = stats.t_test(values[first], values[second])
        test = "two-tailed Student t-test"
    else:
        _, pairs = stats.anova_tukey(values)
        p_value = pairs[(first, second)]
        test = "one-way ANOVA, Tukey HSD"
    observed = "greater" if m1 > m2 else "less" if m1 < m2 else "equal"
    verdict = "pass" if observed == c.expected and p_value < 0.05 else "fail"
    return {
        "id": c.claim, "verdict": verdict, "expected": f"{first} {c.expected} than {second}",
        "observed": f"{relation(first, second, m1, m2, p_value)} "
                    f"({m1:.4g} vs {m2:.4g}, mean of {values[first].size})",
        "p_value": p_value, "protocol": p.id, "test": test, "readout": c.readout, "time_h": t,
        "groups": list(c.groups),
    }  # fmt: skip


def relation(first: str, second: str, m1: float, m2: float, p_value: float | None) -> str:
    """The observed relation of ``first`` (mean ``m1``) to ``second`` (``m2``) in words.

    ``greater than`` / ``less than`` when the test finds a difference (P < 0.05);
    ``equal to`` for equal means; otherwise ``not different from`` (the means follow in
    the record, so their direction stays visible).
    """
    significant = p_value is not None and p_value < 0.05
    if m1 == m2:
        return f"{first} equal to {second}"
    if significant and m1 > m2:
        return f"{first} greater than {second}"
    if significant and m1 < m2:
        return f"{first} less than {second}"
    return f"{first} not different from {second}"


def _fold_text(first: str, second: str, a: float, b: float) -> str:
    """``first/second = R-fold``; a zero ``second`` is said in words (not ``inf-fold``)."""
    ratio = _ratio(a, b)
    if np.isinf(ratio):
        return f"{first}/{second}: {second} is 0"
    return f"{first}/{second} = {ratio:.3g}-fold"


def _ratio(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)) or a < 0 or b < 0:
        return float("nan")  # fold changes need finite, non-negative readouts
    return a / b if b != 0 else (float("inf") if a > 0 else 1.0)


def fold_in_direction(first: float, second: float, expected: str) -> float:
    """Fold change of ``first`` over ``second`` measured in the expected direction.

    Greater than 1 when the difference goes the expected way (``greater``: first/second;
    ``less``: second/first); two zeros give 1; NaN when either value is missing,
    infinite or negative (no fold change is defined, so the comparison cannot pass).
    """
    ratio = _ratio(first, second)
    if expected == "greater" or np.isnan(ratio):
        return ratio
    return 1.0 / ratio if ratio > 0 else float("inf")


def _compare_one(p: S.Protocol, c: S.Comparison, values: np.ndarray, t: float) -> dict:
    """One group against a reference value (``reference``) or a range (``range``)."""
    g = c.groups[0]
    base = {"id": c.claim, "protocol": p.id, "readout": c.readout, "time_h": t, "groups": [g]}
    if values.size < 1 or (c.test != "range" and values.size < 2):
        return {**base, "verdict": "not_tested", "expected": c.expected, "observed": None,
                "p_value": None, "reason": f"too few values of {c.readout} at {t:g} h"}  # fmt: skip
    m = float(values.mean())
    if c.test == "range":
        lo, hi = c.range
        return {**base, "verdict": "pass" if lo <= m <= hi else "fail",
                "expected": f"{g}: {c.readout} within [{lo:g}, {hi:g}]",
                "observed": f"{m:.4g} (mean of {values.size})", "p_value": None,
                "test": "mean within the stated range"}  # fmt: skip
    ref = float(c.reference)
    p_value = stats.one_sample_t_test(values, ref)
    direction = "greater" if m > ref else "less" if m < ref else "equal"
    if c.test == "visible":
        fold = fold_in_direction(m, ref, c.expected)
        verdict = "pass" if fold >= VISIBLE_FOLD else "fail"
        test = (f"visible difference: >= {VISIBLE_FOLD}-fold from {ref:g} in the stated "
                "direction (P from a one-sample t-test, reported only)")  # fmt: skip
    else:
        verdict = "pass" if direction == c.expected and p_value < 0.05 else "fail"
        test = "two-tailed one-sample t-test"
    observed = (relation(g, f"{ref:g}", m, ref, p_value) if c.test != "visible" else
                _fold_text(g, f"{ref:g}", m, ref))  # fmt: skip
    return {**base, "verdict": verdict, "expected": f"{g} {c.expected} than {ref:g}",
            "observed": f"{observed} ({m:.4g}, mean of {values.size})",
            "p_value": p_value, "test": test}  # fmt: skip
