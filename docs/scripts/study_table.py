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
        print(f"\n{len(h)} evaluations (steady solve + adjoint each), mean {sum(x['seconds'] for x in h) / len(h):.1f} s; "
              f"optimizer: {r['message']}")
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
