"""``tod-al report``: a markdown table per strategy over one or more run folders."""
import click

from tod_plugin.experiment.report import markdown_report, read_runs


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
def report(run_dirs):
    """Mean +- std accuracy per cycle and the area under the curve, with the paper's numbers beside
    them when the runs used a preset."""
    click.echo(markdown_report(read_runs(run_dirs)))
