"""Reading lab tables (CSV, TSV, XLSX, Parquet) with one-line errors naming file and field.

Column names are matched case-insensitively after folding spaces, dashes and units in
brackets away (``"Bin Centre (nm)"`` -> ``bin_centre``); readers ask for the columns they
need, with aliases, and get them under their canonical names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from exotwin.errors import ExotwinError, require_file

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def fold(name: object) -> str:
    """Canonical form of a column name: lower case, units in brackets and punctuation dropped."""
    text = re.sub(r"\(.*?\)|\[.*?\]", "", str(name)).strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def read_raw(path: str | Path, header: int | None = 0) -> pd.DataFrame:
    """Read a CSV/TSV/TXT, XLSX or Parquet file as strings-or-numbers, nothing parsed.

    Raises
    ------
    ExotwinError
        The file is missing, of an unknown type, or not readable as a table.
    """
    p = require_file(path)
    suffix = p.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES:
            return pd.read_csv(p, sep=TEXT_SUFFIXES[suffix], header=header, engine="python",
                               skip_blank_lines=True, dtype=str, keep_default_na=False,
                               encoding_errors="replace")  # fmt: skip
        if suffix in EXCEL_SUFFIXES:
            return pd.read_excel(p, header=header, dtype=str, keep_default_na=False,
                                 engine="openpyxl")  # fmt: skip
        if suffix == ".parquet":
            frame = pd.read_parquet(p)
            return frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    except ExotwinError:
        raise
    except Exception as exc:  # pandas, csv, openpyxl and pyarrow raise many kinds
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ExotwinError(f"not a readable table: {reason}", file=str(p)) from None
    raise ExotwinError(f"unknown table type {suffix!r} (use .csv, .tsv, .txt, .xlsx or "
                       ".parquet)", file=str(p))  # fmt: skip


def read_table(path: str | Path, columns: Mapping[str, Sequence[str]],
               optional: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:  # fmt: skip
    """Read a table and return the requested columns under their canonical names.

    Parameters
    ----------
    path
        The table file.
    columns
        Required canonical name -> accepted (folded) header names.
    optional
        Like ``columns``, but absent columns are simply left out.

    Raises
    ------
    ExotwinError
        The file cannot be read, a required column is missing, or the table is empty.
    """
    raw = read_raw(path)
    folded = {fold(c): c for c in raw.columns}
    out = {}
    for want, aliases in {**columns, **(optional or {})}.items():
        found = next((folded[fold(a)] for a in (want, *aliases) if fold(a) in folded), None)
        if found is None and want in columns:
            raise ExotwinError(f"missing column; found {', '.join(map(str, raw.columns))}",
                               file=str(path), field=want)  # fmt: skip
        if found is not None:
            out[want] = raw[found]
    frame = pd.DataFrame(out)
    if frame.empty:
        raise ExotwinError("table has no rows", file=str(path))
    return frame


def numeric(frame: pd.DataFrame, column: str, path: str | Path, *, positive: bool = False,
            allow_missing: bool = False) -> np.ndarray:  # fmt: skip
    """A column as floats; a non-number names the file, the column and the first bad row.

    Raises
    ------
    ExotwinError
        A value is not a finite number (or not > 0 with ``positive``); empty cells are
        NaN when ``allow_missing``.
    """
    text = frame[column].astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(float)
    missing = text.isin(["", "nan", "NaN", "NA", "N/A"]).to_numpy()
    bad = ~np.isfinite(values) & ~(missing & allow_missing)
    if positive:
        bad |= np.isfinite(values) & (values <= 0)
    if bad.any():
        row = int(np.argmax(bad))
        what = "a positive number" if positive else "a number"
        raise ExotwinError(f"row {row + 1}: {text.iloc[row]!r} is not {what}", file=str(path),
                           field=column)  # fmt: skip
    return values


def names(value: str | None) -> list[str]:
    """Split a comma-separated option into names."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]
