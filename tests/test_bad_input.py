"""The bad-input table (README, "Bad input"): every case names the problem and the fix.

API cases raise ``ValueError``/``TypeError`` (``ConfigError`` is a ``ValueError``); CLI cases print
one line ``error: ...``, exit with 2, show no traceback and leave an earlier run folder as it was.
"""
import json
import re
import shutil
import socket
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from tod_plugin import ALNetClassifier
from tod_plugin.models import MLP, SmallCNN
from tod_plugin.strategies import BALSampler, cod_sampling, ll4al_sampling, random_sampling, tod_sampling
from tod_plugin_cli.main import main

from nets import make_net
from dataset_files import write_image_folder

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
    a_list = root / "a_list"
    a_list.mkdir()
    (a_list / "config.json").write_text("[1, 2]")
    a_string = root / "a_string"
    a_string.mkdir()
    (a_string / "config.json").write_text(json.dumps({**config, "trials": "3"}))
    locked = root / "locked"
    shutil.copytree(done, locked)
    (locked / "run.lock").write_text(f"1 {socket.gethostname()}\n")  # pid 1 is always alive
    one_class = write_image_folder(root / "one_class", classes=("cat",), train=20, test=2)
    poisoned = make_net(warm_start=True).fit(X[:40], y[:40])
    with torch.no_grad():
        for parameter in poisoned.module_.parameters():
            parameter.fill_(float("nan"))
    return {"X": X, "y": y, "pool": X[40:140], "net": net, "root": root, "done": done,
            "other_schema": other_schema, "data": root / "data", "a_file": a_file, "a_list": a_list,
            "a_string": a_string, "locked": locked, "one_class": one_class, "poisoned": poisoned}


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
    # issue 17: numbers by one rule (validation.check_number), odd arguments, non-finite results
    Case("normalize with scalars", lambda c: fit(c, normalize=(0.5, 0.2)), "normalize must be None or (mean, std)"),
    Case("normalize with a zero std", lambda c: fit(c, normalize=((0.5,), (0.0,))), "normalize std must be a positive"),
    Case("normalize with NaN", lambda c: fit(c, normalize=((np.nan,), (1.0,))), "normalize mean must be a number"),
    Case("lr as a string", lambda c: fit(c, lr="0.1"), "lr must be a positive number, got '0.1'"),
    Case("lr = inf", lambda c: fit(c, lr=np.inf), "lr must be a positive number, got inf"),
    Case("max_epochs = 2.5", lambda c: fit(c, max_epochs=2.5), "max_epochs must be a positive int"),
    Case("max_epochs = -1", lambda c: fit(c, max_epochs=-1), "max_epochs must be a positive int"),
    Case("batch_size = True", lambda c: fit(c, batch_size=True), "batch_size must be 'auto', -1 or a positive int"),
    Case("crop_padding = True", lambda c: fit(c, crop_padding=True), "crop_padding must be an int >= 0"),
    Case("aux_weight = NaN", lambda c: fit(c, aux_weight=np.nan), "aux_weight must be None or a number >= 0"),
    Case("classes with duplicates", lambda c: fit(c, classes=[0, 1, 1, *range(2, 10)]), "classes has duplicates"),
    Case("classes as a set", lambda c: fit(c, classes=set(range(10))), "a list / array of labels in a fixed order"),
    Case("classes with one label", lambda c: fit(c, classes=[0]), "at least 2 labels"),
    Case("random_state past 2**32 - 1", lambda c: fit(c, random_state=2**32), "random_state must be an int >= 0"),
    Case("random_state as a string", lambda c: fit(c, random_state="0"), "random_state must be None, an int seed"),
    Case("SmallCNN given feature rows", lambda c: make_net().fit(c["X"][:20].reshape(20, -1), c["y"][:20]),
         "SmallCNN takes images"),
    Case("MLP given images", lambda c: ALNetClassifier(MLP, classes=np.arange(10), device="cpu").fit(c["X"][:20],
                                                                                                   c["y"][:20]),
         "MLP takes feature rows"),
    Case("n_instances = True", lambda c: cod_sampling(c["net"], c["pool"], True), "n_instances must be a positive int"),
    Case("BAL beta = inf", lambda c: BALSampler(beta=np.inf)(c["net"], c["pool"], 2), "beta must be a positive number"),
    Case("training diverges (lr = 1e30)", lambda c: fit(c, lr=1e30), "training diverged: the loss became NaN"),
    Case("NaN outputs are not ranked", lambda c: cod_sampling(c["poisoned"], c["pool"], 2), "scores are NaN"),
]


