"""Virtual assays: simulated states -> what the instrument reports, in the tidy schema.

Every assay returns rows of :data:`TIDY_COLUMNS` (long format, one measured value per
row), the same schema that real lab files are parsed into by :mod:`exotwin.analysis`.
Measurement noise is drawn from counter-based streams keyed by the run seed and the
sample, so a readout never depends on the order in which samples are measured.
"""

from exotwin.assays.schema import TIDY_COLUMNS, tidy

__all__ = ["TIDY_COLUMNS", "tidy"]
