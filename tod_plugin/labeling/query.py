"""``query``: (re)train when the labels changed, score the pool, write the next round's sheet, commit.

Before every class has a label there is no model to score with: the round is a diverse first
batch instead — k-means (scikit-learn's ``KMeans``, k = the batch size, seeded) on the penultimate
features of the untrained (or ``--pretrained``) network, taking from each cluster the image
closest to its centre, largest clusters first (its score is the cluster's size). BAL and PT4AL
instead choose their initial set there (cycle 0 of their pool order), as their references do, so
that every later query is the next window of that order scored by the model. The strategy's
fitted state is kept between queries (sampler.py).

The pool is every readable image of the folder without a label, outside the validation set, and
not proposed by an earlier round (an image left unlabeled in a sheet is not proposed again).
"""
import inspect
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from ..errors import ConfigError
from ..inference import penultimate_features
from ..modal_compat import indices_and_scores
from ..validation import check_number
from . import model as models
from .pool import as_indices, class_counts, labels_digest, rescanned
from .sampler import new_sampler, save_sampler, saved_sampler
from .sheets import write_sheet


def validation_set(project, images):
    """``(X, y)`` of the project's validation images (decoded into the cache when missing), or None."""
    entries = project.validation
    if not entries:
        return None
    files = {e["sha256"]: Path(e["path"]) for e in entries}
    images.cache.add(files, quiet=True)
    readable = [e for e in entries if e["sha256"] in images.cache.rows]
    classes = project.state["classes"]
    X = images.cache.load([e["sha256"] for e in readable])
    y = np.array([classes.index(e["label"]) if e["label"] in classes else -1 for e in readable])
    return X, y


def accuracy(net, validation):
    if validation is None:
        return None
    X, y = validation
    return round(float((net.predict_proba(X).argmax(axis=1) == y).mean()), 4)


def diverse_batch(net, X, n, seed):
    """``(positions, cluster sizes)`` of ``n`` rows of ``X``: the row nearest each k-means centre of the
    net's features, largest clusters first."""
    features = penultimate_features(net, X).double().cpu().numpy()
    k = min(n, len(np.unique(features, axis=0)))  # identical images share their features
    kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(features)
    distance = np.linalg.norm(features - kmeans.cluster_centers_[kmeans.labels_], axis=1)
    sizes = np.bincount(kmeans.labels_, minlength=k)
    picks = []
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(kmeans.labels_ == cluster)
        if len(members):
            picks.append((members[np.argmin(distance[members])], sizes[cluster]))
    taken = {p for p, _ in picks}
    for position in np.argsort(-distance, kind="stable"):  # fewer distinct images than n: the farthest others
        if len(picks) == n:
            break
        if position not in taken:
            picks.append((position, 0))
    return np.array([p for p, _ in picks], dtype=np.intp), np.array([s for _, s in picks], dtype=np.float64)


def run_strategy(project, net, X_pool, X_labeled, n, number, say):
    """``(positions in X_pool of the n picks best first, their scores, the strategy)``: the project's
    sampler, restored from its committed state, takes its next cycle; one that refuses the pool
    (images it never saw) or fails on its restored state (well-formed data that does not fit) is
    replaced by a new one."""
    query, restored = saved_sampler(project, len(X_pool), say)
    extra = {"X_labeled": X_labeled} if "X_labeled" in inspect.signature(query).parameters else {}
    rng_seed = models.round_seed(project.settings.seed, number)
    try:
        result = query(net, X_pool, n_instances=n, random_state=np.random.RandomState(rng_seed), **extra)
    except (ValueError, TypeError, IndexError, KeyError) as exc:  # ConfigError is a ValueError
        if not restored:
            raise
        say(f"the saved {project.settings.strategy} sampler does not take this pool ({type(exc).__name__}: {exc}): "
            "starting a new one")
        query = new_sampler(project, len(X_pool))
        result = query(net, X_pool, n_instances=n, random_state=np.random.RandomState(rng_seed), **extra)
    return (*indices_and_scores(result), query)


def first_batch(project, net, X_pool, n, number, why, say):
    """``(positions, scores, sampler)`` of a round before every class has a label (``why`` says so). BAL
    and PT4AL choose their initial set (cycle 0 of their pool order, ``initial_indices``; no scores)
    when the project has no sampler yet; otherwise a diverse k-means batch (sampler None: unchanged)."""
    settings = project.settings
    source = "pretrained" if settings.pretrained else "untrained"
    if models.strategy_spec(settings).own_initial and project.state.get("sampler") is None:
        say(f"no model yet ({why}): proposing {settings.strategy}'s initial set, the head of its pool order")
        sampler = new_sampler(project, len(X_pool))
        return np.asarray(sampler.initial_indices(net, X_pool, n), dtype=np.intp), None, sampler
    say(f"no model yet ({why}): proposing a diverse first batch, k-means on the features of the {source} network")
    return (*diverse_batch(net, X_pool, n, models.round_seed(settings.seed, number)), None)


