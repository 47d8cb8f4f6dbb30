"""Print the before/after tables of docs/optimization.md from ``thermo optimize`` output folders.

``python docs/scripts/study_table.py runs/study-tiny-cooling [more folders]`` reads each
``optimize.json`` and prints the parameters before/after, the objective, the maximum rack
inlet and the cooling power before/after (design model), the verification by a fresh forward
solve, and the number and mean time of evaluations; it copies ``history.png`` and
``intakes.png`` to ``docs/img/<folder name>-*.png``.
"""

import json
import shutil
import sys
from pathlib import Path

IMG = Path(__file__).resolve().parents[1] / "img"


def main(folders):
    IMG.mkdir(exist_ok=True)
    for folder in map(Path, folders):
        r = json.loads((folder / "optimize.json").read_text())
        print(f"### {r['scenario']} ({r['settings']['objective']}, {r['settings']['method']}, "
              f"grid {' x '.join(map(str, r['grid_shape']))} = {r['cells']} cells, {r['settings']['precision']})")
        print("\n| parameter | before | after | bounds |\n|---|---|---|---|")
        for name, p in r["parameters"].items():
            print(f"| `{name}` | {p['before']:.4g} | {p['after']:.4g} | {p['bounds'][0]:g}..{p['bounds'][1]:g} |")
        b, a = r["before"], r["after"]
        print("\n| | before | after (design model) |\n|---|---|---|")
        print(f"| objective | {b['objective']:.4f} | {a['objective']:.4f} |")
        print(f"| max rack inlet (degC) | {b['max_intake_C']:.2f} | {a['max_intake_C']:.2f} |")
        print(f"| cooling power (kW) | {b['cooling_power_kW']:.3f} | {a['cooling_power_kW']:.3f} |")
        print(f"| penalty | {b['penalty']:.3g} | {a['penalty']:.3g} |")
        h = r["history"]
        how = (r.get("steady_options") or {}).get("gradient", "adjoint")
        each = "steady solve + adjoint" if how == "adjoint" else f"{len(r['parameters']) + 1} steady solves (finite differences)"
        print(f"\n{len(h)} evaluations ({each} each), mean {sum(x['seconds'] for x in h) / len(h):.1f} s; "
              f"{len(r.get('failed_evaluations') or [])} unconverged trial points; optimizer: {r['message']}")
        if "optimize_seconds" in r:
            print(f"wall time: optimization {r['optimize_seconds']:.0f} s, verification {r['verify_seconds']:.0f} s; "
                  f"steady options {json.dumps(r['steady_options'])}")
        names = [x["name"] for x in r["verification_summary"]["racks"]] if r.get("verification_summary") else []
        if names:
            verified = [x["inlet_max_C"] for x in r["verification_summary"]["racks"]]
            powers = {n.split(".")[1]: p for n, p in r["parameters"].items() if n.endswith(".power")}
            print("\n| rack | " + ("power before (kW) | power after (kW) | " if powers else "") +
                  "inlet max before (degC) | after, design model | after, fresh solve |")
            print("|---|" + ("---|---|" if powers else "") + "---|---|---|")
            for k, n in enumerate(names):
                pw = (f"{powers[n]['before'] / 1e3:.2f} | {powers[n]['after'] / 1e3:.2f} | " if n in powers else
                      ("| | " if powers else ""))
                print(f"| {n} | {pw}{b['rack_inlet_max_C'][k]:.2f} | {a['rack_inlet_max_C'][k]:.2f} | {verified[k]:.2f} |")
        if r.get("verification"):
            v = r["verification"]
            print(f"verification (fresh `thermo.hall.solve` of the written scenario): {json.dumps(v)}")
            s = r["verification_summary"]
            print("rack inlet max (degC), verified: " +
                  ", ".join(f"{x['name']} {x['inlet_max_C']:.2f}" for x in s["racks"]))
        for png in ("history.png", "intakes.png"):
            if (folder / png).is_file():
                shutil.copy(folder / png, IMG / f"{folder.name}-{png}")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
