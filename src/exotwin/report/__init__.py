"""The self-contained HTML report of a replicate run: one panel per protocol.

Everything is inline (CSS, SVG charts, PNG photographs as data URIs), so the file opens
offline. Each panel shows the simulated readout as bars (mean +- SD, replicate points)
per group, the published finding, the simulated numbers, the verdict and the assumptions
the protocol made. A CAM protocol also gets a figure like a paper's CAM figure
(:func:`cam_figure`).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from exotwin.atomic import group_stem

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ccc;padding:.3em .5em}
.pass{color:#1a7f37;font-weight:bold} .fail{color:#c62828;font-weight:bold}
.not_tested{color:#777} .panel{display:flex;gap:2em;align-items:flex-start}
.small{font-size:.85em;color:#555} .note{background:#fff4e5;padding:.5em}
.figure{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-end} figure{margin:0}
figcaption{font-size:.85em;text-align:center}
"""
# CAM readouts drawn as bars in the CAM figure (ring crossings are reported, not judged)
CAM_BARS = ("vessel area % (around graft)", "branch points (around graft)",
            "intra-graft microvessel density")  # fmt: skip


def bar_chart(readouts: pd.DataFrame, readout: str, time_h: float, groups: list[str]) -> str:
    """Inline SVG: mean +- SD bars with replicate points, in the style of a paper panel."""
    sel = readouts[(readouts["readout"] == readout) & np.isclose(readouts["time_h"], time_h)]
    values = [sel.loc[sel["group"] == g, "value"].to_numpy(float) for g in groups]
    top = max([float((v.mean() + v.std(ddof=1)) if v.size > 1 else v.max()) for v in values
               if v.size] + [1e-12]) * 1.15  # fmt: skip
    w, h, left, bottom = 90 * len(groups) + 70, 240, 55, 50
    plot_h = h - bottom - 15
    base = h - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">',
           f'<line x1="{left}" y1="15" x2="{left}" y2="{base}" stroke="#000"/>',
           f'<line x1="{left}" y1="{base}" x2="{w - 10}" y2="{base}" stroke="#000"/>']
    for frac in (0.0, 0.5, 1.0):  # axis ticks at 0, half and the top of the axis
        y = h - bottom - frac * plot_h
        out.append(f'<text x="{left - 5}" y="{y + 4}" font-size="10" text-anchor="end">'
                   f"{top * frac:.3g}</text>")  # fmt: skip
    for i, (g, v) in enumerate(zip(groups, values, strict=True)):
        x = left + 25 + i * 90
        if v.size:
            m, sd = float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
            y = h - bottom - m / top * plot_h
            out.append(f'<rect x="{x}" y="{y:.1f}" width="50" height="{h - bottom - y:.1f}" '
                       f'fill="{"#888" if i else "#ddd"}" stroke="#000"/>')  # fmt: skip
            y1, y2 = h - bottom - (m + sd) / top * plot_h, h - bottom - (m - sd) / top * plot_h
            out.append(f'<line x1="{x + 25}" y1="{y1:.1f}" x2="{x + 25}" y2="{y2:.1f}" '
                       'stroke="#000"/>')  # fmt: skip
            # replicate points 10 px apart; many samples (a cohort) spread over the bar
            gap = 10.0 if v.size <= 4 else 40.0 / (v.size - 1)
            for j, val in enumerate(v):
                yy = h - bottom - val / top * plot_h
                cx = x + (15 if v.size <= 4 else 5) + gap * j
                out.append(f'<circle cx="{cx:.1f}" cy="{yy:.1f}" r="{2.5 if v.size <= 20 else 1}" '
                           'fill="#000"/>')  # fmt: skip
        out.append(f'<text x="{x + 25}" y="{h - bottom + 15}" font-size="10" '
                   f'text-anchor="middle">{html.escape(g)}</text>')  # fmt: skip
    label = f"{html.escape(readout)} ({time_h:g} h)"
    out.append(f'<text x="12" y="{h / 2}" font-size="11" transform="rotate(-90 12 {h / 2})" '
               f'text-anchor="middle">{label}</text></svg>')
    return "".join(out)


