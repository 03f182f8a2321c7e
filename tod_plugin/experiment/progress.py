"""Progress display for experiments: one bar over all fits, showing trial / cycle / epoch."""
from skorch.callbacks import Callback
from tqdm.auto import tqdm


class EpochReporter(Callback):
    """Tells a :class:`Progress` when an epoch ends."""

    def __init__(self, progress=None):
        self.progress = progress

    def on_epoch_end(self, net, **kwargs):
        if self.progress is not None:
            self.progress.epoch(len(net.history), net.max_epochs)

    def __getstate__(self):  # a checkpointed net does not carry the live progress bar
        return {**self.__dict__, "progress": None}


class Progress:
    def __init__(self, total_fits, trials, cycles, enabled=True):
        self.bar = tqdm(total=total_fits, unit="fit", disable=not enabled, dynamic_ncols=True)
        self.trials, self.cycles = trials, cycles
        self.label = ""
        self.first_epoch = 0

    def callbacks(self):
        return [("progress", EpochReporter(self))]

    def attach(self, net):
        """Point a restored net's reporter at this progress display."""
        reporter = net.hook(EpochReporter)
        if reporter is not None:
            reporter.progress = self

    def skip(self, fits):
        """Count fits finished before a resume."""
        self.bar.update(fits)

    def start_fit(self, strategy, trial, cycle):
        self.label = f"trial {trial + 1}/{self.trials} {strategy} cycle {cycle}/{self.cycles}"
        self.first_epoch = None
        self.bar.set_postfix_str(self.label)

    def epoch(self, epochs_done, max_epochs):
        if self.first_epoch is None:
            self.first_epoch = epochs_done - 1
        self.bar.set_postfix_str(f"{self.label} epoch {epochs_done - self.first_epoch}/{max_epochs}", refresh=False)

    def end_fit(self, accuracy):
        self.bar.set_postfix_str(f"{self.label} acc {100 * accuracy:.1f}%")
        self.bar.update(1)

    def close(self):
        self.bar.close()
