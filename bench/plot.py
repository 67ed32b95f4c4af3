"""Charts of a bench/run.py result file: bars for the one-size scenarios (S1..S6,
NM) and curves for the scaling ones (install time against the size, a/b/c as
three lines), one column per Pyodide release, side by side.

    python bench/plot.py bench/results/latest.json bench/results/latest.png
    # writes latest.png (bars) and, when the run has curves, latest-curves.png

Separate from run.py so matplotlib lives in its own venv (bench/requirements.txt).
"""

import json
import sys
import textwrap
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"a": "#c44e52", "b": "#4c72b0", "c": "#55a868"}
EXTRA = ["#8172b2", "#ccb974", "#64b5cd", "#8c8c8c"]
CURVES = {"K-blackhole": "k blackholed mirrors in front", "K-refused": "k refusing mirrors in front",
          "K-slow": "k slow (2 s) mirrors in front", "W": "n packages, healthy mirror",
          "W-bh": "n packages, one blackholed mirror first", "P-json": "page of n files, PEP 691 JSON, 1 MB/s",
          "P-html": "page of n files, PEP 503 HTML, 1 MB/s"}


def color(k: str, j: int) -> str:
    return COLORS.get(k) or EXTRA[j % len(EXTRA)]


def bars(results: dict, dest: str) -> None:
    versions = results["versions"]
    keys = [k for k, (curve, _, _) in results["curves"].items() if curve is None]
    if not keys:
        return
    fig, axes = plt.subplots(1, len(versions), figsize=(max(8, 1.6 * len(keys)) * len(versions), 4.8),
                             squeeze=False)
    cap = results["cap"]
    for ax, (version, v) in zip(axes[0], versions.items()):
        summary = v["summary"]
        contenders = [k for k in results["contenders"] if any(k in summary.get(s, {}) for s in keys)]
        width = 0.8 / len(contenders)
        cells = [c for s in keys for c in summary.get(s, {}).values() if "min" in c]
        floor = min((c["min"] for c in cells), default=1000) / 2000
        for j, k in enumerate(contenders):
            xs, ys, lo, hi = [], [], [], []
            for i, s in enumerate(keys):
                cell = summary.get(s, {}).get(k)
                if not cell:
                    continue
                x = i + (j - (len(contenders) - 1) / 2) * width
                if "median" in cell:
                    med = cell["median"] / 1000
                    xs.append(x), ys.append(med)
                    lo.append(med - cell["min"] / 1000), hi.append(cell["max"] / 1000 - med)
                elif cell["hangs"]:
                    top = cell.get("cap", cap)
                    ax.bar([x], [top], width, color=color(k, j), alpha=0.3, hatch="//")
                    ax.text(x, top * 1.05, f"hangs\n>{top:g} s", ha="center", va="bottom", fontsize=7)
                else:
                    ax.text(x, floor * 1.1, "fails", ha="center", va="bottom", fontsize=7, rotation=90)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, color=color(k, j),
                   label=f"{k}: {results['contenders'].get(k, k)}")
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([f"{s}\n" + "\n".join(textwrap.wrap(results["scenarios"][s], 22)) for s in keys],
                           fontsize=7)
        ax.set_ylabel("install time, s (median, min..max)")
        ax.set_yscale("log")
        ax.set_ylim(floor, cap * 2.5)
        ax.set_title(f"Pyodide {version}: {results['runs']} runs, {results['date']}", fontsize=9)
        ax.legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    fig.savefig(dest, dpi=100)


def curve_points(results: dict, summary: dict, curve: str, k: str) -> list[tuple]:
    """(x, cell) of contender k along one curve; k = 0 (nothing in front) is shared by the K curves,
    and there plain micropip (a) is the oracle (c) itself."""
    points = [(x, summary.get(key, {}).get(k)) for key, (c, x, _) in results["curves"].items() if c == curve]
    if curve.startswith("K-") and "K-0" in summary:
        points.insert(0, (0, summary["K-0"].get("c" if k == "a" else k)))
    return [(x, cell) for x, cell in points if cell]


def curves(results: dict, dest: str) -> None:
    versions = results["versions"]
    plain = matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}")
    present = [c for c in CURVES if any(v == c for v, _, _ in results["curves"].values())]
    if not present:
        return
    fig, axes = plt.subplots(len(present), len(versions), figsize=(6 * len(versions), 3.1 * len(present)),
                             squeeze=False)
    for col, (version, v) in enumerate(versions.items()):
        for row, curve in enumerate(present):
            ax = axes[row][col]
            for j, k in enumerate(results["contenders"]):
                pts = curve_points(results, v["summary"], curve, k)
                ok = [(x, c) for x, c in pts if "median" in c]
                if ok:
                    xs = [x for x, _ in ok]
                    ys = [c["median"] / 1000 for _, c in ok]
                    err = [[y - c["min"] / 1000 for y, (_, c) in zip(ys, ok)],
                           [c["max"] / 1000 - y for y, (_, c) in zip(ys, ok)]]
                    ax.errorbar(xs, ys, yerr=err, marker="o", ms=4, capsize=3, color=color(k, j),
                                label=f"{k}: {results['contenders'][k].split(',')[0]}")
                for x, c in pts:
                    if "median" not in c and c["hangs"]:
                        ax.scatter([x], [c.get("cap", results["cap"])], marker="^", color=color(k, j), s=40)
                        ax.annotate("hangs", (x, c.get("cap", results["cap"])), fontsize=6,
                                    textcoords="offset points", xytext=(3, 3))
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
            if not curve.startswith("K"):
                ax.set_xscale("log")
            sizes = sorted({x for key, (c, x, _) in results["curves"].items() if c == curve}
                           | ({0} if curve.startswith("K") else set()))
            ax.set_xticks(sizes, [f"{x:,}" for x in sizes])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set_xlabel({"K": "k mirrors in front", "W": "packages", "P": "files on the page"}[curve[0]], fontsize=8)
            ax.set_ylabel("install time, s", fontsize=8)
            ax.set_title(f"Pyodide {version}: {CURVES[curve]}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6)
    fig.suptitle(f"median of {results['runs']} runs (bars: min..max), {results['date']}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(dest, dpi=90)


def main(src: str, dest: str) -> None:
    results = json.load(open(src))
    bars(results, dest)
    curves(results, str(Path(dest).with_name(Path(dest).stem + "-curves.png")))


if __name__ == "__main__":
    main(*sys.argv[1:3])
