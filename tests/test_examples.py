"""Every example runs with tiny settings, so the README's examples never rot."""
import runpy
from pathlib import Path

import pytest

from weights_files import write_resnet18_weights

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script, kwargs", [
    ("quickstart_modal.py", {"epochs": 2, "cycles": 2, "query_size": 5}),
    ("pipeline.py", {"epochs": 2, "cycles": 1, "query_size": 5}),
    ("label_folder.py", {"epochs": 2, "rounds": 2, "n": 10, "pool": 100}),
    ("bal_modal.py", {"epochs": 1, "cycles": 2, "query_size": 5, "pretext_epochs": 1}),
    ("low_budget.py", {"epochs": 1, "cycles": 1, "query_size": 5}),
    ("pretrained_features.py", {"epochs": 2, "cycles": 2, "query_size": 5, "image_size": 16}),
    ("pool_on_disk.py", {"epochs": 2, "cycles": 2, "query_size": 5}),
    ("run_from_python.py", {"epochs": 1, "cycles": 1, "query_size": 10}),
])
def test_example_runs(script, kwargs, tmp_path):
    main = runpy.run_path(str(EXAMPLES / script))["main"]
    if script == "pretrained_features.py":
        kwargs = {"weights": write_resnet18_weights(tmp_path / "resnet18.pth"), **kwargs}
    assert 0.0 <= main(**kwargs) <= 1.0
