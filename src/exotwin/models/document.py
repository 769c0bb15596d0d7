"""Documentation generated from a built-in model: a wiring diagram and parameter tables.

The diagram (Mermaid, rendered by GitHub and most Markdown viewers) is read from the
flat SBML: an arrow from each reactant to each product of a reaction, a dashed arrow
from each species that appears in a rate law without being consumed or produced by it
(a regulator), and dotted arrows from species to the outputs (assignment rules) that
read them. Parameter tables come from the Antimony files' per-line comments
(``name = value; // unit; provenance``), so the docs cannot drift from the model.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import libsbml

from exotwin.kinetics import expr as ex
from exotwin.models import _lookup, list_models, to_sbml

MODULE_TITLES = {
    "ER": "ER stress / UPR (er_stress.ant)",
    "SV": "ERp44 -> NF-kB survival (survival.ant)",
    "AP": "cisplatin -> apoptosis (cisplatin_apoptosis.ant)",
    "PY": "caspase-3 -> GSDME pyroptosis (pyroptosis.ant)",
    "EX": "exosomes (exosomes.ant)",
    "CA": "ER Ca2+ store, STIM1, SOCE (soce.ant)",
    "LX": "LMP1 and its exosomal loading (lmp1_exosomes.ant)",
    "SG": "exosomal LMP1 -> PI3K/Akt, MEK/ERK (akt_erk.ant)",
    "PH": "endothelial phenotype (angiogenic_phenotype.ant)",
}
_IMPORT = re.compile(r'^\s*import\s+"([^"]+)"', re.MULTILINE)
_PARAM_LINE = re.compile(r"^\s*(\w+)\s*=\s*([^;/]+?)\s*;\s*//\s*([^;]*?)\s*;\s*(.+?)\s*$")


def _symbols_of(node) -> set[str]:
    try:
        return ex.symbols(ex.from_ast(node, "doc"))
    except Exception:  # unsupported math only costs the diagram an edge
        return set()


def _through_rules(symbols: set[str], rules: dict, species: set[str]) -> set[str]:
    """``symbols`` plus every symbol read, directly or not, by assignment rules among them."""
    out, todo = set(symbols), [x for x in symbols if x in rules and x not in species]
    while todo:
        for x in _symbols_of(rules[todo.pop()].getMath()) - out:
            out.add(x)
            if x in rules and x not in species:
                todo.append(x)
    return out


def mermaid(name: str) -> str:
    """A Mermaid flowchart of a built-in model's wiring, grouped by module."""
    doc = libsbml.readSBMLFromString(to_sbml(name))
    props = libsbml.ConversionProperties()
    props.addOption("expandFunctionDefinitions", True)
    doc.convert(props)
    m = doc.getModel()
    species = {m.getSpecies(i).getId() for i in range(m.getNumSpecies())}
    parameters = {m.getParameter(i).getId() for i in range(m.getNumParameters())}
    rules = {m.getRule(i).getVariable(): m.getRule(i) for i in range(m.getNumRules())}
    edges: dict[str, set[str]] = {}
    groups: dict[str, set[str]] = {}
    for i in range(m.getNumReactions()):
        r = m.getReaction(i)
        module = r.getId().split("_", 1)[0]
        reactants = [x.getSpecies() for x in r.getListOfReactants()]
        products = [x.getSpecies() for x in r.getListOfProducts()]
        for s in reactants + products:
            groups.setdefault(module, set()).add(s)
        for a in reactants:
            for b in products:
                edges.setdefault("-->", set()).add((a, b))
        law = r.getKineticLaw()
        used = _symbols_of(law.getMath()) if law is not None else set()
        used = _through_rules(used, rules, species)
        targets = products or reactants
        for mod in sorted(used & species - set(reactants) - set(products)):
            for b in targets:
                edges.setdefault("-.->", set()).add((mod, b))
        inputs = {p for p in used & parameters if p in rules or p.endswith(("_uM", "_expression",
                                                                             "_rate"))}  # fmt: skip
        for p in sorted(inputs - set(rules)):
            for b in targets:
                edges.setdefault("==>", set()).add((p, b))
    outputs = {}
    internal = tuple(f"{prefix}_" for prefix in MODULE_TITLES)
    for var, rule in rules.items():
        if var in species or var.startswith(internal):
            continue
        outputs[var] = sorted(_through_rules(_symbols_of(rule.getMath()), rules, species) & species)
    lines = ["flowchart LR"]
    placed: set[str] = set()
    for module in sorted(groups):
        lines.append(f'  subgraph {module}["{MODULE_TITLES.get(module, module)}"]')
        for s in sorted(groups[module] - placed):
            lines.append(f"    {s}([{s}])")
            placed.add(s)
        lines.append("  end")
    for arrow in ("-->", "-.->", "==>"):
        for a, b in sorted(edges.get(arrow, ())):
            lines.append(f"  {a} {arrow} {b}")
    for out, sources in sorted(outputs.items()):
        if sources and out.endswith(("hazard", "rate", "cargo", "speed", "activity", "opening")):
            lines.append(f"  {out}[/{out}/]")
            for s in sources:
                lines.append(f"  {s} -.- {out}")
    return "\n".join(lines)