def query(project, n, quiet=False, say=print):
    """Write round ``len(rounds) + 1``'s sheet of ``n`` images and commit it; returns the round record."""
    n = check_number(n, "-n (images to label)", integral=True, low=0, low_open=True)
    started = time.perf_counter()
    settings, state = project.settings, project.state
    images, index_file = rescanned(project, quiet, say)
    classes, labels = state["classes"], state["labels"]
    number = len(state["rounds"]) + 1
    validation_hashes = {e["sha256"] for e in project.validation}
    proposed = {p for r in state["rounds"] for p in r["proposed"]}
    readable = images.readable(sorted(images.index))
    labeled = [p for p in readable if p in labels]
    pool = [p for p in readable if p not in labels and p not in proposed
            and images.index[p][2] not in validation_hashes]
    pending = sum(1 for p in proposed if p in images.index and p not in labels)
    if pending:
        say(f"{pending} image{'s' * (pending != 1)} proposed in earlier rounds still without a label "
            "are not proposed again")
    if not pool:
        raise ConfigError(f"nothing left to propose: all {len(readable)} readable images are labeled or proposed")
    if n > len(pool):
        say(f"-n {n} is more than the {len(pool)} images left: proposing them all")
        n = len(pool)
    X_pool = images.pixels(pool)
    counts = class_counts(labels, labeled, classes)
    record = {"round": number, "n_labeled": len(labeled), "labels_per_class": counts, "trained": False,
              "accuracy": None}
    model = state["model"]
    if min(counts.values()) == 0:
        missing = sum(1 for c in counts.values() if c == 0)
        net = models.initialized(models.new_net(settings, classes, number), settings)
        picks, scores, sampler = first_batch(project, net, X_pool, n, number,
                                             f"{missing} of {len(classes)} classes have no label", say)
        record["strategy"], predicted = "diverse" if sampler is None else f"{settings.strategy} initial set", None
    else:
        net, model, record = trained_net(project, images, labeled, X_pool, number, record, say)
        X_labeled = images.pixels(labeled)
        picks, scores, sampler = run_strategy(project, net, X_pool, X_labeled, n, number, say)
        record["strategy"] = settings.strategy
        predicted = net.predict_proba(X_pool[picks])
    kept = state.get("sampler") if sampler is None else save_sampler(sampler, project.models_dir, settings.strategy)
    rows = []
    for rank, position in enumerate(picks, 1):
        guess = predicted[rank - 1] if predicted is not None else None
        rows.append({"path": pool[position], "label": "",
                     "predicted": classes[int(guess.argmax())] if guess is not None else "",
                     "confidence": f"{guess.max():.4f}" if guess is not None else "",
                     "score": f"{scores[rank - 1]:.6g}" if scores is not None else "", "rank": rank})
    write_sheet(project.round_dir(number), settings.images_folder, rows, X_pool[picks],
                f"round {number}: {len(rows)} images to label")
    record.update(proposed=[r["path"] for r in rows], pool=len(pool),
                  seconds=round(time.perf_counter() - started, 3), time=time.strftime("%Y-%m-%d %H:%M:%S"))
    project.commit({**state, "index": index_file, "model": model, "sampler": kept,
                    "rounds": [*state["rounds"], record]})
    return record


def trained_net(project, images, labeled, X_pool, number, record, say):
    """The net to score round ``number`` with: the committed model, trained (warm start) first when the
    labels changed since it was trained (or the strategy needs its own fit); ``(net, model, record)``."""
    settings, state = project.settings, project.state
    classes, labels = state["classes"], state["labels"]
    digest = labels_digest([[p, images.index[p][2], labels[p][0]] for p in labeled], classes)
    model = state["model"]
    same_classes = model is not None and model["classes"] == classes
    net = models.new_net(settings, classes, number)
    if same_classes and (net.warm_start or model["labels_digest"] == digest):
        models.load_checkpoint(net, project.models_dir / model["file"], model["n_fits"], settings)
    elif model is not None and not same_classes:
        say(f"the classes changed ({len(model['classes'])} -> {len(classes)}): training a new network")
    must_fit = not same_classes or model["labels_digest"] != digest or models.needs_own_fit(settings)
    if not must_fit:
        return net, model, {**record, "accuracy": model.get("accuracy")}
    say(f"training on {len(labeled)} labels ({settings.epochs} epochs)")
    started = time.perf_counter()
    models.train(net, images.pixels(labeled), as_indices(labels, labeled, classes), X_pool, settings)
    validation = validation_set(project, images)
    model = {"file": models.save_checkpoint(net, project.models_dir), "labels_digest": digest,
             "n_fits": int(net.n_fits_), "classes": list(classes), "round": number,
             "accuracy": accuracy(net, validation)}
    if model["accuracy"] is not None:
        say(f"validation accuracy {100 * model['accuracy']:.1f}% ({len(validation[1])} images)")
    return net, model, {**record, "trained": True, "accuracy": model["accuracy"],
                        "train_seconds": round(time.perf_counter() - started, 3)}
