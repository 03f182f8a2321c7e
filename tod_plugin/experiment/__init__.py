"""The engine under the CLI: settings, run preparation, the trial x cycle loop and the back-ends that
run it, the run folder and summaries."""
from .backends import run_experiment
from .config import RunConfig
from .loop import load_learner
from .prepare import execute_run, prepare_run
from .store import RunStore
from .summary import format_table, plot_curves

__all__ = ["RunConfig", "RunStore", "execute_run", "format_table", "load_learner", "plot_curves", "prepare_run",
           "run_experiment"]
