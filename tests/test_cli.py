import json
import subprocess
import sys

import pytest

from cli_runner import run_cli

TINY = ["--trials", "2", "--cycles", "2", "--epochs", "1", "--initial", "30", "--query-size", "10", "--quiet"]


def test_run_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(["run", "--out", str(out), "--strategy", "cod,tod,random", *TINY], capsys)
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "results.jsonl", "queries.jsonl", "curve.png",
                                               "checkpoints"}
    config = json.loads((out / "config.json").read_text())
    assert config["strategies"] == ["cod", "tod", "random"] and config["initial"] == 30
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(results) == 2 * 3 * 3
    assert [r["n_labeled"] for r in results[:3]] == [30, 40, 50]
    queries = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    first = {q["strategy"]: q["indices"] for q in queries if q["trial"] == 0 and q["cycle"] == 0}
    assert first["cod"] == first["random"] == first["tod"]
    for strategy in ("cod", "random"):
        picked = [i for q in queries if q["trial"] == 0 and q["strategy"] == strategy for i in q["indices"]]
        assert len(picked) == len(set(picked)) == 50
    assert "labels" in stdout and "+-" in stdout


def test_baselines_and_low_budget_strategies_run_from_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    strategies = "entropy,margin,least-confidence,bald,badge,vaal,typiclust,probcover,auto"
    code, _, _ = run_cli(["run", "--out", str(out), "--strategy", strategies, *TINY[2:], "--trials", "1"], capsys)
    assert code == 0
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["strategy"] for r in results} == set(strategies.split(","))
    assert all(len([r for r in results if r["strategy"] == s]) == 3 for s in strategies.split(","))
    # TypiClust, ProbCover and auto share one pretext network per trial; VAAL keeps its last networks
    assert sorted(p.name for p in (out / "cache").iterdir()) == ["pretext-features_trial0.npz", "vaal_trial0.pt"]
    queries = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    picked = {q["strategy"]: q["indices"] for q in queries if q["cycle"] == 1}
    assert picked["auto"] == picked["typiclust"]  # 30 labels < 10 per class: auto is TypiClust here


def test_same_seed_same_results(tmp_path, capsys):
    runs = []
    for name in ("a", "b"):
        run_cli(["run", "--out", str(tmp_path / name), "--trials", "1", *TINY[2:]], capsys)
        lines = (tmp_path / name / "results.jsonl").read_text().splitlines()
        runs.append([{k: v for k, v in json.loads(line).items() if not k.endswith("_time")} for line in lines])
        runs[-1].append((tmp_path / name / "queries.jsonl").read_text())
    assert runs[0] == runs[1]


@pytest.mark.parametrize("args, message", [
    (["--strategy", "cod,magic"], "unknown strategy 'magic'; choose from auto, badge, bal, bald, cod, coreset, "
                                  "entropy, least-confidence, ll4al, margin, probcover"),
    (["--dropout", "1.5"], "dropout must be a number in [0, 1)"),
    (["--strategy", "bald", "--dropout", "0"], "strategy 'bald' needs dropout: give --dropout p"),
    (["--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["--trials", "0"], "trials must be an int >= 1"),
    (["--initial", "abc"], "initial must be a positive int or a percentage"),
    (["--query-size", "0"], "query_size must be a positive int"),
    (["--cycles", "500"], "more than the pool"),
    (["--batch-size", "big"], "--batch-size"),
    (["--lr", "-1"], "lr must be a positive number"),
    (["--model", "vgg"], "unknown model 'vgg'"),
    (["--device", "tpu"], "device must be"),
    (["--epochs", "x"], "'x' is not a valid integer"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(["run", "--out", str(out), *args], capsys)
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert not out.exists()


def test_non_empty_out_is_refused(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("precious")
    code, _, stderr = run_cli(["run", "--out", str(tmp_path), *TINY], capsys)
    assert code == 2 and "not empty" in stderr
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_console_script_help():
    result = subprocess.run([sys.executable, "-m", "tod_plugin_cli.main", "run", "--help"], capture_output=True,
                            text=True, check=True)
    text = " ".join(result.stdout.split())
    assert "--strategy" in text and "[default: cod,random]" in text
