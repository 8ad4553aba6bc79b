"""`pcc train` under `torchrun --nproc_per_node N`: one process per GPU (or CPU process, with gloo), DDP.

torchrun starts N copies of `pcc train` with RANK, LOCAL_RANK and WORLD_SIZE set. Every copy reads the same
data, makes the same folds and runs the same fits, the transformers Trainer splitting each batch stream across
them and averaging gradients. Only rank 0 (the *main* process) writes: the run directory, `models/latest`, and
what is printed. The others wait for it where it matters (`main_first`, `broadcast`). A plain `pcc train` is a
world of one, for which every helper here does nothing.
"""
from __future__ import annotations

import builtins
import os
from contextlib import contextmanager
from typing import Iterator, TypeVar

T = TypeVar("T")


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def start() -> None:
    """Join the process group torchrun set up the environment for (NCCL with GPUs, gloo without); the Trainer
    then finds it joined. Nothing for a single process."""
    if world_size() == 1:
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")


def barrier() -> None:
    if _joined():
        import torch.distributed as dist

        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (building a missing `models/base`, say), the others after it, so
    none of them sees a half-written result."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def broadcast(value: T) -> T:
    """The main process's `value`, in every process."""
    if not _joined():
        return value
    import torch.distributed as dist

    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def say(*args, **kwargs) -> None:
    """`print`, in the main process only: N processes would print every line N times."""
    if is_main():
        builtins.print(*args, **kwargs)


def finish() -> None:
    """Leave the process group (after every process is done)."""
    if _joined():
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def _joined() -> bool:
    if world_size() == 1:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()
