"""Reading lab tables (CSV, TSV, XLSX, Parquet) with one-line errors naming file and field.

Column names are matched case-insensitively after folding spaces, dashes and units in
brackets away (``"Bin Centre (nm)"`` -> ``bin_centre``); readers ask for the columns they
need, with aliases, and get them under their canonical names. Text files may start with a
byte-order mark (Excel's "CSV UTF-8") and be separated by commas, semicolons or tabs (the
separator that splits most lines into the same number of fields); in a semicolon-separated
file, as Excel writes it where the comma is the decimal mark, ``0,25`` is 0.25 (unless its
column also has a number with a decimal point: then ``1,234`` may be 1234, and is refused
as not a number). Instrument
exports may have lines before the table: its header is the first row that holds every
required column, and then the table ends at its first empty row.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
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


def delimiter(text: str) -> str:
    """The separator (``,``, ``;`` or tab) that splits most lines into one field count > 1."""
    lines = [line for line in text.splitlines()[:200] if line.strip()]
    best, score = ",", (0, 0)
    for sep in (",", ";", "\t"):
        counts = Counter(len(row) for row in csv.reader(lines, delimiter=sep))
        common = [(n, fields) for fields, n in counts.items() if fields > 1]
        if common and max(common) > score:
            best, score = sep, max(common)
    return best


DECIMAL_COMMA = re.compile(r"^([+-]?\d*),(\d+(?:[eE][+-]?\d+)?)$")
DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")


def comma_decimals(cells: pd.Series) -> pd.Series:
    """Cells of one column written with a decimal comma (``0,25``) rewritten with a point.

    A column that also holds a number written with a decimal point (``0.5``) is left as
    it is: there a comma may separate thousands (``1,234``, 1234 rather than 1.234), so
    its comma numbers are refused by :func:`numeric` rather than misread.
    """
    text = cells.astype(str)
    stripped = text.str.strip()
    if stripped.str.fullmatch(DECIMAL_POINT).any():
        return text
    return text.mask(stripped.str.fullmatch(DECIMAL_COMMA),
                     stripped.str.replace(DECIMAL_COMMA, r"\1.\2", regex=True))  # fmt: skip


def decimal_point(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column through :func:`comma_decimals`."""
    return frame.apply(comma_decimals)


def read_raw(path: str | Path, header: int | None = 0) -> pd.DataFrame:
    """Read a CSV/TSV/TXT, XLSX or Parquet file as strings-or-numbers, nothing parsed.

    See the module docstring for the separators and decimal marks of text files; with
    ``header=None`` decimal commas are left to the caller (``attrs["decimal_comma"]``).

    Raises
    ------
    ExotwinError
        The file is missing, of an unknown type, or not readable as a table.
    """
    p = require_file(path)
    suffix = p.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES:
            text = p.read_bytes().decode("utf-8-sig", errors="replace")
            sep = "\t" if suffix == ".tsv" else delimiter(text)
            if header is None:  # every row, ragged ones padded: a header is searched later
                rows = list(csv.reader(io.StringIO(text), delimiter=sep))
                width = max(map(len, rows), default=0)
                frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=str)
            else:
                frame = pd.read_csv(io.StringIO(text), sep=sep, header=header, engine="python",
                                    skip_blank_lines=True, dtype=str, keep_default_na=False)
            frame.attrs["decimal_comma"] = sep == ";"
            if header is None:  # converted under the header found (read_table)
                return frame
            return decimal_point(frame) if sep == ";" else frame
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
    raw = _with_header(read_raw(path, header=None) if Path(path).suffix.lower() != ".parquet"
                       else read_raw(path), columns)  # fmt: skip
    if raw.attrs.get("decimal_comma"):  # the table's own cells, not the lines before it
        raw = decimal_point(raw)
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


def _with_header(raw: pd.DataFrame, columns: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """The table under its header row: the first row holding every required column.

    Rows read without a header (``header=None``) are searched; a header on the first row
    keeps every row below it (empty rows skipped), a header further down (an instrument
    export with lines before its table) keeps the rows up to the first empty one.
    """
    if not isinstance(raw.columns, pd.RangeIndex):
        return raw  # Parquet: its own column names
    wanted = [{fold(a) for a in (want, *aliases)} for want, aliases in columns.items()]
    cells = raw.astype(str).map(str.strip)
    empty = (cells == "") | (cells == "nan")
    filled = ~empty.all(axis=1).to_numpy()
    rows = np.flatnonzero(filled)
    start = next((r for r in rows[:200]
                  if all(w & {fold(v) for v in cells.iloc[r]} for w in wanted)),
                 rows[0] if rows.size else 0)  # fmt: skip
    body = np.arange(start + 1, len(raw))
    if start > 0:
        gaps = np.flatnonzero(~filled[start + 1 :])
        body = body[: gaps[0]] if gaps.size else body
    body = body[filled[body]]
    header = [str(v).strip() for v in raw.iloc[start]]
    seen: Counter = Counter()
    names, keep = [], []
    for j, h in enumerate(header):  # duplicate names get .1, .2 as pandas gives them
        names.append(f"{h}.{seen[h]}" if seen[h] else h)
        seen[h] += 1
        keep.append(h not in ("", "nan") or not empty.iloc[body, j].all())
    frame = raw.iloc[body, keep].copy()
    frame.columns = [n for n, k in zip(names, keep, strict=True) if k]
    frame.attrs = dict(raw.attrs)
    return frame.reset_index(drop=True)


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
