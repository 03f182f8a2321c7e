"""Two forked processes of a gloo (CPU) process group, for the torch.distributed tests."""
import time

import pytest
import torch.multiprocessing as mp


def run_two_ranks(target, args, timeout=300):
    """Run ``target(rank, *args)`` in 2 forked processes and wait for both; kill them and fail the
    test after ``timeout`` seconds. Fork: the children need no imports (the test process runs torch
    on one thread, so fork is safe)."""
    ranks = mp.start_processes(target, args=args, nprocs=2, join=False, start_method="fork")
    deadline = time.monotonic() + timeout
    while not ranks.join(timeout=1):
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail("the 2-process gloo run did not finish")
