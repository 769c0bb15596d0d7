"""Analysis of readouts, virtual or measured: the same functions serve both.

Submodules read instrument files into the tidy schema of :mod:`exotwin.assays` and
compute what a paper reports from them (gates, fold changes, fits, statistics).
"""
