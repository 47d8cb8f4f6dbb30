"""The validation cases, one module each.

Every module defines ``NAME``, ``TITLE`` and ``run(quick, dtype) -> CaseResult``;
:mod:`validation.suite` lists them in report order.
"""
