import json

import numpy as np
import pytest

from tod_plugin.experiment.report import area_under_curve, markdown_report, read_runs
from tod_plugin_cli.main import main

TINY = ["--trials", "2", "--cycles", "1", "--epochs", "1", "--initial", "30", "--query-size", "10", "--quiet"]


def test_area_under_curve_by_hand():
    # trapezoids: (0.5 + 0.7) / 2 * 10 + (0.7 + 0.9) / 2 * 30 = 6 + 24 = 30 over a range of 40
    assert area_under_curve([10, 20, 50], [0.5, 0.7, 0.9]) == pytest.approx(0.75)
    assert area_under_curve([10], [0.6]) == pytest.approx(0.6)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for seed in (0, 5):
        with pytest.raises(SystemExit) as exit_info:
            main(["run", "--out", str(root / f"seed{seed}"), "--seed", str(seed), "--strategy", "cod,random", *TINY])
        assert exit_info.value.code == 0
    return root / "seed0", root / "seed5"


def test_different_seeds_give_different_initial_sets(two_runs):
    firsts = []
    for folder in two_runs:
        queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
        firsts.append(next(q["indices"] for q in queries if q["cycle"] == 0))
    assert firsts[0] != firsts[1]


def test_report_merges_runs_with_mean_std_and_auc(two_runs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *map(str, two_runs)])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "### cod" in text and "### random" in text
    runs = read_runs(two_runs)
    cod = [r["accuracy"] for _, rs in runs for r in rs if r["strategy"] == "cod" and r["cycle"] == 1]
    assert len(cod) == 4
    assert f"| 1 | 40 | {100 * np.mean(cod):.2f} +- {100 * np.std(cod):.2f} | 4 |" in text
    assert "over 4 trials" in text


def test_report_shows_the_papers_numbers_for_a_preset(two_runs):
    config, results = read_runs(two_runs[:1])[0]
    config["preset"] = "tod-cifar10"
    text = markdown_report([(config, results)])
    assert "tod-cifar10 paper %" in text and "| 80.0 |" in text


def test_plot_writes_a_png(two_runs, tmp_path):
    output = tmp_path / "curves.png"
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", *map(str, two_runs), "-o", str(output)])
    assert exit_info.value.code == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_a_non_run_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    assert exit_info.value.code == 2 and "is not a run folder" in capsys.readouterr().err


def fake_run(strategies, accuracies, **settings):
    """A (config, results) pair as read_runs gives it: one trial, labels 10 and 20."""
    results = [{"strategy": name, "trial": 0, "cycle": cycle, "n_labeled": 10 * (cycle + 1), "accuracy": acc,
                "auxiliary": "none"} for name, accs in zip(strategies, accuracies) for cycle, acc in enumerate(accs)]
    return {"strategies": list(strategies), **settings}, results


def test_report_warns_when_strategies_were_trained_differently():
    mixed = markdown_report([fake_run(["stconal", "random"], [[0.5, 0.6], [0.5, 0.7]], reinit=None)])
    assert "warning: the strategies were trained with a different re-initialisation (re-initialised every " \
           "cycle: stconal; warm-started: random)" in mixed and "--reinit" in mixed
    same = markdown_report([fake_run(["stconal", "random"], [[0.5, 0.6], [0.5, 0.7]], reinit=True)])
    assert "warning" not in same
    dropout = markdown_report([fake_run(["bald", "entropy"], [[0.5, 0.6], [0.5, 0.7]], reinit=None)])
    assert "dropout 0.3: bald" in dropout and "--dropout" in dropout
    assert "warning" not in markdown_report([fake_run(["bald", "entropy"], [[0.5, 0.6]] * 2, dropout=0.3)])


def test_report_ranks_the_strategies_by_auc_against_random():
    text = markdown_report([fake_run(["cod", "random", "margin"], [[0.5, 0.7], [0.5, 0.6], [0.4, 0.5]])])
    table = text.split("### Area under the curve, ranked")[1]
    assert "| 1 | cod | 60.00 +- 0.00 | +5.00 | 1 |" in table
    assert "| 2 | random | 55.00 +- 0.00 | +0.00 | 1 |" in table
    assert "| 3 | margin | 45.00 +- 0.00 | -10.00 | 1 |" in table
