"""Output directory of one analysis: tables (CSV + Parquet), figures (PNG + SVG), summary.html.

Everything is rendered in memory first; :meth:`Bundle.commit` writes it into a fresh
sibling directory and renames that onto the target (or, when the target exists, replaces
its files one by one, each atomically). An error before the commit leaves nothing behind.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from exotwin.atomic import atomic_write_files


@dataclass
class Bundle:
    """Files of one analysis, held in memory until :meth:`commit`.

    Attributes
    ----------
    title
        Heading of the HTML summary.
    files
        Relative file name -> content.
    sections
        HTML fragments of the summary, in order.
    """

    title: str
    files: dict[str, bytes] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)

    def table(self, name: str, frame: pd.DataFrame, show: bool = True) -> None:
        """Add ``name.csv`` and ``name.parquet`` (and the table to the summary if ``show``)."""
        self.files[f"{name}.csv"] = frame.to_csv(index=False).encode()
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.files[f"{name}.parquet"] = buffer.getvalue()
        if show:
            shown = frame.head(40).to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                           border=0, na_rep="")  # fmt: skip
            more = f"<p>{len(frame) - 40} more rows in {name}.csv</p>" if len(frame) > 40 else ""
            self.sections.append(f"<h2>{html.escape(name)}</h2>{shown}{more}")

    def figure(self, name: str, fig) -> None:
        """Add a matplotlib figure as ``name.png`` and ``name.svg`` (``name_2`` ... if taken)."""
        base, k = name, 1
        while f"{name}.png" in self.files:
            k += 1
            name = f"{base}_{k}"
        for fmt in ("png", "svg"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight",
                        metadata={"Date": None} if fmt == "svg" else None)  # fmt: skip
            self.files[f"{name}.{fmt}"] = buffer.getvalue()
        self.sections.append(f'<figure><img src="{html.escape(name)}.png" alt="{name}" '
                             f'style="max-width:48em"><figcaption>{html.escape(name)} '
                             f'(<a href="{html.escape(name)}.svg">SVG</a>)</figcaption></figure>')

    def note(self, text: str) -> None:
        """Add a paragraph to the summary."""
        self.sections.append(f"<p>{html.escape(text)}</p>")

    def html(self) -> str:
        """The summary page."""
        style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
                 "table{border-collapse:collapse;font-size:90%}"
                 "td,th{padding:2px 8px;border-bottom:1px solid #ddd}")  # fmt: skip
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
                f"{html.escape(self.title)}</title><style>{style}</style></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{''.join(self.sections)}</body></html>\n")

    def commit(self, out: str | Path) -> Path:
        """Write every file and ``summary.html`` into ``out``.

        Raises
        ------
        ExotwinError
            ``out`` is a file, or it cannot be written.
        """
        files = {**self.files, "summary.html": self.html().encode()}
        # a rerun of the same analysis replaces its earlier files (figures of inputs
        # no longer given included); other files in ``out`` stay
        return atomic_write_files(out, files, owner=f"analyze:{self.title}")


def safe_name(text: str) -> str:
    """A file-name-safe form of a label (letters, digits, ``-``, ``_`` and ``.``)."""
    return re.sub(r"[^0-9A-Za-z._-]+", "_", str(text)).strip("_") or "x"
