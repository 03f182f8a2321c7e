"""Reading finished run folders and summarising them: area under the curve and a markdown report."""
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .presets import PRESETS


def read_runs(folders):
    """``[(config, results)]`` of run folders; results carry a ``run`` index so trials stay apart."""
    runs = []
    for index, folder in enumerate(map(Path, folders)):
        config_path, results_path = folder / "config.json", folder / "results.jsonl"
        if not config_path.is_file() or not results_path.is_file():
            raise ConfigError(f"{folder} is not a run folder (it needs config.json and results.jsonl from tod-al run)")
        try:
            config = json.loads(config_path.read_text())
            results = [{**json.loads(line), "run": index} for line in results_path.read_text().splitlines() if line]
        except ValueError as exc:
            raise ConfigError(f"{folder}: unreadable results ({exc}); was the file edited by hand?") from None
        runs.append((config, results))
    return runs


def area_under_curve(sizes, accuracies):
    """Normalised area under accuracy vs labels: trapezoid rule divided by the label range (a mean
    accuracy over the budget); a single point gives that point."""
    sizes, accuracies = np.asarray(sizes, float), np.asarray(accuracies, float)
    if len(sizes) < 2:
        return float(accuracies.mean())
    return float(np.sum((accuracies[1:] + accuracies[:-1]) / 2 * np.diff(sizes)) / (sizes[-1] - sizes[0]))


def per_trial_auc(results):
    """``{strategy: [AUC of each (run, trial)]}``."""
    curves = defaultdict(list)
    for r in results:
        curves[(r["strategy"], r.get("run", 0), r["trial"])].append((r["n_labeled"], r["accuracy"]))
    auc = defaultdict(list)
    for (strategy, _, _), points in curves.items():
        points.sort()
        auc[strategy].append(area_under_curve(*zip(*points)))
    return auc


def markdown_report(runs):
    """One markdown table per strategy: cycle, labels, mean +- std accuracy (%), and the paper's number
    where every run used the same preset that reports this strategy; then the AUC line."""
    results = [r for _, rs in runs for r in rs]
    presets = {config.get("preset") for config, _ in runs}
    preset = PRESETS.get(presets.pop()) if len(presets) == 1 else None
    auc = per_trial_auc(results)
    lines = []
    by_strategy = defaultdict(lambda: defaultdict(list))
    for r in results:
        by_strategy[r["strategy"]][(r["cycle"], r["n_labeled"])].append(100 * r["accuracy"])
    for strategy, cells in by_strategy.items():
        reported = preset.reported.get(strategy) if preset else None
        lines += [f"### {strategy}", "", "| cycle | labels | accuracy % (mean +- std) | trials |"
                  + (f" {preset.name} paper % |" if reported else ""),
                  "|---|---|---|---|" + ("---|" if reported else "")]
        for cycle, labels in sorted(cells):
            values = np.asarray(cells[(cycle, labels)])
            row = f"| {cycle} | {labels} | {values.mean():.2f} +- {values.std():.2f} | {len(values)} |"
            if reported:
                row += f" {reported[cycle]:.1f} |" if cycle < len(reported) else " |"
            lines.append(row)
        values = 100 * np.asarray(auc[strategy])
        lines += ["", f"Area under the curve (normalised, %): {values.mean():.2f} +- {values.std():.2f} "
                      f"over {len(values)} trials", ""]
    return "\n".join(lines)
