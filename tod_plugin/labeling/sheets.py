"""CSV and HTML files a person reads or fills: round sheets, label CSVs, predictions, exports.

Every file is written whole and atomically. Paths in them are relative to the images folder
(POSIX form), so a project and its sheets can move together with the images.
"""
import base64
import csv
import html
import io
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

from ..atomic import atomic_write_text
from ..errors import ConfigError

SHEET_COLUMNS = ("path", "label", "predicted", "confidence", "score", "rank")
THUMBNAIL_PX = 96


def write_csv(path, header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_csv_rows(path, path_column="path", label_column="label"):
    """``[(line, path, label)]`` of a CSV with a header (extra columns ignored); line numbers count
    the header as line 1, as a spreadsheet shows them. Cells are stripped."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in (path_column, label_column) if c not in header]
            if header and missing:
                raise ConfigError(
                    f"{path} has no column {missing[0]!r} (its columns: {', '.join(header)}); name the columns "
                    "with --path-column and --label-column")
            return [(reader.line_num, (row.get(path_column) or "").strip(), (row.get(label_column) or "").strip())
                    for row in reader]
    except FileNotFoundError:
        raise ConfigError(f"no file {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path} cannot be read as a CSV file ({exc})") from None


def relative_key(value, folder):
    """The index key (POSIX path relative to ``folder``) of a path as written in a CSV (relative to
    ``folder``, or absolute), or None when it points outside ``folder``."""
    full = os.path.normpath(Path(folder) / value)  # an absolute value replaces the folder
    relative = os.path.relpath(full, folder)
    if relative == "." or relative == ".." or relative.startswith(".." + os.sep):
        return None
    return Path(relative).as_posix()


def write_sheet(folder, images_folder, rows, thumbnails, title):
    """``to_label.csv`` and ``to_label.html`` in ``folder``: ``rows`` are dicts with the columns of
    :data:`SHEET_COLUMNS`, best first; ``thumbnails`` the decoded images (N, 3, S, S) in that order."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "to_label.csv", SHEET_COLUMNS, [[row[c] for c in SHEET_COLUMNS] for row in rows])
    cells = []
    for row, image in zip(rows, thumbnails):
        link = quote(Path(os.path.relpath(Path(images_folder) / row["path"], folder)).as_posix())
        guess = f"{html.escape(row['predicted'])} ({row['confidence']})" if row["predicted"] else "no model yet"
        cells.append(f'<figure><a href="{link}"><img src="data:image/png;base64,{png_base64(image)}" '
                     f'width="{THUMBNAIL_PX}" height="{THUMBNAIL_PX}"></a><figcaption>#{row["rank"]} '
                     f'{html.escape(row["path"])}<br>guess: {guess}</figcaption></figure>')
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif}figure{display:inline-block;width:140px;margin:6px;vertical-align:top;"
            "font-size:11px;word-break:break-all}img{image-rendering:pixelated;border:1px solid #ccc}</style>"
            f"</head><body><h1>{html.escape(title)}</h1><p>Fill the label column of to_label.csv "
            "(same order as below), then: tod-al teach PROJECT to_label.csv</p>\n" + "\n".join(cells)
            + "\n</body></html>\n")
    atomic_write_text(folder / "to_label.html", page)


def png_base64(image):
    """A (3, H, W) uint8 image as base64 PNG text."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
