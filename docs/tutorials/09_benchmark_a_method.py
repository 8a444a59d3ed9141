"""Step 9 — Benchmark a real method: simulate, export, run ComSeg, read its answer, score it.

Four documented commands take a simulation to a scored method, with no glue code:

    stpuppeteer simulate --out run ...               a tissue, its molecules and the truth
    stpuppeteer export run --to comseg --out cs      what ComSeg reads, and run_comseg.py
    python cs/run_comseg.py                          ComSeg itself (pip install comseg)
    stpuppeteer score --truth run --pred cs/comseg_spots.csv --tool comseg --json s.json

`score` prints ComSeg beside the floor (each molecule to the nucleus it lies in, nothing else)
and the ceiling (each molecule to the true polygon it lies in): a method is only interesting
between the two. The same path works for Baysor, Proseg and Sopa (`--to baysor|proseg|sopa`;
their commands are in each export's README.md and command.txt, see docs/benchmarking.md).

Run it against the installed package:  python 09_benchmark_a_method.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 09 OK".
ComSeg's time grows with the panel (it loops over genes): the 150 cells and 60 genes here
take about a minute on 2 cores; a 300-gene panel takes several.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(os.environ.get("TUTORIAL_OUT", "tutorial_out"))
OUT.mkdir(parents=True, exist_ok=True)
RUN = OUT / "run"
EXPORT = OUT / "comseg"
SCORES = OUT / "scores.json"


def stpuppeteer(*args):
    """Run one `stpuppeteer` command (the same program as the console script) and show its output."""
    proc = subprocess.run([sys.executable, "-m", "STpuppeteer", *map(str, args)], capture_output=True, text=True)
    print(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)


# ---------------------------------------------------------------------------------------------
# 1. Simulate: 150 cells of three types, a 60-gene panel (15 markers a type), written as a
#    config file (`stpuppeteer config` prints every field with its meaning).
# ---------------------------------------------------------------------------------------------
CONFIG = OUT / "small.yaml"
CONFIG.write_text("seed: 9\nn_cells: 150\nn_genes: 60\nn_markers: 15\n")
stpuppeteer("simulate", "--config", CONFIG, "--format", "h5ad", "--out", RUN, "--overwrite", "--quiet")

# ---------------------------------------------------------------------------------------------
# 2. Export for ComSeg: molecules with our transcript_id carried through, the nucleus each
#    molecule lies in as ComSeg's prior, the nucleus centroids, and the script that runs it.
#    Negative controls are left out (ComSeg expects genes only). No truth column is written.
# ---------------------------------------------------------------------------------------------
stpuppeteer("export", RUN, "--to", "comseg", "--out", EXPORT, "--overwrite")
command = (EXPORT / "command.txt").read_text().split()
print("command.txt:", " ".join(command))

# ---------------------------------------------------------------------------------------------
# 3. Run ComSeg exactly as command.txt says ("python .../run_comseg.py"; here with this
#    interpreter, so the tutorial uses the environment it runs in).
# ---------------------------------------------------------------------------------------------
subprocess.run([sys.executable, *command[1:]], check=True, capture_output=True)
print("ComSeg wrote", (EXPORT / "comseg_spots.csv").name)

# ---------------------------------------------------------------------------------------------
# 4. Score: `--tool comseg` reads ComSeg's own table (STpuppeteer.io.read_assignment), and the
#    report puts the floor and the ceiling beside it.
# ---------------------------------------------------------------------------------------------
stpuppeteer("score", "--truth", RUN, "--pred", EXPORT / "comseg_spots.csv", "--tool", "comseg", "--json", SCORES)
report = json.loads(SCORES.read_text())
print("JSON sections:", sorted(report))

columns = {"floor": "floor", "ComSeg": "prediction", "ceiling": "ceiling"}
metrics = ["precision", "recall", "accuracy", "mean_jaccard"]
values = {label: [report[key]["assignment"][m] for m in metrics] for label, key in columns.items()}
for label, row in values.items():
    print(f"{label:>8}: " + "  ".join(f"{m} {v:.3f}" for m, v in zip(metrics, row, strict=True)))

# ComSeg grows cells out of the nuclei: it must find much more of each cell than the nuclei
# alone, stay precise, and not beat the true polygons.
floor, comseg, ceiling = (dict(zip(metrics, values[k], strict=True)) for k in columns)
assert comseg["recall"] > floor["recall"] + 0.3, (comseg, floor)
assert comseg["precision"] > 0.7, comseg
assert comseg["mean_jaccard"] <= ceiling["mean_jaccard"] + 0.02, (comseg, ceiling)

fig, ax = plt.subplots(figsize=(6.5, 3.4))
width = 0.26
colours = {"floor": "#9e9e9e", "ComSeg": "#1f77b4", "ceiling": "#2ca02c"}
for i, (label, row) in enumerate(values.items()):
    ax.bar([j + (i - 1) * width for j in range(len(metrics))], row, width, label=label, color=colours[label])
ax.set_xticks(range(len(metrics)), [m.replace("_", " ") for m in metrics])
ax.set_xlabel("assignment metric (docs/metrics.md)")
ax.set_ylabel("score (0–1)")
ax.set_ylim(0, 1.05)
ax.set_title("ComSeg between the floor (nuclei) and the ceiling (true cells)")
ax.legend(title="assignment", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
fig.savefig(OUT / "09_comseg_scores.png", dpi=110, bbox_inches="tight")
plt.close(fig)
print("saved", OUT / "09_comseg_scores.png")
print("TUTORIAL 09 OK")
