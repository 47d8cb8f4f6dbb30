"""Reading the cited reference tables shipped in ``validation/reference/``.

The files are verbatim copies of the project's reference data: ``#`` lines
carry the citation and the notes on each column, then a CSV table follows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "reference"


@dataclass(frozen=True)
class Table:
    """A reference table: its columns by name (floats) and its comment header."""

    name: str
    columns: dict
    header: list

    def citation(self) -> str:
        """The first citation paragraph of the header (the '# Citation:' line and its continuations)."""
        lines = []
        for line in self.header:
            if line.startswith("Citation:"):
                lines.append(line[len("Citation:"):].strip())
            elif lines and line.startswith("  "):
                lines.append(line.strip())
            elif lines:
                break
        return " ".join(lines)

    def row(self, column: str, value: float) -> dict:
        """The row whose ``column`` equals ``value`` (to 1e-9 relative)."""
        for i, v in enumerate(self.columns[column]):
            if abs(v - value) <= 1e-9 * max(1.0, abs(value)):
                return {k: c[i] for k, c in self.columns.items()}
        raise KeyError(f"{self.name}: no row with {column} = {value}")


def load(name: str) -> Table:
    """Read ``validation/reference/<name>``."""
    path = DIRECTORY / name
    header, body = [], []
    with open(path, newline="") as f:
        for line in f:
            if line.startswith("#"):
                header.append(line[1:].rstrip("\n").removeprefix(" "))
            elif line.strip():
                body.append(line)
    reader = csv.reader(body)
    names = next(reader)
    rows = [[float(x) for x in r] for r in reader]
    columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    return Table(name=name, columns=columns, header=header)
