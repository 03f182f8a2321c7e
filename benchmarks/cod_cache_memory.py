"""COD's per-row state on the host, beyond the outputs it keeps: bytes per pool row, traced exactly.

``tracemalloc`` traces Python objects and numpy arrays (not torch tensors: the kept outputs, 4 x
classes bytes a row, and the score vectors are left out), so this counts what COD's output cache
adds per row: its row keys and index (retained until the next query) and the peak while a query
runs. Two queries of a SmallCNN on a synthetic uint8 3x32x32 pool of ``--rows`` rows, the second
after a fit (its reference outputs reused). Complements ``pool_scale.py``, whose RssAnon figures
are dominated by one batch of activations and allocator noise at small pools. Memory allocated
before a query (the previous cache) is not traced, so its peak leaves that out. No timing here:
tracing slows Python allocations (see ``pool_scale.py`` for img/s).

    OMP_NUM_THREADS=1 python benchmarks/cod_cache_memory.py --rows 20000
"""
import argparse
import tracemalloc

import numpy as np
import torch

from tod_plugin import ALNetClassifier
from tod_plugin.models import SmallCNN
from tod_plugin.strategies import cod_sampling


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    pool = rng.integers(0, 256, size=(args.rows, 3, 32, 32), dtype=np.uint8)
    X, y = pool[:500], rng.integers(0, 10, size=500)
    net = ALNetClassifier(SmallCNN, module__in_channels=3, module__num_classes=10, classes=np.arange(10),
                          max_epochs=1, random_state=0, device="cpu", warm_start=True).fit(X, y)
    cod_sampling(net, pool[:1024], 10)  # warm-up (a 1,024-row cache)
    for label in ("first query", "after a fit (reuse)"):
        if label.startswith("after"):
            net.fit(X, y)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        cod_sampling(net, pool, 1000)
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{args.rows:,d} rows, {label:20s}: host state retained {(retained - before) / args.rows:6.1f} B/row, "
              f"peak {(peak - before) / args.rows:6.1f} B/row (the outputs, 40 B/row, not included)", flush=True)


if __name__ == "__main__":
    main()
