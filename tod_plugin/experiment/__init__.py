"""The engine under the CLI: settings, the trial x cycle loop, the run folder and summaries."""
from .config import RunConfig
from .backends import run_experiment
from .loop import load_learner
from .store import RunStore
from .summary import format_table, plot_curves

__all__ = ["RunConfig", "RunStore", "format_table", "load_learner", "plot_curves", "run_experiment"]
