"""Pool scoring sharded over 2 gloo processes equals single-process scoring, uneven shards included."""
import os
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist

from nets import make_net
from gloo_ranks import run_two_ranks
from tod_plugin import distributed
from tod_plugin.inference import score_pool
from tod_plugin.scoring import output_discrepancy
from tod_plugin.strategies import cod_sampling
from tod_plugin_cli.main import main

CASES = {"uneven": 83, "one_rank_idle": 10}  # eval batches of 16: 48 + 35 rows; 10 + 0 rows


@pytest.mark.parametrize("n_rows, batch_size, expected", [
    (83, 16, [(0, 48), (48, 83)]),
    (10, 16, [(0, 10), (10, 10)]),
    (100, 10, [(0, 40), (40, 70), (70, 100)]),
    (0, 8, [(0, 0), (0, 0)]),
])
def test_shards_are_whole_batches_covering_the_pool(n_rows, batch_size, expected):
    world = len(expected)
    assert [distributed.shard_bounds(n_rows, batch_size, r, world) for r in range(world)] == expected


def test_not_active_without_a_process_group():
    assert not distributed.is_active()
    assert (distributed.rank(), distributed.world_size()) == (0, 1)


def _scores(net, X):
    """COD-like scoring of ``X``: all scores, the kept current outputs, and scores with half the
    reference outputs given."""
    reference = net.copy_module_with(net.reference_state_)
    scores, current = score_pool(net, X, [net.module_, reference], output_discrepancy, keep=0)
    with torch.inference_mode():
        ref_outputs = reference(net.batch_preparer(torch.as_tensor(X), False))
    mask = np.arange(len(X)) % 2 == 0
    partial = score_pool(net, X, [net.module_, reference], output_discrepancy,
                         known={1: lambda start, stop, rows: (mask[start:stop], ref_outputs[start:stop])})
    return scores, current, partial


def _rank_main(rank, init_file, net_blob, pools, out_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        net = pickle.loads(net_blob)
        if rank == 1:  # a diverged replica: scoring must use rank 0's weights
            with torch.no_grad():
                for p in net.module_.parameters():
                    p.add_(1.0)
        results = {name: _scores(net, X) for name, X in pools.items()}
        results["cod"] = np.asarray(cod_sampling(net, pools["uneven"], n_instances=5, random_state=0))
        local = torch.arange(6, dtype=torch.bfloat16).reshape(3, 2) + 0.5 if rank == 0 else None
        results["gathered"] = distributed.gather_rows(local, [3, 0])
        if rank == 1:
            with open(out_file, "wb") as f:
                pickle.dump(results, f)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_score_like_one(tmp_path, small_split):
    X_l, y_l, X_pool, _, _, _ = small_split
    net = make_net(eval_batch_size=16).fit(X_l, y_l)
    pools = {name: X_pool[:n] for name, n in CASES.items()}
    out_file = tmp_path / "rank1.pkl"
    run_two_ranks(_rank_main, (str(tmp_path / "init"), pickle.dumps(net), pools, str(out_file)))
    with open(out_file, "rb") as f:
        sharded = pickle.load(f)

    for name, X in pools.items():
        single = _scores(net, X)
        np.testing.assert_array_equal(sharded[name][0], single[0])  # bit for bit
        assert sharded[name][1].dtype == single[1].dtype and torch.equal(sharded[name][1], single[1])
        np.testing.assert_array_equal(sharded[name][2], single[2])
        np.testing.assert_array_equal(single[2], single[0])  # given outputs are the recomputed ones
    np.testing.assert_array_equal(sharded["cod"], np.asarray(cod_sampling(net, pools["uneven"], 5, random_state=0)))
    expected = torch.arange(6, dtype=torch.bfloat16).reshape(3, 2) + 0.5
    assert sharded["gathered"].dtype == torch.bfloat16 and torch.equal(sharded["gathered"], expected)


def test_cli_under_torchrun_queries_like_one_process(tmp_path):
    """Two gloo ranks share the pool scoring; rank 0 alone writes the run folder."""
    args = ["run", "--strategy", "cod", "--trials", "1", "--cycles", "2", "--epochs", "1", "--initial", "30",
            "--query-size", "10", "--quiet"]
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
                "-m", "tod_plugin_cli.main"]
    subprocess.run([*launcher, *args, "--out", str(tmp_path / "ranks")], check=True, timeout=300,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "single")])
    assert exit_info.value.code == 0
    assert sorted(p.name for p in (tmp_path / "ranks").iterdir()) == sorted(p.name for p in (tmp_path / "single").iterdir())
    assert (tmp_path / "ranks" / "queries.jsonl").read_text() == (tmp_path / "single" / "queries.jsonl").read_text()
