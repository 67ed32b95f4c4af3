"""Bar chart of bench/results/latest.json: per scenario, one bar per contender
(median install time), error bars from min to max; hung cells drawn hatched at
the cap, failed ones marked "fails".

    python bench/plot.py bench/results/latest.json bench/results/latest.png

Separate from run.py so matplotlib lives in its own venv (bench/requirements.txt).
"""

import json
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"a": "#c44e52", "b": "#4c72b0", "c": "#55a868"}
EXTRA = ["#8172b2", "#ccb974", "#64b5cd", "#8c8c8c"]


def main(src: str, dest: str) -> None:
    results = json.load(open(src))
    versions = results["versions"]
    fig, axes = plt.subplots(len(versions), 1, figsize=(12, 4.6 * len(versions)), squeeze=False)
    cap = results["cap"]
    for ax, (version, v) in zip(axes[:, 0], versions.items()):
        summary = v["summary"]
        scenarios = list(summary)
        contenders = [k for k in results["contenders"] if any(k in row for row in summary.values())]
        width = 0.8 / len(contenders)
        floor = min((c["min"] for row in summary.values() for c in row.values() if "min" in c), default=1000) / 2000
        for j, k in enumerate(contenders):
            color = COLORS.get(k) or EXTRA[(j - 3) % len(EXTRA)]
            xs, ys, lo, hi = [], [], [], []
            for i, s in enumerate(scenarios):
                cell = summary[s].get(k)
                if not cell:
                    continue
                x = i + (j - (len(contenders) - 1) / 2) * width
                if "median" in cell:
                    med = cell["median"] / 1000
                    xs.append(x), ys.append(med)
                    lo.append(med - cell["min"] / 1000), hi.append(cell["max"] / 1000 - med)
                elif cell["hangs"]:
                    ax.bar([x], [cap], width, color=color, alpha=0.3, hatch="//")
                    ax.text(x, cap * 1.05, f"hangs\n>{cap:g} s", ha="center", va="bottom", fontsize=7)
                else:
                    ax.text(x, floor * 1.1, "fails", ha="center", va="bottom", fontsize=7, rotation=90)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, color=color,
                   label=f"{k}: {results['contenders'].get(k, k)}")
        ax.set_xticks(range(len(scenarios)))
        ax.set_xticklabels([f"{s}\n" + "\n".join(textwrap.wrap(results["scenarios"][s], 22)) for s in scenarios],
                           fontsize=8)
        ax.set_ylabel("install time, s (median, min..max)")
        ax.set_yscale("log")
        ax.set_ylim(floor, cap * 2.5)
        ax.set_title(f"Pyodide {version}: {' '.join(results['requirements'])}, "
                     f"{results['runs']} runs, {results['date']}", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(dest, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:3])
