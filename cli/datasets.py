"""``tod-al datasets``: each dataset, where its files are looked for, and whether they are there."""
import click

from tod_plugin.data import LOADERS, SOURCES, data_root


@click.command()
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Data folder (default: $TOD_DATA_DIR, else ./data).")
def datasets(data_dir):
    """List the datasets, where each is looked for and whether it is present (no checksums are computed)."""
    root = data_root(data_dir)
    click.echo(f"data folder: {root}  (--data-dir, else $TOD_DATA_DIR, else ./data)")
    rows = []
    for name in LOADERS:
        source = SOURCES[name]
        if source is None:
            rows.append((name, "embedded", "bundled with scikit-learn, nothing to fetch"))
            continue
        missing = source.missing(root)
        status = "present" if not missing else "missing"
        where = str(source.path(root)) + (f"  (no {', '.join(missing)}; --download fetches it)" if missing else "")
        rows.append((name, status, where))
    rows.append(("imagefolder:PATH", "-", "PATH/train/<class>/*.jpg and PATH/test/<class>/*.jpg"))
    width = max(len(name) for name, _, _ in rows)
    for name, status, where in rows:
        click.echo(f"{name:<{width}}  {status:<8}  {where}")
