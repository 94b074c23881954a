"""Where a run computes: the accelerator, the precision, and how many processes share the batch.

The same config runs on a CPU, a GPU, several GPUs or several machines; these functions turn its
``precision``, ``accelerator``, ``devices``, ``num_nodes`` and ``strategy`` into Lightning's
arguments, and check them before any work starts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from kaibert.run.config import is_int, require

PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")

PRECISION_HELP = ("`auto` (bf16 mixed precision on a GPU that has it, fp16 on an older GPU, fp32 "
                  "on CPU), `32-true`, `bf16-mixed` or `16-mixed`")
ACCELERATOR_HELP = ("Lightning's accelerator: `auto` (a GPU when there is one, else the CPU), "
                    "`cpu`, `gpu`, `cuda`, `mps`")


def pick_precision(name: str) -> str:
    """Lightning's precision for a config's ``precision``: ``auto`` picks what the hardware has."""
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def uses_gpu(accelerator: str) -> bool:
    """Whether the run will use a GPU: the accelerator asks for one, or is 'auto' and one is there."""
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def strategies() -> list[str]:
    """The names of Lightning's strategies (``ddp``, ``fsdp``, ...)."""
    try:
        from pytorch_lightning.strategies import StrategyRegistry
    except ImportError:  # pragma: no cover - Lightning is part of the [train] extra
        return ["ddp", "fsdp"]
    return list(StrategyRegistry.available_strategies())


def processes(devices, num_nodes: int) -> int | None:
    """How many processes share a step's batch, when the config says it without asking the hardware."""
    if isinstance(devices, list):
        return len(devices) * num_nodes
    if is_int(devices) and devices >= 1:
        return devices * num_nodes
    return None


def check_precision(name: str, value) -> None:
    require(value in PRECISIONS, name, value, f"choose one of {PRECISIONS}")
    if value in ("bf16-mixed", "16-mixed"):
        require(torch.cuda.is_available(), name, value,
                "mixed precision needs a GPU and none is visible; use 'auto' or '32-true'")


def check_accelerator(name: str, value) -> None:
    require(value in ACCELERATORS, name, value, f"choose one of {ACCELERATORS}")
    if value in ("gpu", "cuda"):
        require(torch.cuda.is_available(), name, value,
                "no GPU is visible to PyTorch here; use 'auto' or 'cpu'")


def check_processes(prefix: str, devices, num_nodes, strategy) -> None:
    """Check ``devices``, ``num_nodes`` and ``strategy`` (keys named ``prefix.devices`` ...)."""
    require((is_int(devices) and devices >= 1) or devices in ("auto", -1)
            or (isinstance(devices, list) and devices and all(is_int(i) and i >= 0 for i in devices)),
            f"{prefix}devices", devices, "use a positive number, 'auto', or a list of GPU indices")
    require(is_int(num_nodes) and num_nodes >= 1, f"{prefix}num_nodes", num_nodes,
            "use a positive integer")
    known = strategies()
    require(isinstance(strategy, str) and (strategy == "auto" or strategy in known),
            f"{prefix}strategy", strategy, f"choose 'auto' or one of Lightning's: {sorted(known)}")
    require(not strategy.startswith("ddp_spawn"), f"{prefix}strategy", strategy,
            "the command cannot hand its batches to spawned processes; use 'ddp' (the same "
            "training, started by the command itself)")


def process_rank() -> int:
    """This process's global rank, from what the launcher set (torchrun, srun or Lightning); 0 alone.

    Read before Lightning starts, to decide who writes the config and prepares the data.
    """
    env = os.environ
    if "RANK" in env:                                       # torchrun, and Lightning's own launcher
        return int(env["RANK"])
    if "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1:  # srun
        return int(env["SLURM_PROCID"])
    if "LOCAL_RANK" in env:                                 # Lightning's launcher on one machine
        return int(env.get("NODE_RANK", 0)) * int(env.get("LOCAL_WORLD_SIZE", 1)) + int(env["LOCAL_RANK"])
    return 0


def wait_for(path: Path, minutes: float = 30.0) -> None:
    """Wait until process 0 has written ``path`` (a shared folder across machines is assumed)."""
    deadline = time.time() + 60 * minutes
    while not path.exists():
        if time.time() > deadline:
            raise RuntimeError(f"waited {minutes} minutes for {path}, which process 0 writes; is "
                               "output_dir on a file system that all machines share?")
        time.sleep(1.0)
