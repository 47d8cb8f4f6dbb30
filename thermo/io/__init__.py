"""Outputs: VTK fields and equipment (vtk), PNG plots (plots), summary.json
(summary), report.md (report), and the atomic output folder they go into
(outdir)."""
