"""``tod-al run``: one experiment, trials x strategies x cycles, into a run folder."""
import click
from click.core import ParameterSource

from tod_plugin.experiment import execute_run, format_table, prepare_run


def _comma_list(ctx, param, value):
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _batch_size(ctx, param, value):
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"must be 'auto' or a positive int, got {value!r}",
                                 param_hint="--batch-size") from None


def _milestones(ctx, param, value):
    if value is None or value.strip().lower() == "none":
        return None if value is None else ()
    try:
        return tuple(int(item) for item in _comma_list(ctx, param, value))
    except ValueError:
        raise click.BadParameter(f"must be a comma list of epochs or 'none', got {value!r}") from None


def _check_milestones(ctx, settings, resume):
    """--milestones past --epochs would never drop the LR (a preset's own milestones are its paper's)."""
    def explicit(name):
        return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE

    milestones = settings["milestones"]
    if milestones and explicit("milestones") and not resume and (explicit("epochs") or not settings["preset"]) \
            and max(milestones) > settings["epochs"]:
        raise click.BadParameter(f"epochs where the LR drops must be within --epochs {settings['epochs']}, got "
                                 f"{','.join(map(str, milestones))}", param_hint="--milestones")


@click.command()
@click.option("--preset", default=None,
              help="A paper protocol (tod-al presets lists them); flags given on the command line override it.")
@click.option("--dataset", default="digits",
              help="digits (embedded), cifar10, cifar100, cifar10im, cifar100im, svhn, caltech101 (as the TOD "
              "reference: 256x256 stretch, its statistics; caltech101-keep-aspect resizes the short side), caltech256, "
              "tinyimagenet or imagefolder:PATH (PATH/train/<class>/*, PATH/test/<class>/*).")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Data folder (default: $TOD_DATA_DIR, else ./data); tod-al datasets shows what is there.")
@click.option("--download", is_flag=True, help="Fetch a missing dataset with torchvision (nothing is fetched without).")
@click.option("--cache-dir", default=None, type=click.Path(file_okay=False),
              help="caltech101, caltech256, tinyimagenet, imagefolder: folder of the decoded-image cache (uint8 "
              ".npy, memory-mapped; default: .tod-cache next to the data).")
@click.option("--image-size", default=None, type=int,
              help="caltech101[-keep-aspect], caltech256, imagefolder: side of the images stored at load time "
              "(default 224).")
@click.option("--strategy", "strategies", default="cod,random", callback=_comma_list,
              help="Comma list of strategies: cod, tod, ll4al, stconal, stconal-ema, bal, pt4al, coreset, entropy, "
              "margin, least-confidence, bald, badge, vaal, typiclust, probcover, random, or auto (TypiClust below "
              "10 labels per class, then BADGE); NAME+tod or NAME+ll4al trains that strategy's net with an "
              "auxiliary loss (e.g. cod+tod).")
@click.option("--trials", default=3, type=int, help="Independent repetitions (seed, seed+1, ...).")
@click.option("--cycles", default=6, type=int, help="Query cycles after the initial fit.")
@click.option("--initial", default="10%", help="Initial labeled set: a count or a percentage of the pool.")
@click.option("--query-size", default="5%", help="Labels added per cycle: a count or a percentage of the pool.")
@click.option("--subset", default=None, type=int, help="Score a random subset of this size (default: whole pool).")
@click.option("--epochs", default=20, type=int, help="Training epochs per cycle.")
@click.option("--lr", default=0.05, type=float, help="SGD learning rate (x0.1 at each milestone).")
@click.option("--milestones", default=None, callback=_milestones,
              help="Comma list of epochs where the LR drops x0.1 (default: 80% of the epochs); none: constant.")
@click.option("--batch-size", default="auto", callback=_batch_size,
              help="Training batch size, or 'auto' (n/16 in [8, 128]).")
@click.option("--model", default="layoutcnn", help="Network: layoutcnn (small CPU CNN, 8-64 px), smallcnn (the former "
              "default), resnet18 (CIFAR) or resnet18-imagenet (224 px).")
