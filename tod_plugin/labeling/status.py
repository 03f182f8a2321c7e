"""``status``: labels per class, the rounds with their validation accuracy, and ``status.png``."""
import io

from matplotlib.figure import Figure

from ..atomic import atomic_write_bytes


def status_rows(project, index):
    """``(summary, rounds)``: a dict of counts and per-class labels, and one dict per round."""
    state = project.state
    labels = state["labels"]
    in_folder = [p for p in labels if p in index]
    per_class = dict.fromkeys(state["classes"], 0)
    for path in in_folder:
        per_class[labels[path][0]] += 1
    summary = {"project": str(project.root), "images": len(index), "labeled": len(in_folder),
               "labels_elsewhere": len(labels) - len(in_folder), "per_class": per_class,
               "strategy": project.settings.strategy, "model": project.settings.model,
               "validation": len(project.validation)}
    rounds = [{"round": r["round"], "strategy": r["strategy"], "labels": r["n_labeled"],
               "proposed": len(r["proposed"]), "labeled_since": sum(1 for p in r["proposed"] if p in labels),
               "trained": r["trained"], "accuracy": r["accuracy"], "seconds": r["seconds"]} for r in state["rounds"]]
    return summary, rounds


def format_status(summary, rounds):
    """The table ``tod-al status`` prints."""
    lines = [f"{summary['project']}: {summary['images']} images, {summary['labeled']} labeled "
             f"(strategy {summary['strategy']}, model {summary['model']})"]
    if summary["labels_elsewhere"]:
        lines[0] += f"; {summary['labels_elsewhere']} labels of images no longer in the folder"
    width = max(len(c) for c in summary["per_class"])
    lines += ["", f"{'class':<{width}}  labels"] + [f"{c:<{width}}  {n:>6}" for c, n in summary["per_class"].items()]
    if rounds:
        lines += ["", "round  strategy  labels  proposed  labeled  trained  val acc  seconds"]
        for r in rounds:
            acc = f"{100 * r['accuracy']:6.1f}%" if r["accuracy"] is not None else "      -"
            lines.append(f"{r['round']:>5}  {r['strategy']:<8}  {r['labels']:>6}  {r['proposed']:>8}  "
                         f"{r['labeled_since']:>7}  {'yes' if r['trained'] else 'no':>7}  {acc}  {r['seconds']:>7.1f}")
    return "\n".join(lines)


def plot_status(state, path):
    """Validation accuracy vs labels and labels per class over the rounds, as PNG (atomically)."""
    rounds = state["rounds"]
    fig = Figure(figsize=(10, 4), dpi=110)  # no pyplot: no global backend or figure registry is touched
    left, right = fig.subplots(1, 2)
    measured = [r for r in rounds if r["accuracy"] is not None]
    left.plot([r["n_labeled"] for r in measured], [100 * r["accuracy"] for r in measured], marker="o")
    left.set_xlabel("labels (when the round's model was trained)")
    left.set_ylabel("validation accuracy (%)")
    left.grid(alpha=0.3)
    numbers = [r["round"] for r in rounds]
    for name in state["classes"]:
        right.plot(numbers, [r["labels_per_class"].get(name, 0) for r in rounds], marker=".", label=name)
    right.set_xlabel("round")
    right.set_ylabel("labels per class")
    right.grid(alpha=0.3)
    if len(state["classes"]) <= 20:
        right.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
