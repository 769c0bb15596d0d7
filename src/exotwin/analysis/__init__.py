"""Analysis of readouts, virtual or measured: the same functions serve both.

Submodules read instrument files into the tidy schema of :mod:`exotwin.assays` and
compute what a paper reports from them: :mod:`~exotwin.analysis.cck8` (viability, 4PL
IC50), :mod:`~exotwin.analysis.flow` (compensation, quadrant gates),
:mod:`~exotwin.analysis.qpcr` (ΔΔCt, Pfaffl), :mod:`~exotwin.analysis.nta` (size
statistics), :mod:`~exotwin.analysis.western` (densitometry, band images),
:mod:`~exotwin.analysis.expression` (tumour vs normal, correlation) and the shared
:mod:`~exotwin.analysis.stats`. Each assay module's ``analyze`` is the function behind
``exotwin analyze ASSAY``; :mod:`~exotwin.analysis.report` writes an output directory and
:mod:`~exotwin.analysis.figures` draws its panels.
"""
