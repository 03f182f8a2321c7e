"""``tod-al init / query / teach / status / predict / export``: label a folder of images round by round."""
import click

from tod_plugin import labeling
from tod_plugin.labeling.commands import parse_classes

WAIT = click.option("--wait", default=10.0, type=click.FloatRange(min=0), show_default=True,
                    help="Seconds to wait for another command on the same project to finish.")
QUIET = click.option("--quiet", is_flag=True, help="No progress bar.")


def _say(line):
    click.echo(line)


@click.command()
@click.argument("project", type=click.Path(file_okay=False))
@click.option("--images", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of images to label (searched recursively: jpg, jpeg, png, bmp, webp, tif, ...).")
@click.option("--classes", default="", help="Comma list of class names (optional with --labels).")
@click.option("--labels", default=None, type=click.Path(dir_okay=False),
              help="A path,label CSV of images already labeled (paths relative to the images folder).")
@click.option("--validation", default=None, type=click.Path(dir_okay=False),
              help="A path,label CSV of held-out labeled images (paths relative to the CSV), for accuracy per round.")
@click.option("--model", default=None, help="Network (tod-al run's --model); default: tod-al run's default.")
@click.option("--pretrained", default=None, type=click.Path(dir_okay=False),
              help="resnet18-imagenet: a local torchvision ResNet-18 ImageNet state dict.")
@click.option("--strategy", default="cod", help="Any strategy tod-al run knows (cod, tod, coreset, random, ...).")
@click.option("--image-size", default=None, type=int,
              help="Side images are resized and centre-cropped to (default 32; 224 for resnet18-imagenet).")
@click.option("--epochs", default=20, type=int, help="Training epochs each time the labels changed.")
@click.option("--lr", default=0.05, type=float, help="SGD learning rate.")
@click.option("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N].")
@click.option("--seed", default=0, type=int, help="Seed of the network, the first batch and the strategy.")
@click.option("--hflip/--no-hflip", default=True, help="Random horizontal flips in training (off for text, digits).")
@QUIET
def init(project, images, classes, labels, validation, quiet, model, **settings):
    """Make a labeling PROJECT folder for the images under --images (decoded once into a cache)."""
    settings["model"] = model or labeling.ProjectSettings.model
    done = labeling.init(project, images, parse_classes(classes), labels, validation, quiet, _say, **settings)
    click.echo(f"project {project}: {done['readable']} images, classes {', '.join(done['classes'])}; "
               f"{done['labels']} labels" + (", a validation set" if done["validation"] else "")
               + f"\nnext: tod-al query {project} -n 100")


@click.command()
@click.argument("project", type=click.Path(exists=True, file_okay=False))
@click.option("-n", "n", default=100, type=int, help="Images to propose in this round.")
@WAIT
@QUIET
def query(project, n, wait, quiet):
    """Train on the labels so far (when they changed) and write the next round's sheet to label."""
    record = labeling.query(project, n, wait, quiet, _say)
    folder = f"{project}/rounds/{record['round']:03d}"
    click.echo(f"round {record['round']}: {len(record['proposed'])} images ({record['strategy']}) in "
               f"{folder}/to_label.csv and to_label.html\nnext: fill the label column, then tod-al teach {project} "
               f"{folder}/to_label.csv")


@click.command()
@click.argument("project", type=click.Path(exists=True, file_okay=False))
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--path-column", default="path", help="Column holding the image paths.")
@click.option("--label-column", default="label", help="Column holding the labels.")
@click.option("--add-class", is_flag=True, help="Accept labels that are not classes yet (they become classes).")
@click.option("--relabel", is_flag=True, help="Allow changing labels given before.")
@WAIT
def teach(project, csv_file, path_column, label_column, add_class, relabel, wait):
    """Record the labels of CSV_FILE (path,label; every row is checked before anything changes)."""
    done = labeling.teach(project, csv_file, wait, path_column, label_column, add_class, relabel)
    extra = f"; new classes: {', '.join(done['new_classes'])}" if done["new_classes"] else ""
    click.echo(f"{done['new']} new labels, {done['changed']} changed; {done['labels']} in all{extra}")


@click.command()
@click.argument("project", type=click.Path(exists=True, file_okay=False))
@WAIT
def status(project, wait):
    """Labels per class and the rounds (validation accuracy, time); writes PROJECT/status.png."""
    summary, rounds, plot = labeling.status(project, wait)
    click.echo(labeling.format_status(summary, rounds))
    if plot is not None:
        click.echo(f"\nplot: {plot}")


@click.command()
@click.argument("project", type=click.Path(exists=True, file_okay=False))
@click.option("--images", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of images.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="CSV to write.")
@WAIT
@QUIET
def predict(project, images, out, wait, quiet):
    """Label the images under --images with the project's model: path,label,confidence."""
    count = labeling.predict(project, images, out, wait, quiet, _say)
    click.echo(f"{count} predictions in {out}")


@click.command()
@click.argument("project", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="CSV to write.")
@WAIT
def export(project, out, wait):
    """Every label collected, with the round it came from: path,label,round."""
    click.echo(f"{labeling.export(project, out, wait)} labels in {out}")


COMMANDS = (init, query, teach, status, predict, export)
