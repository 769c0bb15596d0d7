"""The tidy readout schema shared by virtual assays and real-data readers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

TIDY_COLUMNS = ("assay", "sample", "group", "replicate", "time_h", "readout", "value", "unit")


def tidy(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Build a tidy readout table; every row must carry every column of the schema."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=list(TIDY_COLUMNS))
    missing = [c for c in TIDY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"tidy readout rows lack columns {missing}")
    extra = [c for c in frame.columns if c not in TIDY_COLUMNS]
    return frame[list(TIDY_COLUMNS) + extra]
