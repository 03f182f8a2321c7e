"""The engine under the CLI: settings, the trial x cycle loop, the run folder and summaries."""
from .config import RunConfig
from .loop import load_learner, run_experiment
from .store import RunStore
from .summary import format_table, plot_curves

__all__ = ["RunConfig", "RunStore", "format_table", "load_learner", "plot_curves", "run_experiment"]
