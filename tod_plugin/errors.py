"""Exceptions raised for bad input, so that the CLI can tell them from bugs."""


class ConfigError(ValueError):
    """A user-supplied setting, file or input is invalid; the message says which and how to fix it."""


class MissingHookError(ConfigError):
    """A query strategy needs state recorded by a training hook that the net was not given."""


class TrainingDiverged(ConfigError):
    """The training loss became NaN or infinite (checked once per epoch); the message names the likely setting."""


class StorageError(ConfigError):
    """A result, checkpoint or cache could not be written (full disk, permissions); nothing was half-written."""
