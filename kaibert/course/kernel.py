"""Run a notebook's code cells in a fresh kernel, sandboxed or not: one typed outcome per cell.

nbclient drives the kernel (``NotebookClient.execute_cell``); this module only decides which
kernel starts (a bubblewrap command line around ``ipykernel``, talking over Unix sockets, or a
plain local kernel), how long each cell may run, and what happens when a cell kills its kernel,
runs too long or prints too much. It knows nothing about exercises: ``kaibert.course.grade``
turns the outcomes into verdicts.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from kaibert.course import sandbox as sb

OK, ERROR, TIMEOUT, DIED, TOO_MUCH_OUTPUT = "ok", "error", "timeout", "died", "too much output"
NOTEBOOK_TIMEOUT = "notebook timeout"  # stopped because the whole notebook ran out of time


class KernelStartError(RuntimeError):
    """The kernel did not start (the machinery's fault, never the student's)."""


@dataclass
class Outcome:
    """What happened to one code cell."""

    id: str
    status: str                 # OK, ERROR, TIMEOUT, NOTEBOOK_TIMEOUT, DIED or TOO_MUCH_OUTPUT
    stdout: str = ""            # everything the cell wrote to stdout
    error: str = ""             # "ValueError: ..." when status is ERROR
    seconds: float = 0.0
    outputs: list = field(default_factory=list, repr=False)


class _Client(NotebookClient):
    """nbclient's client, with a cap on how much one cell may print (the rest is dropped)."""

    output_limit = 2**20
    printed = 0

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        self.printed += size
        if self.printed > self.output_limit:
            return None
        return super().output(outs, msg, display_id, cell_index)


class _SandboxKernelManager(AsyncKernelManager):
    """A kernel manager that hands the connection file to the sandbox's user (when grading as root)."""

    sandbox_uid: int | None = None

    def write_connection_file(self, **kwargs):
        result = super().write_connection_file(**kwargs)
        if self.sandbox_uid is not None:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)
        return result


def kernel_manager(scratch: Path, mode: str, limits: sb.Limits, kernel: str | None = None) -> AsyncKernelManager:
    """A kernel manager whose kernel runs in the sandbox (``mode`` "bwrap") or here ("none").

    ``kernel`` names an installed Jupyter kernel spec; by default, ipykernel in this Python.
    """
    if kernel:
        spec = KernelSpecManager().get_kernel_spec(kernel)
        argv = list(spec.argv)
    else:
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if mode == sb.BWRAP_MODE:
        uid = sb.new_uid()
        sb.prepare_scratch(scratch, uid)
        argv = sb.wrap(argv, scratch, limits, uid)
        km = _SandboxKernelManager(transport="ipc", ip=str(scratch / "k"), connection_file=str(scratch / "kernel.json"))
        km.sandbox_uid = uid
    else:
        scratch.mkdir(parents=True, exist_ok=True)
        km = AsyncKernelManager(connection_file=str(scratch / "kernel.json"))
    km.kernel_name = "python3"  # ipykernel: nbclient keeps its history in memory
    # interrupt by message: a signal to bubblewrap would not reach the kernel inside
    km._kernel_spec = KernelSpec(argv=argv, display_name="kaibert grading", language="python",
                                 interrupt_mode="message", env=dict(sb.GRADING_ENV) if mode == sb.NONE else {})
    return km


def run_cells(nb, scratch: Path, mode: str, limits: sb.Limits, cell_timeout: float, startup: float,
              kernel: str | None = None, deadline: float | None = None) -> tuple[list[Outcome], str]:
    """Run ``nb``'s code cells in order in one fresh kernel, until one kills or hangs the kernel.

    Returns the outcomes of the cells that ran and, when the notebook stopped early, why.
    Raises KernelStartError when the kernel does not start. ``nb`` is changed in place (outputs).
    ``deadline`` (a ``time.monotonic()``) ends the notebook earlier than its own time limit.
    """
    scratch = Path(scratch)
    deadline = min(time.monotonic() + limits.notebook_seconds, deadline or float("inf"))
    km = kernel_manager(scratch, mode, limits, kernel)
    client = _Client(nb, km=km, allow_errors=True, startup_timeout=math.ceil(startup), shutdown_kernel="immediate",
                     record_timing=False, resources={"metadata": {"path": str(scratch)}})
    client.output_limit = limits.output_kb * 1024
    current = {"limit": cell_timeout}
    client.timeout_func = lambda cell: current["limit"]
    log = scratch.parent / "kernel.log"  # outside the scratch folder: the kernel only holds its handle
    try:
        with open(log, "wb") as errors:
            client.start_new_kernel(cwd=str(scratch), stdout=subprocess.DEVNULL, stderr=errors)
        client.start_new_kernel_client()
    except Exception as err:  # every way a start can fail is the machinery's
        _stop(client, km)
        why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        said = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
        raise KernelStartError(f"the kernel did not start: {why}" + (f" ({said[-1].strip()})" if said else "")) from None
    outcomes: list[Outcome] = []
    stopped = ""
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            left = deadline - time.monotonic()
            if left <= 1:
                stopped = f"the notebook ran past its limit of {limits.notebook_seconds:g} s"
                break
            current["limit"] = min(cell_timeout, left)
            client.printed = 0
            start = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                status = TIMEOUT
                if current["limit"] < cell_timeout:
                    stopped = f"the notebook ran past its limit of {limits.notebook_seconds:g} s"
                    status = NOTEBOOK_TIMEOUT
                outcomes.append(Outcome(cell.get("id"), status, seconds=time.monotonic() - start))
                break
            except DeadKernelError:
                outcomes.append(Outcome(cell.get("id"), DIED, seconds=time.monotonic() - start))
                break
            outcomes.append(outcome_of(cell, client.printed > client.output_limit, time.monotonic() - start))
    finally:
        _stop(client, km)
    return outcomes, stopped


def outcome_of(cell, overflow: bool, seconds: float) -> Outcome:
    stdout = "".join(o.get("text", "") for o in cell.outputs
                     if o.get("output_type") == "stream" and o.get("name") == "stdout")
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if overflow:
        return Outcome(cell.get("id"), TOO_MUCH_OUTPUT, stdout, seconds=seconds, outputs=cell.outputs)
    if errors:
        err = errors[-1]
        value = str(err.get("evalue", "")).strip().splitlines()
        error = f"{err.get('ename', 'Error')}: {value[0] if value else ''}".strip().rstrip(":")
        return Outcome(cell.get("id"), ERROR, stdout, error, seconds, cell.outputs)
    return Outcome(cell.get("id"), OK, stdout, seconds=seconds, outputs=cell.outputs)


def _stop(client, km) -> None:
    """Stop the kernel at once; in the sandbox this ends every process the notebook started."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    try:
        client._cleanup_kernel()  # nbclient's own: kill the kernel, close the channels, remove files
    except Exception:
        pass
    if process is not None:  # reap it, even when it died before the manager knew it had started
        try:
            process.kill()
            process.wait(timeout=10)
        except Exception:
            pass
