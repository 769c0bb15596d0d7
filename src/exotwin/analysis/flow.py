"""Flow cytometry files: read FCS 2.0/3.0/3.1, compensate, gate quadrants.

Quadrants are named by the sign of the two channels against their thresholds:
``x-y-``, ``x+y-``, ``x-y+``, ``x+y+`` (for Annexin V-PE on x and 7-AAD on y: living,
early apoptotic, necrotic/debris, late apoptotic and pyroptotic).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import flowio
import numpy as np
import pandas as pd

from exotwin.errors import ExotwinError

QUADRANTS = ("x-y-", "x+y-", "x-y+", "x+y+")


@dataclass
class FcsData:
    """Events of one FCS file: ``events`` (n_events, n_channels), channel names, keywords."""

    path: str
    events: np.ndarray
    channels: list[str]
    keywords: dict[str, str]

    def column(self, name: str) -> np.ndarray:
        """Events of one channel, by its $PnN name."""
        if name not in self.channels:
            raise ExotwinError(
                f"no channel {name!r}; channels are {', '.join(self.channels)}",
                file=self.path,
            )
        return self.events[:, self.channels.index(name)]


def read_fcs(path: str | Path) -> FcsData:
    """Read an FCS file; a corrupt or truncated file is a one-line ExotwinError."""
    path = str(path)
    if not Path(path).is_file():
        raise ExotwinError("file not found", file=path)
    try:
        fd = flowio.FlowData(path)
        data = np.asarray(fd.as_array(preprocess=False), dtype=float)
    except Exception as exc:  # flowio raises many kinds on damaged files
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ExotwinError(f"not a readable FCS file: {reason}", file=path) from None
    channels = [fd.channels[k]["pnn"] for k in sorted(fd.channels, key=int)]
    if data.ndim != 2 or data.shape[1] != len(channels):
        raise ExotwinError("event data do not match the channel count", file=path)
    return FcsData(path, data, channels, {k: str(v) for k, v in fd.text.items()})


def spillover(fcs: FcsData) -> tuple[list[str], np.ndarray] | None:
    """The file's spillover matrix ($SPILLOVER / SPILL / SPILLOVER keyword), if any."""
    for key in ("spill", "$spillover", "spillover"):
        if key in fcs.keywords:
            parts = [s.strip() for s in fcs.keywords[key].split(",")]
            try:
                n = int(parts[0])
                names = parts[1 : n + 1]
                values = np.array([float(v) for v in parts[n + 1 : n + 1 + n * n]])
                return names, values.reshape(n, n)
            except (ValueError, IndexError):
                raise ExotwinError(f"malformed spillover keyword {key!r}", file=fcs.path) from None
    return None


def compensate(fcs: FcsData) -> FcsData:
    """Apply the file's spillover matrix (events of those channels times its inverse)."""
    spill = spillover(fcs)
    if spill is None:
        return fcs
    names, matrix = spill
    idx = [fcs.channels.index(n) for n in names if n in fcs.channels]
    if len(idx) != len(names):
        raise ExotwinError("spillover names channels the file lacks", file=fcs.path)
    events = fcs.events.copy()
    events[:, idx] = fcs.events[:, idx] @ np.linalg.inv(matrix)
    return FcsData(fcs.path, events, fcs.channels, fcs.keywords)


def quadrants(fcs: FcsData, x: str, y: str, x_threshold: float, y_threshold: float) -> pd.DataFrame:
    """Event counts and percentages per quadrant (columns file, quadrant, events, percent)."""
    xv, yv = fcs.column(x), fcs.column(y)
    xp, yp = xv > x_threshold, yv > y_threshold
    counts = [
        int(np.sum(~xp & ~yp)), int(np.sum(xp & ~yp)),
        int(np.sum(~xp & yp)), int(np.sum(xp & yp)),
    ]  # fmt: skip
    total = max(sum(counts), 1)
    return pd.DataFrame({
        "file": Path(fcs.path).name, "quadrant": list(QUADRANTS), "events": counts,
        "percent": [100.0 * c / total for c in counts],
    })  # fmt: skip