def fit(c, **params):
    make_net(**params).fit(c["X"][:20], c["y"][:20])


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
    # issue 17
    Case("seed past 2**32 - 1", lambda c: ["--seed", str(2**32)], "seed + trials - 1 must be <= 4294967295", cli=True),
    Case("trial seed past 2**32 - 1", lambda c: ["--seed", str(2**32 - 1), "--trials", "2"],
         "seed + trials - 1 must be <= 4294967295", cli=True),
    Case("a GPU this machine lacks", lambda c: ["--device", "cuda:99"], "device 'cuda:99'", cli=True),
    Case("a device name of no form", lambda c: ["--device", "cuda7"], "device must be 'auto', 'cpu' or 'cuda[:N]'",
         cli=True),
    Case("beta = inf", lambda c: ["--beta", "inf"], "beta must be a positive number, got inf", cli=True),
    Case("lr = inf", lambda c: ["--lr", "inf"], "lr must be a positive number, got inf", cli=True),
    Case("aux-weight = inf", lambda c: ["--aux-weight", "inf"], "aux_weight must be a number >= 0, got inf", cli=True),
    Case("batch-size true", lambda c: ["--batch-size", "true"], "must be 'auto' or a positive int", cli=True),
    Case("a percentage of nan", lambda c: ["--initial", "nan%"], "percentage like '10%'", cli=True),
    Case("milestones beyond epochs", lambda c: ["--milestones", "5", "--epochs", "2"], "within --epochs 2", cli=True),
    Case("a 300-character folder name", lambda c: ["--out", str(c["root"] / ("x" * 300))], "the filesystem allows",
         cli=True),
    Case("--out ''", lambda c: ["--out", ""], "--out must name a folder", cli=True),
    Case("--resume ''", lambda c: ["--resume", ""], "--resume must name a folder", cli=True),
    Case("config.json edited into a list", lambda c: ["--resume", str(c["a_list"])], "holds a JSON list", cli=True),
    Case("config.json setting of another type", lambda c: ["--resume", str(c["a_string"])],
         "trials must be an int >= 1, got '3'", cli=True),
    Case("a one-class dataset", lambda c: ["--dataset", f"imagefolder:{c['one_class']}"],
         "classification needs at least 2", cli=True),
    Case("resume a folder another command holds", lambda c: ["--resume", str(c["locked"])], "is in use by process 1",
         cli=True),
]


@pytest.mark.parametrize("case", API_CASES + CLI_CASES, ids=lambda case: case.name)
def test_bad_input(case, context, capsys, tmp_path):
    if not case.cli:
        with pytest.raises((ValueError, TypeError), match=re.escape(case.message)):
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


def summary_cases():
    """``tod-al report`` / ``plot`` on odd run folders: (name, argv from the context, message)."""
    def edited(c, name, change):
        folder = c["root"] / name
        if not folder.exists():
            shutil.copytree(c["done"], folder)
            change(folder)
        return str(folder)

    def other_data(folder):
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "dataset": "cifar10", "dataset_sha256": "0" * 64}))

    return [
        ("runs on different datasets", lambda c: ["report", str(c["done"]), edited(c, "cifar", other_data)],
         "the runs are on different datasets"),
        ("a run given twice", lambda c: ["report", str(c["done"]), str(c["done"])], "a run folder is given twice"),
        ("an empty results.jsonl",
         lambda c: ["report", edited(c, "empty", lambda f: (f / "results.jsonl").write_text(""))], "has no results yet"),
        ("a results line edited by hand",
         lambda c: ["plot", edited(c, "edited", lambda f: (f / "results.jsonl").write_text("[1]\n")), "-o",
                    str(c["root"] / "x.png")], "does not hold what tod-al run writes"),
        ("plot -o x.jpg", lambda c: ["plot", str(c["done"]), "-o", str(c["root"] / "x.jpg")], "name the file NAME.png"),
    ]


@pytest.mark.parametrize("case", summary_cases(), ids=lambda case: case[0])
def test_bad_summary_input(case, context, capsys):
    _, argv, message = case
    with pytest.raises(SystemExit) as exit_info:
        main(argv(context))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not list(context["root"].glob("x.*"))


def test_the_table_is_large_enough():
    assert len(API_CASES) + len(CLI_CASES) + len(summary_cases()) >= 77


def test_more_than_the_pool_is_a_warning_not_an_error(context):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        picked = cod_sampling(context["net"], context["pool"][:5], 9)
    picked = picked[0] if isinstance(picked, tuple) else picked
    assert len(picked) == 5 and "whole pool" in str(caught[0].message)
