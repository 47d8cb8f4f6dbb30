"""Outputs of a run, one concept per module.

* :mod:`thermo.io.vtk`: fields (.vtr), equipment (.vtm), time series (.pvd) for ParaView;
* :mod:`thermo.io.plots`: PNG plots with matplotlib (Agg, no display);
* :mod:`thermo.io.summary`: ``summary.json`` (strict JSON, run status, schema check);
* :mod:`thermo.io.report`: ``report.md``;
* :mod:`thermo.io.outdir`: the output folder that appears whole or not at all;
* :mod:`thermo.io.results`: everything above for one run, written into that folder.

File layout, arrays, units and the summary schema: ``docs/outputs.md``.
"""
