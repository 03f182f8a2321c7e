"""Accuracy per labeled-set size: mean and standard deviation over trials, as a table and a plot."""
import io
from collections import defaultdict

import numpy as np
from matplotlib.figure import Figure

from ..atomic import atomic_write_bytes


def curves(results):
    """``{strategy: (n_labeled array, mean array, std array)}`` from result records."""
    grouped = defaultdict(lambda: defaultdict(list))
    for r in results:
        grouped[r["strategy"]][r["n_labeled"]].append(r["accuracy"])
    out = {}
    for strategy, by_size in grouped.items():
        sizes = np.array(sorted(by_size))
        accs = [np.asarray(by_size[s]) for s in sizes]
        out[strategy] = (sizes, np.array([a.mean() for a in accs]), np.array([a.std() for a in accs]))
    return out


def format_table(results):
    """Rows: labels; columns: strategy mean +- std accuracy (%)."""
    table = curves(results)
    strategies = list(table)
    sizes = sorted({int(s) for sizes, _, _ in table.values() for s in sizes})
    header = f"{'labels':>8} " + " ".join(f"{name:>16}" for name in strategies)
    lines = [header, "-" * len(header)]
    for size in sizes:
        cells = []
        for name in strategies:
            sizes_s, mean, std = table[name]
            hit = np.flatnonzero(sizes_s == size)
            cells.append(f"{100 * mean[hit[0]]:9.2f} +- {100 * std[hit[0]]:4.2f}" if len(hit) else f"{'':>16}")
        lines.append(f"{size:>8} " + " ".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def plot_curves(results, path, title=None):
    """Accuracy vs labels, one line per strategy with a +-1 std band; written atomically as PNG."""
    fig = Figure(figsize=(6, 4), dpi=120)  # no pyplot: no global backend or figure registry is touched
    ax = fig.subplots()
    for name, (sizes, mean, std) in curves(results).items():
        ax.plot(sizes, 100 * mean, marker="o", label=name)
        ax.fill_between(sizes, 100 * (mean - std), 100 * (mean + std), alpha=0.2)
    ax.set_xlabel("labeled samples")
    ax.set_ylabel("test accuracy (%)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
