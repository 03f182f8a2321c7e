"""``tod-al``: Click commands that parse, validate, call the engine and print. No algorithm code."""
import sys

import click

from tod_plugin.errors import ConfigError
from tod_plugin.experiment.lock import release_all

from .datasets import datasets
from .label import COMMANDS as LABEL_COMMANDS
from .plot import plot
from .presets import presets
from .report import report
from .run import run


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="tod-plugin")
def cli():
    """Deep active learning experiments (TOD/COD, random, ...) on modAL, and labeling your own images."""


cli.add_command(run)
cli.add_command(datasets)
cli.add_command(presets)
cli.add_command(plot)
cli.add_command(report)
for command in LABEL_COMMANDS:
    cli.add_command(command)


def main(argv=None):
    """Entry point: bad input prints one line ``error: ...`` and exits 2, without a traceback."""
    try:
        code = cli.main(args=argv, prog_name="tod-al", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        release_all()  # a run folder is free again once its command is over
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
