"""``tod-al plot``: accuracy vs labels of one or more run folders in one figure."""
import click

from tod_plugin.experiment.report import read_runs
from tod_plugin.experiment.summary import plot_curves


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("-o", "--output", default="curves.png", type=click.Path(dir_okay=False),
              help="PNG file to write.")
@click.option("--title", default=None, help="Figure title.")
def plot(run_dirs, output, title):
    """Plot mean accuracy with a +-1 std band per strategy, merging the runs' trials."""
    if not output.lower().endswith(".png"):
        raise click.BadParameter(f"the figure is a PNG image: name the file NAME.png, got {output!r}",
                                 param_hint="-o/--output")
    results = [r for _, rs in read_runs(run_dirs) for r in rs]
    plot_curves(results, output, title=title)
    click.echo(f"wrote {output}")
