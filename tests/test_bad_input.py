"""The bad-input table (README, "Bad input"): every case names the problem and the fix.

API cases raise ``ValueError``/``TypeError`` (``ConfigError`` is a ``ValueError``); CLI cases print
one line ``error: ...``, exit with 2, show no traceback and leave an earlier run folder as it was.
"""
import json
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from tod_plugin import ALNetClassifier
from tod_plugin.models import SmallCNN
from tod_plugin.strategies import cod_sampling, ll4al_sampling, random_sampling, tod_sampling
from tod_plugin_cli.main import main

from conftest import make_net

TINY = ["--trials", "1", "--cycles", "1", "--epochs", "1", "--initial", "30", "--query-size", "10", "--quiet"]


@dataclass
class Case:
    name: str
    run: object  # API: a function of the context; CLI: a function of the context returning argv
    message: str
    cli: bool = False


@pytest.fixture(scope="module")
def context(digits, tmp_path_factory):
    X, y = digits.X_train, digits.y_train
    net = make_net(warm_start=True).fit(X[:40], y[:40])
    root = tmp_path_factory.mktemp("bad")
    done = root / "done"
    with pytest.raises(SystemExit):
        main(["run", "--out", str(done), "--strategy", "random", *TINY])
    other_schema = root / "other_schema"
    other_schema.mkdir()
    config = json.loads((done / "config.json").read_text())
    (other_schema / "config.json").write_text(json.dumps({**config, "schema_version": 0}))
    cifar = root / "data" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]:
        (cifar / name).write_bytes(b"definitely not a pickle")
    a_file = root / "a_file"
    a_file.write_text("x")
    return {"X": X, "y": y, "pool": X[40:140], "net": net, "root": root, "done": done,
            "other_schema": other_schema, "data": root / "data", "a_file": a_file}


def pool_with(value):
    def run(c):
        pool = c["pool"].astype(np.float32)
        pool[3, 0, 2, 2] = value
        cod_sampling(c["net"], pool, 2)
    return run


API_CASES = [
    Case("NaN in the pool", pool_with(np.nan), "NaN"),
    Case("inf in the pool", pool_with(np.inf), "infinity"),
    Case("empty pool", lambda c: cod_sampling(c["net"], c["pool"][:0], 1), "X_pool is empty"),
    Case("n_instances = 0", lambda c: cod_sampling(c["net"], c["pool"], 0), "n_instances must be a positive int"),
    Case("n_instances = -1", lambda c: random_sampling(c["net"], c["pool"], -1), "n_instances must be a positive int"),
    Case("n_instances = 2.5", lambda c: tod_sampling(c["net"], c["pool"], 2.5), "n_instances must be a positive int"),
    Case("subset = 0", lambda c: cod_sampling(c["net"], c["pool"], 2, subset=0), "subset must be None or a positive int"),
    Case("first_cycle unknown", lambda c: cod_sampling(c["net"], c["pool"], 2, first_cycle="x"), "first_cycle must be"),
    Case("labels outside classes", lambda c: make_net().fit(c["X"][:20], c["y"][:20] + 10), "not in classes"),
    Case("1-D X", lambda c: make_net().fit(c["X"][:20].ravel(), c["y"][:20]), "Reshape your data"),
    Case("X and y lengths differ", lambda c: make_net().fit(c["X"][:20], c["y"][:19]), "different lengths"),
    Case("continuous y", lambda c: make_net().fit(c["X"][:20], np.linspace(0, 1, 20)), "Unknown label type"),
    Case("wrong channel count for the model",
         lambda c: make_net().fit(np.repeat(c["X"][:20], 3, axis=1), c["y"][:20]), "module__in_channels=1"),
    Case("predict on another image shape", lambda c: c["net"].predict(c["X"][:2, :, :4, :4]), "fitted on samples of shape"),
    Case("strategy needs a missing hook", lambda c: tod_sampling(c["net"], c["pool"], 2), "StepSnapshot"),
    Case("LL4AL without its module", lambda c: ll4al_sampling(c["net"], c["pool"], 2), "auxiliary='ll4al'"),
    Case("query before fitting", lambda c: cod_sampling(make_net(), c["pool"], 2), "not fitted"),
    Case("classifier of another kind", lambda c: cod_sampling(object(), c["pool"], 2), "classifier must be"),
    Case("TOD loss without the pool",
         lambda c: ALNetClassifier(SmallCNN, auxiliary="tod", max_epochs=1).fit(c["X"][:20], c["y"][:20]), "EMATeacher"),
    Case("bad batch_size", lambda c: make_net(batch_size=0).fit(c["X"][:20], c["y"][:20]), "batch_size must be"),
]

CLI_CASES = [
    Case("unknown strategy", lambda c: ["--strategy", "cod,magic"], "choose from", cli=True),
    Case("unknown dataset", lambda c: ["--dataset", "mnist"], "unknown dataset 'mnist'", cli=True),
    Case("unknown preset", lambda c: ["--preset", "nope"], "unknown preset 'nope'", cli=True),
    Case("missing data dir", lambda c: ["--dataset", "cifar10", "--data-dir", str(c["root"] / "nowhere")],
         "cifar10", cli=True),
    Case("corrupt data file", lambda c: ["--dataset", "cifar10", "--data-dir", str(c["data"])],
         "cannot be read", cli=True),
    Case("unwritable output dir", lambda c: ["--out", str(c["a_file"] / "run")], "cannot create the output folder", cli=True),
    Case("non-empty --out without --resume", lambda c: ["--out", str(c["done"])], "not empty", cli=True),
    Case("resume folder from another schema", lambda c: ["--resume", str(c["other_schema"])], "schema", cli=True),
    Case("resume with other settings", lambda c: ["--resume", str(c["done"]), "--epochs", "9"],
         "epochs: 1 in the folder, 9 given", cli=True),
    Case("resume a folder that is no run", lambda c: ["--resume", str(c["root"] / "data")], "no config.json", cli=True),
    Case("budget larger than the pool", lambda c: ["--cycles", "900"], "more than the pool", cli=True),
    Case("trials = 0", lambda c: ["--trials", "0"], "trials must be an int >= 1", cli=True),
    Case("percentage out of range", lambda c: ["--initial", "150%"], "percentage like '10%'", cli=True),
    Case("unknown auxiliary loss", lambda c: ["--auxiliary", "vat"], "auxiliary must be one of", cli=True),
]


@pytest.mark.parametrize("case", API_CASES + CLI_CASES, ids=lambda case: case.name)
def test_bad_input(case, context, capsys, tmp_path):
    if not case.cli:
        with pytest.raises((ValueError, TypeError), match=case.message):
            case.run(context)
        return
    before = {p.name: p.read_bytes() for p in context["done"].iterdir() if p.is_file()}
    argv = case.run(context)
    if "--out" not in argv and "--resume" not in argv:
        argv = [*argv, "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as exit_info:
        main(["run", *TINY, *argv] if "--resume" not in argv else ["run", *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert case.message in err
    assert not (tmp_path / "run").exists()
    assert {p.name: p.read_bytes() for p in context["done"].iterdir() if p.is_file()} == before


def test_the_table_is_large_enough():
    assert len(API_CASES) + len(CLI_CASES) >= 25


def test_more_than_the_pool_is_a_warning_not_an_error(context):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        picked = cod_sampling(context["net"], context["pool"][:5], 9)
    picked = picked[0] if isinstance(picked, tuple) else picked
    assert len(picked) == 5 and "whole pool" in str(caught[0].message)
