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
    seen = [Path(folder).resolve() for folder in folders]
    if len(set(seen)) < len(seen):
        raise ConfigError("a run folder is given twice: its trials would count twice")
    for index, folder in enumerate(map(Path, folders)):
        config_path, results_path = folder / "config.json", folder / "results.jsonl"
        if not config_path.is_file() or not results_path.is_file():
            raise ConfigError(f"{folder} is not a run folder (it needs config.json and results.jsonl from tod-al run)")
        try:
            config = json.loads(config_path.read_text())
            results = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
        except ValueError as exc:
            raise ConfigError(f"{folder}: unreadable results ({exc}); was the file edited by hand?") from None
        if not isinstance(config, dict) or not all(_is_record(r) for r in results):
            raise ConfigError(f"{folder}: config.json or results.jsonl does not hold what tod-al run writes; was it "
                              "edited by hand?")
        if not results:
            raise ConfigError(f"{folder}: results.jsonl has no results yet (no cycle finished); continue the run with "
                              f"tod-al run --resume {folder}")
        runs.append((config, [{**r, "run": index} for r in results]))
    _check_same_data(runs, folders)
    return runs


def _is_record(record):
    """A results.jsonl line as ``tod-al run`` writes it (the fields the summaries read)."""
    if not isinstance(record, dict) or not isinstance(record.get("strategy"), str):
        return False
    ints = all(isinstance(record.get(k), int) and not isinstance(record.get(k), bool) and record[k] >= 0
               for k in ("trial", "cycle", "n_labeled"))
    accuracy = record.get("accuracy")
    return ints and isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and 0 <= accuracy <= 1


def _check_same_data(runs, folders):
    """Runs are merged per strategy: they must be on one dataset (the same SHA-256 where every run records it,
    else the same dataset name)."""
    digests = [config.get("dataset_sha256") for config, _ in runs]
    identities = digests if all(digests) else [config.get("dataset") for config, _ in runs]
    if len(set(identities)) > 1:
        listed = ", ".join(f"{folder}: {config.get('dataset')}" for folder, (config, _) in zip(folders, runs))
        raise ConfigError(f"the runs are on different datasets ({listed}); summarise the runs of one dataset at a time")


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
