"""Pool scoring sharded over processes with ``torch.distributed`` (run the CLI under ``torchrun``).

Every rank runs the same experiment (same seeds, same queries); only the pool scoring is split.
The pool is cut into contiguous shards made of whole evaluation batches, so each rank feeds its
models exactly the batches a single process would, and the gathered scores equal the
single-process ones. ``all_gather`` needs equal sizes: shards are padded to the longest one and
the padding is dropped after the gather. Before scoring, every rank takes rank 0's weights, so the
ranks agree even where GPU training is not bitwise reproducible. Backends: NCCL on CUDA, gloo on
CPU.
"""
import os

import torch
import torch.distributed as dist


def is_active():
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank():
    return dist.get_rank() if is_active() else 0


def world_size():
    return dist.get_world_size() if is_active() else 1


def init_from_env():
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1).

    Picks NCCL and the GPU ``LOCAL_RANK`` when CUDA is available, gloo otherwise. Returns this
    process's rank (0 when not launched by ``torchrun``).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return 0
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank()


def shard_bounds(n_rows, batch_size, rank, world_size):
    """Rows ``[start, stop)`` of ``rank``: a contiguous run of whole batches of ``batch_size``.

    The ``ceil(n_rows / batch_size)`` batches are split as evenly as possible (the first ranks get
    one more); a rank can get no rows when there are fewer batches than ranks.
    """
    n_batches = -(-n_rows // batch_size)
    base, extra = divmod(n_batches, world_size)
    first = rank * base + min(rank, extra)
    last = first + base + (rank < extra)
    return min(first * batch_size, n_rows), min(last * batch_size, n_rows)


def _comm_device():
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def gather_rows(local, counts):
    """Every rank's ``local`` rows concatenated in rank order (a CPU tensor, on every rank).

    ``counts[r]`` is the number of rows of rank r. Each shard is padded to the longest before
    ``all_gather`` and trimmed after. A rank without rows passes ``local=None``; the row shape and
    dtype come from the others (bf16 travels as fp32, which holds it exactly).
    """
    described = [None] * len(counts)
    dist.all_gather_object(described, None if local is None else (tuple(local.shape[1:]), local.dtype))
    row_shape, dtype = next(d for d in described if d is not None)
    wire = torch.float32 if dtype == torch.bfloat16 else dtype
    device = _comm_device()
    padded = torch.zeros((max(counts),) + row_shape, dtype=wire, device=device)
    if local is not None and len(local):
        padded[:len(local)] = local.to(device=device, dtype=wire)
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded)
    return torch.cat([part[:count] for part, count in zip(parts, counts)]).to("cpu", dtype)


@torch.no_grad()
def broadcast_modules(models):
    """Overwrite every model's parameters and buffers with rank 0's, in place."""
    for model in models:
        for tensor in model.state_dict(keep_vars=True).values():
            if tensor.device.type != _comm_device().type:
                raise RuntimeError(f"models must be on {_comm_device()} for {dist.get_backend()} scoring")
            dist.broadcast(tensor.detach(), src=0)