def render(title: str, seed: int, results: list, verdicts: list[dict], claim_text: dict,
           notes: list[str] | None = None) -> str:  # fmt: skip
    """The report page: summary table of every claim, then one panel per protocol.

    ``notes`` are sentences shown under the title (e.g. that a paper's figures were not
    available and its designs are assumed).
    """
    esc = html.escape
    counts = {k: sum(v["verdict"] == k for v in verdicts) for k in ("pass", "fail", "not_tested")}
    def row(v: dict) -> str:
        cells = [
            esc(v["id"]),
            f'<span class="{v["verdict"]}">{v["verdict"]}</span>',
            esc(str(v.get("expected") or "")),
            esc(str(v.get("observed") or "")),
            "" if v.get("p_value") is None else format(v["p_value"], ".3g"),
            esc(str(v.get("protocol") or v.get("reason") or "")),
        ]
        return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    rows = "".join(row(v) for v in verdicts)
    panels = []
    for r in results:
        p = r.protocol
        body = []
        for comp in r.comparisons:
            chart = "" if comp.get("readout") is None else bar_chart(
                r.readouts, comp["readout"], comp["time_h"], comp["groups"])  # fmt: skip
            finding = esc(claim_text.get(comp["id"], ""))
            p_text = "n/a" if comp["p_value"] is None else f"{comp['p_value']:.3g}"
            body.append(
                f'<div class="panel">{chart}<div><p><b>{esc(comp["id"])}</b>: '
                f'<span class="{comp["verdict"]}">{comp["verdict"]}</span></p>'
                f"<p>Published: {finding}</p><p>Expected: {esc(str(comp['expected']))}<br>"
                f"Simulated: {esc(str(comp['observed']))}; {esc(comp.get('test', ''))}, "
                f"P = {p_text}</p></div></div>"
            )
        assumptions = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in p.assumptions.items())
        figure = cam_figure(r) if getattr(p, "kind", None) == "cam" else ""
        if getattr(p, "kind", None) == "xenograft":
            body.append(xenograft_media(r))
        panels.append(
            f"<h2>{esc(p.figure or p.id)}: {esc(p.title)}</h2>{figure}{''.join(body)}"
            f'<p class="small">{esc(p.describe(seed))}</p><ul class="small">{assumptions}</ul>'
        )
    provenance = _provenance({getattr(r.protocol, "model", "tumour_cell") for r in results})
    return (
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>"
        f"<p>Seed {seed}. {counts['pass']} pass, {counts['fail']} fail, "
        f"{counts['not_tested']} not tested.</p>"
        + "".join(f'<p class="note">{esc(n)}</p>' for n in notes or []) +
        f"<table><tr><th>claim</th><th>verdict</th><th>expected</th><th>observed</th>"
        f"<th>P</th><th>protocol / reason</th></tr>{rows}</table>"
        f"{disagreement_section(verdicts)}{''.join(panels)}"
        f"{provenance}</body></html>"
    )


def disagreement_section(verdicts: list[dict]) -> str:
    """Failing claims grouped by their known disagreement (:func:`exotwin.claims.explain`)."""
    esc = html.escape
    groups: dict[str, tuple[dict, list[str]]] = {}
    for v in verdicts:
        d = v.get("disagreement")
        if d:
            groups.setdefault(d["id"], (d, []))[1].append(v["id"])
    if not groups:
        return ""
    items = "".join(f"<li><b>{esc(', '.join(ids))}</b><p>Why: {esc(d['mechanism'])}</p>"
                    f"<p>What would decide it: {esc(d['decide'])}</p></li>"
                    for d, ids in groups.values())  # fmt: skip
    return ("<h2>Where the twin and the paper disagree</h2><p class=\"small\">Failing claims "
            "with a known mechanistic reason (exotwin/claims/disagreements.yaml). The text "
            "explains the simulated result; it never changes a verdict.</p>"
            f"<ul>{items}</ul>")


