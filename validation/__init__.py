"""Validation of the thermo core against published benchmark data.

Run ``python -m validation [CASE ...] [--quick] [--json FILE] [--precision f32|f64]``
from the repository root; it writes ``validation/report.md``, the figures in
``validation/figures/`` and ``docs/validation.md``.  Each case lives in its
own module under :mod:`validation.cases`; the reference tables are copies of
the cited files in ``validation/reference/``.
"""
