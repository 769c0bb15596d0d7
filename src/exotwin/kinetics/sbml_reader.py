"""Read SBML into a :class:`ModelSpec`: what is a state, a constant, a rule, and their math.

SBML semantics implemented here (SBML L3V2 specification, sections 4.5-4.11):

* the value of a species symbol in math is its concentration, or its amount when
  ``hasOnlySubstanceUnits`` is true;
* reactions change species *amounts* (rate in substance/time, times the species' or the
  model's conversion factor); a rate rule on a species sets the time derivative of its
  symbol value (concentration or amount);
* species that no reaction or rule changes keep a constant *amount*;
* assignment rules hold at all times, also at the initial time; initial assignments
  override declared initial values; function definitions are expanded inline;
* reaction ids in math stand for the reaction rate, species-reference ids for their
  stoichiometry, local parameters shadow global ids inside their kinetic law.

Anything outside this (events, delays, algebraic rules, fast reactions, rateOf,
constraints, required packages) is refused with an error naming the element and its id.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import libsbml

from exotwin.errors import ExotwinError
from exotwin.kinetics import expr as ex
from exotwin.kinetics.expr import Expr


@dataclass
class StateVar:
    """A variable the integrator advances.

    Attributes
    ----------
    id
        SBML id of the symbol.
    kind
        ``"species"``, ``"compartment"``, ``"parameter"`` or ``"speciesReference"``.
    quantity
        ``"amount"`` (species changed by reactions), ``"concentration"`` (species with a
        rate rule and ``hasOnlySubstanceUnits=false``) or ``"value"``.
    rate
        Time derivative of the stored quantity.
    """

    id: str
    kind: str
    quantity: str
    rate: Expr = ex.ZERO


@dataclass
class ModelSpec:
    """A flat, simulation-ready description of one SBML model.

    Symbol values are expressions over other symbol ids; internal leaf ids are
    ``"x:j"`` (state ``j``) and ``"p:k"`` (constant ``k``).

    Attributes
    ----------
    source
        File name or model name, for messages.
    states
        Integrated variables, in state-vector order.
    constants
        Ids of constant symbols, in parameter-vector order (local parameters as
        ``"reaction.parameter"``).
    kinds
        SBML kind of every symbol id.
    runtime
        Expression for the value of every symbol during integration.
    initial
        Expression for the value of every symbol at the initial time (before user
        overrides); constants and states only use it when not overridden.
    store
        Expression converting symbol values into the stored quantity, for every state
        and constant (``"x:j"`` / ``"p:k"`` key).
    species
        For each species id: (compartment id, hasOnlySubstanceUnits).
    varying
        Ids whose value can change in time (states, rules, reactions).
    """

    source: str
    model_id: str
    states: list[StateVar] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    runtime: dict[str, Expr] = field(default_factory=dict)
    initial: dict[str, Expr] = field(default_factory=dict)
    store: dict[str, Expr] = field(default_factory=dict)
    species: dict[str, tuple[str, bool]] = field(default_factory=dict)
    varying: set[str] = field(default_factory=set)
    units: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        """Ids a user may set per cell: constants first, then states."""
        return [*self.constants, *(s.id for s in self.states)]

    def amount_expr(self, sid: str) -> Expr:
        """Expression for the amount of species ``sid``."""
        comp, only_substance = self.species[sid]
        value = ("s", sid)
        return value if only_substance else ex.mul(value, ("s", comp))

    def concentration_expr(self, sid: str) -> Expr:
        """Expression for the concentration of species ``sid``."""
        comp, only_substance = self.species[sid]
        value = ("s", sid)
        return ex.div(value, ("s", comp)) if only_substance else value


def read_document(model: str | os.PathLike, label: str | None = None) -> libsbml.SBMLDocument:
    """Parse SBML text or a file into a checked libsbml document.

    Parameters
    ----------
    model
        SBML text (starting with ``<``) or a path to an SBML file.
    label
        Name used in error messages (default: the path, or ``"<sbml>"``).
    """
    text_given = isinstance(model, str) and model.lstrip().startswith("<")
    if text_given:
        label = label or "<sbml>"
        doc = libsbml.readSBMLFromString(model)
    else:
        path = Path(model)
        label = label or str(path)
        if not path.is_file():
            raise ExotwinError("no such file", file=label)
        doc = libsbml.readSBMLFromFile(str(path))
    fatal = [
        doc.getError(i)
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if fatal or doc.getModel() is None:
        msg = fatal[0].getMessage() if fatal else "the document holds no model"
        line = f" (line {fatal[0].getLine()})" if fatal and fatal[0].getLine() else ""
        raise ExotwinError(f"not valid SBML{line}: {msg}", file=label)
    return doc


def check_consistency(doc: libsbml.SBMLDocument) -> list[str]:
    """Return the libsbml consistency errors of a document (units checks off)."""
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_MODELING_PRACTICE, False)
    doc.checkConsistency()
    return [
        f"{doc.getError(i).getShortMessage()}: {doc.getError(i).getMessage()}"
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]


def read_spec(model: str | os.PathLike, label: str | None = None) -> ModelSpec:
    """Read SBML text or file into a :class:`ModelSpec`.

    Raises
    ------
    ExotwinError
        For malformed SBML or constructs outside the supported subset.
    """
    text_given = isinstance(model, str) and model.lstrip().startswith("<")
    label = label or ("<sbml>" if text_given else str(model))
    doc = read_document(model, label)
    if (doc.getLevel(), doc.getVersion()) != (3, 2):
        if not doc.setLevelAndVersion(3, 2, False):
            raise ExotwinError(
                f"cannot convert SBML Level {doc.getLevel()} Version {doc.getVersion()} to L3V2",
                file=label,
            )
    errors = check_consistency(doc)
    if errors:
        raise ExotwinError(f"inconsistent SBML: {errors[0]}", file=label)
    for i in range(doc.getNumPlugins()):
        plugin = doc.getPlugin(i)
        prefix = plugin.getPrefix()
        if doc.getPkgRequired(prefix):
            raise ExotwinError(f"SBML package '{prefix}' is not supported", file=label)
    if doc.getModel().getNumFunctionDefinitions():
        props = libsbml.ConversionProperties()
        props.addOption("expandFunctionDefinitions", True)
        if doc.convert(props) != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise ExotwinError("could not expand the function definitions", file=label)
    return _Builder(doc.getModel(), label).build()


class _Builder:
    def __init__(self, model: libsbml.Model, label: str):
        self.m = model
        self.label = label
        self.spec = ModelSpec(source=label, model_id=model.getId() or "model")

    def fail(self, reason: str, element: str) -> None:
        raise ExotwinError(reason, file=self.label, field=element)

    def math(self, node: libsbml.ASTNode, where: str) -> Expr:
        try:
            return ex.from_ast(node, where)
        except ExotwinError as err:
            raise ExotwinError(err.reason, file=self.label, field=err.field) from None

    # ------------------------------------------------------------------ unsupported
    def refuse_unsupported(self) -> None:
        m = self.m
        for i in range(m.getNumEvents()):
            ev = m.getEvent(i)
            self.fail("events are not supported", f"event '{ev.getId() or i}'")
        for i in range(m.getNumConstraints()):
            self.fail("constraints are not supported", f"constraint {i + 1}")
        for i in range(m.getNumRules()):
            r = m.getRule(i)
            if r.isAlgebraic():
                self.fail("algebraic rules are not supported", f"algebraic rule {i + 1}")
        for i in range(m.getNumReactions()):
            r = m.getReaction(i)
            if r.isSetFast() and r.getFast():
                self.fail("fast reactions are not supported", f"reaction '{r.getId()}'")

    # ------------------------------------------------------------------ build
    def build(self) -> ModelSpec:
        self.refuse_unsupported()
        m, spec = self.m, self.spec
        rules: dict[str, Expr] = {}
        rate_rules: dict[str, Expr] = {}
        for i in range(m.getNumRules()):
            r = m.getRule(i)
            var = r.getVariable()
            if r.isAssignment():
                rules[var] = self.math(r.getMath(), f"assignment rule for '{var}'")
            elif r.isRate():
                rate_rules[var] = self.math(r.getMath(), f"rate rule for '{var}'")
        init_assign = {}
        for i in range(m.getNumInitialAssignments()):
            ia = m.getInitialAssignment(i)
            sym = ia.getSymbol()
            init_assign[sym] = self.math(ia.getMath(), f"initial assignment for '{sym}'")

        # which species do reactions change?
        changed: set[str] = set()
        for i in range(m.getNumReactions()):
            r = m.getReaction(i)
            for ref in [*r.getListOfReactants(), *r.getListOfProducts()]:
                sp = m.getSpecies(ref.getSpecies())
                if sp is not None and not sp.getBoundaryCondition() and not sp.getConstant():
                    changed.add(sp.getId())

        def plain(sid: str, kind: str, literal: float) -> None:
            """Declare a parameter-like symbol: state, rule or constant."""
            spec.kinds[sid] = kind
            initial = init_assign.get(sid, ("n", literal))
            if not self.declare_ruled(sid, kind, "value", initial, rules, rate_rules):
                k = len(spec.constants)
                spec.constants.append(sid)
                spec.runtime[sid] = ("s", f"p:{k}")
                spec.initial[sid] = initial
                spec.store[f"p:{k}"] = ("s", sid)

        for i in range(m.getNumCompartments()):
            c = m.getCompartment(i)
            size = c.getSize() if c.isSetSize() else math.nan
            plain(c.getId(), "compartment", size)
            spec.units[c.getId()] = c.getUnits() if c.isSetUnits() else ""
            spec.names[c.getId()] = c.getName()
        for i in range(m.getNumParameters()):
            p = m.getParameter(i)
            plain(p.getId(), "parameter", p.getValue() if p.isSetValue() else math.nan)
            spec.units[p.getId()] = p.getUnits() if p.isSetUnits() else ""
            spec.names[p.getId()] = p.getName()
        for i in range(m.getNumSpecies()):
            self.add_species(m.getSpecies(i), rules, rate_rules, init_assign, changed)
        for i in range(m.getNumReactions()):
            r = m.getReaction(i)
            for ref in [*r.getListOfReactants(), *r.getListOfProducts()]:
                if ref.isSetId():
                    stoich = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
                    plain(ref.getId(), "speciesReference", stoich)
        for i in range(m.getNumReactions()):
            self.add_reaction(m.getReaction(i))
        self.add_species_rates(changed)
        unknown = set(rules) | set(rate_rules) | set(init_assign)
        unknown -= set(spec.kinds)
        if unknown:
            bad = sorted(unknown)[0]
            self.fail("rule or initial assignment targets an unknown id", f"'{bad}'")
        self.check_references()
        return spec

    def declare_ruled(self, sid, kind, quantity, initial, rules, rate_rules) -> bool:
        """Declare ``sid`` if a rule sets it (assignment: derived; rate: a state).

        Returns whether it was; ``quantity`` is what the rate rule's math is the
        derivative of (``value``, ``amount`` or ``concentration``).
        """
        spec = self.spec
        if sid in rules:
            spec.runtime[sid] = rules[sid]
            spec.initial[sid] = rules[sid]
        elif sid in rate_rules:
            j = len(spec.states)
            spec.states.append(StateVar(sid, kind, quantity, rate_rules[sid]))
            spec.runtime[sid] = ("s", f"x:{j}")
            spec.initial[sid] = initial
            spec.store[f"x:{j}"] = ("s", sid)
        else:
            return False
        spec.varying.add(sid)
        return True

    def add_species(self, sp, rules, rate_rules, init_assign, changed) -> None:
        spec = self.spec
        sid, comp = sp.getId(), sp.getCompartment()
        only = sp.getHasOnlySubstanceUnits()
        spec.kinds[sid] = "species"
        spec.species[sid] = (comp, only)
        spec.units[sid] = sp.getSubstanceUnits() if sp.isSetSubstanceUnits() else ""
        spec.names[sid] = sp.getName()
        V = ("s", comp)
        # declared initial value, as the symbol's value (concentration unless only-substance)
        if sp.isSetInitialAmount():
            a0 = ("n", sp.getInitialAmount())
            declared = a0 if only else ex.div(a0, V)
        elif sp.isSetInitialConcentration():
            c0 = ("n", sp.getInitialConcentration())
            declared = ex.mul(c0, V) if only else c0
        else:
            declared = ("n", math.nan)
        initial = init_assign.get(sid, declared)
        to_amount = ("s", sid) if only else ex.mul(("s", sid), V)
        quantity = "amount" if only else "concentration"  # what a rate rule sets
        if self.declare_ruled(sid, "species", quantity, initial, rules, rate_rules):
            return
        if sid in changed:
            j = len(spec.states)
            spec.states.append(StateVar(sid, "species", "amount"))
            x = ("s", f"x:{j}")
            spec.runtime[sid] = x if only else ex.div(x, V)
            spec.initial[sid] = initial
            spec.store[f"x:{j}"] = to_amount
            spec.varying.add(sid)
        else:
            k = len(spec.constants)
            spec.constants.append(sid)
            p = ("s", f"p:{k}")
            spec.runtime[sid] = p if only else ex.div(p, V)
            spec.initial[sid] = initial
            spec.store[f"p:{k}"] = to_amount

    def add_reaction(self, r: libsbml.Reaction) -> None:
        spec = self.spec
        rid = r.getId()
        where = f"reaction '{rid}'"
        kl = r.getKineticLaw()
        if kl is None or not kl.isSetMath():
            rate: Expr = ("n", math.nan) if (r.getNumReactants() + r.getNumProducts()) else ex.ZERO
        else:
            rate = self.math(kl.getMath(), where)
            local = {}
            for i in range(kl.getNumLocalParameters()):
                lp = kl.getLocalParameter(i)
                key = f"{rid}.{lp.getId()}"
                k = len(spec.constants)
                spec.constants.append(key)
                spec.kinds[key] = "localParameter"
                spec.runtime[key] = ("s", f"p:{k}")
                value = lp.getValue() if lp.isSetValue() else math.nan
                spec.initial[key] = ("n", value)
                spec.store[f"p:{k}"] = ("s", key)
                spec.units[key] = lp.getUnits() if lp.isSetUnits() else ""
                local[lp.getId()] = ("s", key)
            if local:
                rate = ex.substitute(rate, local.get)
        spec.kinds[rid] = "reaction"
        spec.runtime[rid] = rate
        spec.initial[rid] = rate
        spec.varying.add(rid)

    def add_species_rates(self, changed: set[str]) -> None:
        m, spec = self.m, self.spec
        terms: dict[str, list[Expr]] = {sid: [] for sid in changed}
        for i in range(m.getNumReactions()):
            r = m.getReaction(i)
            for sign, refs in ((-1.0, r.getListOfReactants()), (1.0, r.getListOfProducts())):
                for ref in refs:
                    sid = ref.getSpecies()
                    if sid not in terms:
                        continue
                    if ref.isSetId():
                        stoich: Expr = ("s", ref.getId())
                    else:
                        stoich = ("n", ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0)
                    terms[sid].append(ex.mul(("n", sign), stoich, ("s", r.getId())))
        for state in spec.states:
            if state.kind == "species" and state.quantity == "amount" and state.id in terms:
                sp = m.getSpecies(state.id)
                factor = sp.getConversionFactor() if sp.isSetConversionFactor() else ""
                factor = factor or (m.getConversionFactor() if m.isSetConversionFactor() else "")
                net = ex.add(*terms[state.id]) if terms[state.id] else ex.ZERO
                state.rate = ex.mul(net, ("s", factor)) if factor else net

    def check_references(self) -> None:
        spec = self.spec
        known = set(spec.kinds) | {k for k in spec.runtime}
        exprs = [("rate", s.id, s.rate) for s in spec.states]
        exprs += [("value", k, e) for k, e in spec.runtime.items()]
        exprs += [("initial value", k, e) for k, e in spec.initial.items()]
        for what, owner, e in exprs:
            for sym in ex.symbols(e):
                if sym not in known and not sym.startswith(("x:", "p:")):
                    self.fail(f"{what} refers to undefined id '{sym}'", f"'{owner}'")