def cam_figure(result) -> str:
    """A CAM figure: each group's representative photograph, then bars of the readouts.

    The photographs are the PNG files the CAM run wrote (``<id>_<group>_egg<n>.png``, one
    per group: the egg at the group median of the protocol's primary readout), embedded
    as data URIs; groups without a file (a run without an output directory) are skipped.
    The bars (mean +- SD, one point per egg) are those of :data:`CAM_BARS` measured.
    """
    from exotwin.protocols import units

    esc = html.escape
    p = result.protocol
    groups = [g.label for g in p.groups]
    photos = []
    for gi, g in enumerate(groups):
        prefix = f"{p.id}_{group_stem(gi, g)}_egg"
        path = next((Path(f) for f in result.files if Path(f).suffix == ".png"
                     and Path(f).stem.startswith(prefix)
                     and Path(f).stem[len(prefix):].isdigit()), None)  # fmt: skip
        if path is None or not path.is_file():
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        egg = path.stem[len(prefix):]
        photos.append(f'<figure><img src="data:image/png;base64,{data}" width="300" '
                      f'alt="{esc(g)} egg {egg}"><figcaption>{esc(g)}, egg {egg}'
                      "</figcaption></figure>")  # fmt: skip
    harvest = units.time_h(p.duration)
    bars = [bar_chart(result.readouts, r, harvest, groups) for r in CAM_BARS
            if r in p.measured()]  # fmt: skip
    rule = (f"Representative egg of each group: the egg at the group median of "
            f"{p.primary_readout()} (of two middle eggs, the lower; chosen by this rule, "
            f"not by eye). Bars: mean +- SD, one point per egg ({p.eggs} per group).")
    return (f'<div class="figure">{"".join(photos)}</div><div class="figure">{"".join(bars)}'
            f'</div><p class="small">{esc(rule)}</p>')


def xenograft_media(result) -> str:
    """A xenograft run's weights (bars, every group) and figures (inline data URIs).

    No wall-clock timing (it lives in ``<id>_timing.json``): one seed, one page.
    """
    import base64
    from pathlib import Path

    ro = result.readouts
    sel = ro[ro["readout"] == "tumour weight (g)"]
    groups = list(dict.fromkeys(sel["group"]))
    parts = [bar_chart(ro, "tumour weight (g)", float(sel["time_h"].max()), groups)
             if len(sel) else ""]  # fmt: skip
    for f in map(Path, result.files):
        if f.suffix in (".png", ".gif") and f.is_file():
            data = base64.b64encode(f.read_bytes()).decode("ascii")
            mime = "image/gif" if f.suffix == ".gif" else "image/png"
            parts.append(f'<figure><img src="data:{mime};base64,{data}" style="max-width:100%" '
                         f'alt="{html.escape(f.stem)}"><figcaption class="small">'
                         f"{html.escape(f.stem)}</figcaption></figure>")  # fmt: skip
    return "".join(parts)


def _provenance(models: set[str]) -> str:
    """Collapsible tables of every model parameter: value, unit and provenance."""
    from exotwin.models.document import parameter_rows

    esc = html.escape
    parts = []
    for name in sorted(models):
        rows = "".join(
            f"<tr><td>{esc(f)}</td><td><code>{esc(pid)}</code></td><td>{esc(v)}</td>"
            f"<td>{esc(u)}</td><td>{esc(src)}</td></tr>"
            for f, pid, v, u, src in parameter_rows(name)
        )
        parts.append(
            f"<details><summary>Model <code>{esc(name)}</code>: every parameter with its unit "
            f"and provenance</summary><table><tr><th>file</th><th>parameter</th><th>value</th>"
            f"<th>unit</th><th>provenance</th></tr>{rows}</table></details>"
        )
    return "<h2>Parameter provenance</h2>" + "".join(parts)