def _files_of(path: Path) -> list[Path]:
    """The Antimony file ``path`` and every file it imports, directly or not."""
    seen = [path]
    for item in seen:
        for match in _IMPORT.findall(item.read_text()):
            dep = item.parent / match
            if dep.is_file() and dep not in seen:
                seen.append(dep)
    return seen


def parameter_rows(name: str) -> list[tuple[str, str, str, str, str]]:
    """Every parameter line of a model's file and its imports: (file, id, value, unit, source)."""
    info = _lookup(name)
    folder = Path(str(resources.files("exotwin.models") / "antimony"))
    files = sorted(_files_of(folder / info.path.name), key=lambda p: (p.name != info.path.name,
                                                                      p.name))  # fmt: skip
    rows = []
    for path in files:
        for line in path.read_text().splitlines():
            match = _PARAM_LINE.match(line)
            if match:
                rows.append((path.name, *match.groups()))
    return rows


def parameter_tables(name: str) -> str:
    """Markdown tables (one per Antimony file) of every parameter with unit and source."""
    out: list[str] = []
    current = None
    for file, pid, value, unit, source in parameter_rows(name):
        if file != current:
            if current is not None:
                out.append("")
            out += [f"### {file}", "", "| parameter | value | unit | provenance |",
                    "|---|---|---|---|"]  # fmt: skip
            current = file
        out.append(f"| `{pid}` | {value} | {unit} | {source.replace('|', '/')} |")
    if out:
        out.append("")
    return "\n".join(out)


def markdown(name: str) -> str:
    """The whole generated model page."""
    info = next(m for m in list_models() if m.name == name)
    return "\n".join([
        f"# Model `{name}`", "",
        info.description, "",
        "Generated by `exotwin models doc " + name + "` from the model itself (Antimony "
        "sources in `src/exotwin/models/antimony/`). Time is in hours; protein levels are "
        "dimensionless, normalised to the model's untreated reference cell.", "",
        "## Wiring", "",
        "Solid arrows: conversions (reactant to product). Dashed arrows: regulation (a "
        "species in a rate law that the reaction neither consumes nor produces). Thick "
        "arrows: inputs set per cell by the culture or protocol (also through assignment rules). "
        "Dotted lines: outputs (hazards, rates, exosome cargo, cell behaviour) and the species "
        "they read, directly or through assignment rules.", "",
        "```mermaid", mermaid(name), "```", "",
        "## Parameters", "",
        "Every parameter with its unit and provenance (a source, or `assumed: reason`; "
        "`assumed (tuned)` marks values chosen by a search against behaviour targets while "
        "the model was written — see the closing notes of the Xia twin issue).", "",
        parameter_tables(name),
    ])  # fmt: skip
