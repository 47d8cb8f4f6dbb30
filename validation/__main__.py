"""``python -m validation [CASE ...] [--quick] [--json FILE] [--precision f32|f64]``.

Runs the validation cases (all by default), prints each check, writes
``validation/report.md``, ``validation/figures/*.png`` and
``docs/validation.md``, and exits with status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    import jax

    parser = argparse.ArgumentParser(prog="python -m validation", description=__doc__.split("\n\n")[1])
    parser.add_argument("cases", nargs="*", metavar="CASE", help="cases to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="coarse grids and matching tolerances (minutes)")
    parser.add_argument("--json", metavar="FILE", help="write the check records as JSON")
    parser.add_argument("--precision", choices=("f32", "f64"), default="f64", help="floating-point precision")
    args = parser.parse_args(argv)
    # The validation run owns its process: float64 is switched on here, never in the library.
    jax.config.update("jax_enable_x64", args.precision == "f64")

    import numpy as np

    from .suite import CASES, run_cases, write_outputs

    names = args.cases or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    dtype = np.float64 if args.precision == "f64" else np.float32
    results = run_cases(names, args.quick, dtype)
    arguments = " ".join((argv if argv is not None else sys.argv[1:]))
    write_outputs(results, {"precision": args.precision, "quick": args.quick, "arguments": arguments}, args.json)
    failed = [c for r in results for c in r.checks if not c.passed]
    print(f"{sum(len(r.checks) for r in results) - len(failed)} checks pass, {len(failed)} fail")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
