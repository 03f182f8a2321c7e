"""``tod-al run``: one experiment, trials x strategies x cycles, into a run folder."""
import time
from pathlib import Path

import click


def _comma_list(ctx, param, value):
    return tuple(item.strip() for item in value.split(",") if item.strip())


@click.command()
@click.option("--dataset", default="digits", help="Dataset name (digits is embedded, no download).")
@click.option("--strategy", "strategies", default="cod,random", callback=_comma_list,
              help="Comma list of strategies: cod, tod, ll4al, random; NAME+tod or NAME+ll4al trains "
              "that strategy's net with an auxiliary loss (e.g. cod+tod).")
@click.option("--trials", default=3, type=int, help="Independent repetitions (seed, seed+1, ...).")
@click.option("--cycles", default=6, type=int, help="Query cycles after the initial fit.")
@click.option("--initial", default="10%", help="Initial labeled set: a count or a percentage of the pool.")
@click.option("--query-size", default="5%", help="Labels added per cycle: a count or a percentage of the pool.")
@click.option("--subset", default=None, type=int, help="Score a random subset of this size (default: whole pool).")
@click.option("--epochs", default=20, type=int, help="Training epochs per cycle.")
@click.option("--lr", default=0.05, type=float, help="SGD learning rate (x0.1 at 80% of the epochs).")
@click.option("--batch-size", default="auto", help="Training batch size, or 'auto' (n/16 in [8, 128]).")
@click.option("--model", default="smallcnn", help="Network: smallcnn or resnet18.")
@click.option("--seed", default=0, type=int, help="Seed of trial 0; trial t uses seed + t.")
@click.option("--auxiliary", default="none", help="Auxiliary training loss: none, tod (EMA teacher + unlabeled "
              "consistency) or ll4al (loss prediction); the ll4al strategy always trains with ll4al.")
@click.option("--aux-weight", default=None, type=float,
              help="lambda of the auxiliary loss (default: the dataset's TOD weight, 0.02; 1.0 for ll4al).")
@click.option("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N].")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Run folder (default runs/<timestamp>); must be new or empty.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(strategies, out, quiet, batch_size, **settings):
    """Run an active-learning experiment and write config.json, results.jsonl, queries.jsonl, curve.png."""
    from tod_plugin.data import load_dataset
    from tod_plugin.experiment import RunConfig, RunStore, format_table, plot_curves, run_experiment
    from tod_plugin.experiment.progress import Progress

    if batch_size != "auto":
        try:
            batch_size = int(batch_size)
        except ValueError:
            raise click.BadParameter(f"must be 'auto' or a positive int, got {batch_size!r}",
                                     param_hint="--batch-size") from None
    config = RunConfig(strategies=strategies, batch_size=batch_size, **settings).validate()
    dataset = load_dataset(config.dataset)
    config.budget(len(dataset.X_train))
    out = Path(out) if out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    store = RunStore(out)
    store.create(config.to_dict())
    total = config.trials * len(config.strategies) * (config.cycles + 1)
    progress = Progress(total, config.trials, config.cycles, enabled=not quiet)
    started = time.perf_counter()
    try:
        run_experiment(config, dataset, store, progress)
    finally:
        progress.close()
    plot_curves(store.results, out / "curve.png", title=f"{config.dataset}: accuracy vs labels")
    click.echo(format_table(store.results))
    click.echo(f"\n{time.perf_counter() - started:.0f} s; results in {out}/ (results.jsonl, queries.jsonl, curve.png)")
