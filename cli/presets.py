"""``tod-al presets``: the papers' protocols with their settings and reported accuracy."""
import click

from tod_plugin.experiment.presets import PRESETS, get_preset, labels_axis


def _value(value):
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value) if value else "none"
    return str(value)


@click.command()
@click.argument("name", required=False)
def presets(name):
    """List every preset (or the one NAME) with its settings; use one with tod-al run --preset NAME."""
    for preset in [get_preset(name)] if name else PRESETS.values():
        click.echo(f"{preset.name}: {preset.summary}")
        click.echo("  " + "  ".join(f"{key}={_value(value)}" for key, value in preset.settings.items()))
        for key, hint in preset.needs.items():
            click.echo(f"  needs {key}: {hint}")
        if preset.reported:
            axis = labels_axis(preset)
            click.echo(f"  reported accuracy % at {_value(axis)} labels:")
            for strategy, values in preset.reported.items():
                click.echo(f"    {strategy:<8} " + " ".join(f"{v:5.1f}" for v in values))
        for label, value in preset.reported_extra.items():
            shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
            click.echo(f"  reported {label}: {shown}")
        if preset.reference_choices:
            click.echo("  the reference code's choices that differ from our defaults:")
        for choice, what in preset.reference_choices.items():
            click.echo(f"    {choice}: {what}")
        click.echo("")
