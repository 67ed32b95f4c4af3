"""Put the fault-matrix table from a test run into README.md ("What micropip-mirror fixes").

Why generated: the table must be what a run observed, not typed by hand.  The
matrix (tests/browser/test_matrix.py) writes test-artifacts/fixes-table.md;
this replaces whatever is between the README's markers with it.  The test run
calls it only when MM_WRITE_README=1 (CI never modifies files); by hand:

    python tests/support/fixes_table.py [TABLE] [README]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TABLE = ROOT / "test-artifacts" / "fixes-table.md"
START, END = "<!-- fixes-table:start -->", "<!-- fixes-table:end -->"


def insert(readme_text: str, table: str) -> str:
    """readme_text with the part between the markers replaced by ``table``."""
    head, sep, rest = readme_text.partition(START)
    middle, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"README has no {START} ... {END} markers")
    return f"{head}{START}\n{table.strip()}\n{END}{tail}"


def update_readme(table_path: Path = TABLE, readme_path: Path = README) -> bool:
    """Write the table into the README; True when the README changed."""
    old = readme_path.read_text()
    new = insert(old, table_path.read_text())
    if new != old:
        readme_path.write_text(new)
    return new != old


def wanted() -> bool:
    return os.environ.get("MM_WRITE_README") == "1"


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    changed = update_readme(*args)
    print(f"{(args[1] if len(args) > 1 else README)}: {'updated' if changed else 'already up to date'}")
