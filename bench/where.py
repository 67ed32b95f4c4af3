"""Where micropip-mirror's time goes, from the report() records bench/run.py keeps.

    python bench/where.py bench/results/latest-records.json [--markdown]

Per scenario (median run of b): the span from the first request's start to the
last answer, when the first index page was served, attempts by outcome and the
time they held, the median served index page, .metadata and wheel, and the
~1 MiB mm-big wheel (1 MiB at 2 MB/s plus 30 ms is 0.55 s on the wire).
Requests overlap, so the sums are work done, not wall time; the span is wall time.
"""

from __future__ import annotations

import json
import statistics
import sys

OUTCOMES = ("ok", "failed", "cancelled", "stale", "cached")


def one_run(records: list) -> dict:
    """records: [kind, target, served_by, start_ms, ms, [[mirror, outcome, start_ms, ms, reason], ...]]"""
    t0 = min(r[3] for r in records)
    attempts = [(r, a) for r in records for a in r[5]]
    served_index = [a[2] + a[3] for r, a in attempts if r[0] == "index" and a[1] == "ok"]
    ok = lambda test: [a[3] for r, a in attempts if a[1] == "ok" and test(r)]  # noqa: E731
    big = ok(lambda r: r[1].startswith("mm_big") and r[1].endswith(".whl"))
    return {
        "span": max(r[3] + r[4] for r in records) - t0,
        "first_index": (min(served_index) - t0) if served_index else None,
        "count": {o: sum(a[1] == o for _, a in attempts) for o in OUTCOMES},
        "held": {o: sum(a[3] for _, a in attempts if a[1] == o) for o in ("failed", "cancelled", "stale")},
        "index": ok(lambda r: r[0] == "index"),
        "metadata": ok(lambda r: r[1].endswith(".metadata")),
        "wheel": ok(lambda r: r[1].endswith(".whl")),
        "big": big[0] if big else None,
    }


def med(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values)) if values else "-"


def summary(runs: dict[str, list]) -> list[dict]:
    by_cell: dict[str, list[dict]] = {}
    for key, records in runs.items():
        if records:
            by_cell.setdefault(key.rsplit(" run ", 1)[0], []).append(one_run(records))
    rows = []
    for cell, stats in by_cell.items():
        stats.sort(key=lambda s: s["span"])
        mid = stats[len(stats) // 2]
        rows.append({"cell": cell, "span": med(s["span"] for s in stats),
                     "first_index": med(s["first_index"] for s in stats),
                     "attempts": " ".join(f"{o} {n}" for o, n in mid["count"].items() if n),
                     "held": " ".join(f"{o} {round(ms)}" for o, ms in mid["held"].items() if ms),
                     "index": med(mid["index"]), "metadata": med(mid["metadata"]),
                     "wheel": med(mid["wheel"]), "big": med([mid["big"]])})
    return rows


COLUMNS = {"cell": "scenario, contender", "span": "span ms", "first_index": "1st index served at ms",
           "attempts": "attempts (median run)", "held": "ms held by unsuccessful attempts",
           "index": "median index ms", "metadata": "median .metadata ms", "wheel": "median wheel ms",
           "big": "mm-big wheel ms"}


def main(path: str, as_markdown: bool = False) -> None:
    data = json.load(open(path))
    for version, runs in data.items():
        rows = summary(runs)
        print(f"\nPyodide {version}\n")
        if as_markdown:
            print("| " + " | ".join(COLUMNS.values()) + " |\n|" + "---|" * len(COLUMNS))
            for row in rows:
                print("| " + " | ".join(str(row[k]) for k in COLUMNS) + " |")
        else:
            for row in rows:
                print("  ".join(f"{COLUMNS[k].split(' ')[0]}={row[k]}" for k in COLUMNS))


if __name__ == "__main__":
    main(sys.argv[1], "--markdown" in sys.argv[2:])
