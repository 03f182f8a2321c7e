"""Every example runs with tiny settings, so the README's examples never rot."""
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script, kwargs", [
    ("quickstart_modal.py", {"epochs": 2, "cycles": 2, "query_size": 5}),
    ("pipeline.py", {"epochs": 2, "cycles": 1, "query_size": 5}),
    ("pool_on_disk.py", {"epochs": 2, "cycles": 2, "query_size": 5}),
])
def test_example_runs(script, kwargs):
    main = runpy.run_path(str(EXAMPLES / script))["main"]
    assert 0.0 <= main(**kwargs) <= 1.0
