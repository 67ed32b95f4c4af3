"""Put the matrix tables from a test run into README.md ("What micropip-mirror fixes").

Why generated: the tables must be what a run observed, not typed by hand.  The
fault matrix (tests/browser/test_matrix.py) writes test-artifacts/fixes-table.md,
the differential matrix (test_differential.py) test-artifacts/differential-table.md;
each replaces whatever is between its pair of README markers
(``<!-- fixes-table:start -->`` ... and ``<!-- differential-table:start -->`` ...).
The test run calls it only when MM_WRITE_README=1 (CI never modifies files); by hand:

    python tests/support/fixes_table.py            # both tables that exist
    python tests/support/fixes_table.py TABLE MARKER [README]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TABLES = {  # marker -> the table a full run on the newest Pyodide writes
    "fixes-table": ROOT / "test-artifacts" / "fixes-table.md",
    "differential-table": ROOT / "test-artifacts" / "differential-table.md",
}
TABLE = TABLES["fixes-table"]


def insert(readme_text: str, table: str, marker: str = "fixes-table") -> str:
    """readme_text with the part between the ``marker`` markers replaced by ``table``."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    head, sep, rest = readme_text.partition(start)
    middle, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise ValueError(f"README has no {start} ... {end} markers")
    return f"{head}{start}\n{table.strip()}\n{end}{tail}"


def update_readme(table_path: Path = TABLE, readme_path: Path = README, marker: str = "fixes-table") -> bool:
    """Write the table into the README; True when the README changed."""
    old = readme_path.read_text()
    new = insert(old, table_path.read_text(), marker)
    if new != old:
        readme_path.write_text(new)
    return new != old


def wanted() -> bool:
    return os.environ.get("MM_WRITE_README") == "1"


if __name__ == "__main__":
    if len(sys.argv) > 1:
        table, marker, *readme = sys.argv[1:]
        jobs = [(Path(table), Path(readme[0]) if readme else README, marker)]
    else:
        jobs = [(path, README, marker) for marker, path in TABLES.items() if path.exists()]
    for table, readme, marker in jobs:
        changed = update_readme(table, readme, marker)
        print(f"{readme} ({marker}): {'updated' if changed else 'already up to date'}")
