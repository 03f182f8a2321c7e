"""A whole experiment from Python, as ``tod-al run`` makes it: prepared first (settings checked, data
loaded, nothing written yet), then run into a run folder (config.json, results.jsonl, queries.jsonl,
checkpoints/, curve.png).

    python examples/run_from_python.py
"""
import tempfile
from pathlib import Path

from tod_plugin.experiment import execute_run, format_table, prepare_run


def main(epochs=20, cycles=4, query_size=20, seed=0):
    settings = dict(dataset="digits", strategies=("cod", "random"), trials=1, cycles=cycles, initial=100,
                    query_size=query_size, epochs=epochs, seed=seed, device="cpu")
    with tempfile.TemporaryDirectory() as folder:
        prepared = prepare_run(settings, out=Path(folder) / "run")  # a bad setting raises ConfigError here
        finished = execute_run(prepared, quiet=True)
    print(format_table(finished.results))
    return finished.results[-1]["accuracy"]


if __name__ == "__main__":
    main()
