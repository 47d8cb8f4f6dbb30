"""Canonical test problems (cavities, Taylor-Green, conservation box) built from the core API.

Used by the validation suite, the tests and ``thermo bench``.
"""