@click.option("--pretrained", default=None, type=click.Path(dir_okay=False),
              help="resnet18-imagenet: a local torchvision ResNet-18 ImageNet state dict (resnet18-f37072fd.pth).")
@click.option("--freeze-backbone", is_flag=True,
              help="resnet18-imagenet with --pretrained: train only the classifier heads (pretrained features, CPU-friendly).")
@click.option("--seed", default=0, type=int, help="Seed of trial 0; trial t uses seed + t.")
@click.option("--auxiliary", default="none", help="Auxiliary training loss: none, tod (EMA teacher + unlabeled "
              "consistency) or ll4al (loss prediction); the ll4al strategy always trains with ll4al.")
@click.option("--aux-weight", default=None, type=float,
              help="lambda of the auxiliary loss (default: the dataset's TOD weight, 0.02; 1.0 for ll4al).")
@click.option("--beta", default=1.2, type=float, help="BAL balance factor: window length / per-cycle budget.")
@click.option("--bal-stride", default=None,
              help="BAL window stride (the reference's --addendum): a count or a percentage of the pool "
              "(default: the query size).")
@click.option("--pretext-epochs", default=None, type=int,
              help="Epochs of the BAL / PT4AL rotation pretext (default: each reference's, 120 / 15; the LR "
              "still drops at epochs 30, 60, 90).")
@click.option("--first-cycle", default="highest",
              help="COD's pick while its reference is the untrained net: highest, or lowest as the TOD reference code.")
@click.option("--dropout", default=None, type=float,
              help="Dropout before the classifier for every strategy's net (default: 0.3 for bald, none otherwise).")
@click.option("--reinit/--no-reinit", default=None,
              help="Re-initialise the net every cycle (default: yes for stconal and stconal-ema, no for the others).")
@click.option("--lr-schedule", default="multistep",
              help="constant, multistep (x0.1 at the milestones) or cosine-restarts (ST-CoNAL snapshot cycles).")
@click.option("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N].")
@click.option("--precision", default="auto",
              help="auto (bf16 autocast on CUDA, fp32 on CPU), fp32 or bf16 (an opt-in on CPU).")
@click.option("--compile", is_flag=True,
              help="torch.compile the network (compiled once per process, reused by every cycle and trial).")
@click.option("--workers", default=1, type=click.IntRange(min=1),
              help="Run the (trial, strategy) jobs in N processes, one GPU each where there are several; "
              "same results as one process. Under torchrun the ranks share the pool scoring instead.")
@click.option("--ray-address", default=None,
              help="Run the jobs as Ray tasks (pip install \"tod-plugin[ray]\"): local starts a Ray instance on "
              "this machine, auto joins the running cluster, or ray://HOST:PORT; with --workers N at most N jobs "
              "at once. On several nodes the run folder must be on a filesystem every node sees.")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Run folder (default runs/<timestamp>); must be new or empty.")
@click.option("--resume", default=None, type=click.Path(file_okay=False),
              help="Continue the run in this folder after its last finished cycles (same settings).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def run(ctx, out, resume, quiet, workers, ray_address, cache_dir, **settings):
    """Run an active-learning experiment and write config.json, results.jsonl, queries.jsonl, curve.png.

    Interrupted runs continue with --resume RUN_DIR and end with the same results as an uninterrupted run.
    """
    _check_milestones(ctx, settings, resume)
    given = [name for name in settings if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
    prepared = prepare_run(settings, given, out=out, resume=resume, workers=workers, ray_address=ray_address,
                           cache_dir=cache_dir)
    finished = execute_run(prepared, quiet)
    if finished is None:  # a torchrun rank other than 0: rank 0 reports
        return
    click.echo(format_table(finished.results))
    click.echo(f"\n{finished.seconds:.0f} s; results in {prepared.store.root}/ (results.jsonl, queries.jsonl, "
               "curve.png)")
