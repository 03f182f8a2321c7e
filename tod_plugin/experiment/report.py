"""Reading finished run folders and summarising them: area under the curve and a markdown report."""
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..validation import is_int, is_real
from .config import split_strategy
from .presets import PRESETS
from .strategies import STRATEGIES

#: (what differs, how one strategy's net is trained, how to give them all the same) per protocol aspect.
#: An auxiliary loss is not among them: it shows in the strategy's name (cod+tod, ll4al) and is the
#: point of such comparisons.
PROTOCOL_ASPECTS = (
    ("re-initialisation", lambda config, name: "re-initialised every cycle" if _reinit(config, name)
     else "warm-started", "rerun them all with --reinit (or all with --no-reinit)"),
    ("dropout before the classifier", lambda config, name: f"dropout {_dropout(config, name):g}",
     "rerun them all with the same --dropout (e.g. --dropout 0.3, as bald uses)"),
)


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
    ints = all(is_int(record.get(k)) and record[k] >= 0 for k in ("trial", "cycle", "n_labeled"))
    accuracy = record.get("accuracy")
    return ints and is_real(accuracy) and 0 <= accuracy <= 1


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


def _reinit(config, name):
    return STRATEGIES[split_strategy(name)[0]].reinit if config.get("reinit") is None else bool(config["reinit"])


def _dropout(config, name):
    return STRATEGIES[split_strategy(name)[0]].dropout if config.get("dropout") is None else config["dropout"]


def protocol_warnings(runs):
    """One line per way in which the strategies of these runs were TRAINED differently (re-initialised
    vs warm-started, dropout): their curves then differ in training as well as in sampling. Each
    line says how to compare like with like."""
    protocols = defaultdict(lambda: defaultdict(set))  # aspect -> protocol -> strategies
    for config, _ in runs:
        for name in config.get("strategies", ()):
            if split_strategy(name)[0] in STRATEGIES:
                for aspect, protocol, _ in PROTOCOL_ASPECTS:
                    protocols[aspect][protocol(config, name)].add(name)
    lines = []
    for aspect, _, fix in PROTOCOL_ASPECTS:
        if len(protocols[aspect]) > 1:
            groups = "; ".join(f"{protocol}: {', '.join(sorted(names))}"
                               for protocol, names in sorted(protocols[aspect].items()))
            lines.append(f"warning: the strategies were trained with a different {aspect} ({groups}), so their "
                         f"curves differ in training as well as in sampling; to compare like with like, {fix}.")
    return lines


def auc_ranking(results):
    """Markdown table: every strategy's AUC (mean +- std over trials, %), its difference to random's
    mean and its rank (1 = best mean AUC); strategies sorted by rank."""
    auc = {name: 100 * np.asarray(values) for name, values in per_trial_auc(results).items()}
    ranked = sorted(auc, key=lambda name: -auc[name].mean())
    random_mean = auc["random"].mean() if "random" in auc else None
    lines = ["| rank | strategy | AUC % (mean +- std) | vs random (points) | trials |", "|---|---|---|---|---|"]
    for rank, name in enumerate(ranked, 1):
        versus = "" if random_mean is None else f"{auc[name].mean() - random_mean:+.2f}"
        lines.append(f"| {rank} | {name} | {auc[name].mean():.2f} +- {auc[name].std():.2f} | {versus} | "
                     f"{len(auc[name])} |")
    return "\n".join(lines)


def markdown_report(runs):
    """One markdown table per strategy: cycle, labels, mean +- std accuracy (%), and the paper's number
    where every run used the same preset that reports this strategy; then the AUC line. First the
    :func:`protocol_warnings`, last the :func:`auc_ranking` of all strategies."""
    results = [r for _, rs in runs for r in rs]
    presets = {config.get("preset") for config, _ in runs}
    preset = PRESETS.get(presets.pop()) if len(presets) == 1 else None
    auc = per_trial_auc(results)
    lines = [f"> {warning}" for warning in protocol_warnings(runs)]
    lines += [""] if lines else []
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
    lines += ["### Area under the curve, ranked", "", auc_ranking(results), ""]
    return "\n".join(lines)
