import json

import pytest

from tod_plugin_cli.main import main

TINY = ["--trials", "1", "--cycles", "1", "--epochs", "1", "--initial", "30", "--query-size", "10", "--quiet"]


def results(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("args, expected", [
    (["--auxiliary", "tod", "--strategy", "cod"], {"cod": "tod"}),
    (["--auxiliary", "ll4al", "--strategy", "cod"], {"cod": "ll4al"}),
    (["--strategy", "random,cod,cod+tod,ll4al"], {"random": "none", "cod": "none", "cod+tod": "tod", "ll4al": "ll4al"}),
])
def test_each_auxiliary_runs_from_the_cli(tmp_path, args, expected):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(out), *TINY, *args])
    assert exit_info.value.code == 0
    rows = results(out)
    assert {r["strategy"]: r["auxiliary"] for r in rows} == expected
    assert len(rows) == 2 * len(expected)
    config = json.loads((out / "config.json").read_text())
    assert config["auxiliary"] == (args[1] if args[0] == "--auxiliary" else "none")


@pytest.mark.parametrize("args, message", [
    (["--auxiliary", "vat"], "auxiliary must be one of none, tod, ll4al"),
    (["--strategy", "cod+vat"], "unknown auxiliary loss 'vat'"),
    (["--aux-weight", "-1"], "aux_weight must be a number >= 0"),
])
def test_bad_auxiliary_settings(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "run"), *TINY, *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
