"""A small pytest plugin that grading loads next to nbval (``-p kaibert.course.nbval_plugin``).

It does what nbval does not:

- compares a check cell's summary lines with the reference's by value, floats within a
  tolerance (``kaibert.course.compare``), and names every value that differs; nbval's own
  comparison is of exact strings, which float noise on another machine would fail;
- leaves stderr and rich displays (figures, HTML such as bertviz views) out of the output
  comparison: warnings and progress bars must never decide a grade;
- writes one JSON line per notebook cell (cell id, passed or not, a short reason) to the file
  given by ``--kaibert-results``, as soon as the cell has run, so that a grade survives even
  when a later cell hangs and the run is stopped;
- notices at once when the kernel dies during a cell (instead of waiting out the time limit);
- records the kernel's process id, so the grader can stop a kernel that outlives its run.
"""

from __future__ import annotations

import json
import re
import time
from queue import Empty

import pytest

from kaibert.course.compare import differences

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
KERNEL_DIED = "the kernel died during this cell"
_records = None


def pytest_addoption(parser):
    parser.addoption("--kaibert-results", default=None, help="write per-cell grading results (JSON lines) here")


def _write(record: dict) -> None:
    if _records is not None:
        _records.write(json.dumps(record) + "\n")
        _records.flush()


def _compared(outputs):
    """Only stdout and execution results are compared; stderr and displays never are."""
    keep = []
    for out in outputs or []:
        kind = out.get("output_type") if hasattr(out, "get") else None
        if kind == "stream" and out.get("name") != "stdout":
            continue
        if kind == "display_data":
            continue
        keep.append(out)
    return keep


def pytest_configure(config):
    global _records
    path = config.getoption("--kaibert-results")
    if path:
        _records = open(path, "a", encoding="utf-8")
    try:
        from nbval.plugin import IPyNbCell, IPyNbFile
    except ImportError:  # nbval missing: the grader says so before it gets here
        return
    if not getattr(IPyNbCell, "_kaibert_patched", False):
        from nbval.kernel import RunningKernel

        original_compare = IPyNbCell.compare_outputs

        def compare_outputs(self, test, ref, skip_compare=None):
            want = _stdout(self, ref)
            if not want:  # not a check cell with a summary: nbval's comparison, without stderr
                return original_compare(self, _compared(test), _compared(ref), skip_compare)
            self.kaibert_differences = differences(_stdout(self, test), want)
            self.comparison_traceback = list(self.kaibert_differences)
            return not self.kaibert_differences

        original_await = RunningKernel.await_reply

        def await_reply(self, msg_id, timeout=None):
            """nbval's wait for a cell's reply, in one-second steps that notice a dead kernel."""
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
                try:
                    return original_await(self, msg_id, timeout=step)
                except Empty:
                    if not self.km.is_alive():
                        raise RuntimeError(KERNEL_DIED) from None
                    if deadline is not None and time.monotonic() >= deadline:
                        raise

        RunningKernel.await_reply = await_reply

        original_setup = IPyNbFile.setup

        def setup(self):
            original_setup(self)
            try:
                _write({"kernel_pid": self.kernel.km.provisioner.pid})
            except AttributeError:
                pass

        IPyNbCell.compare_outputs = compare_outputs
        IPyNbFile.setup = setup
        IPyNbCell._kaibert_patched = True


def pytest_unconfigure(config):
    global _records
    if _records is not None:
        _records.close()
        _records = None


def _stdout(item, outputs) -> list[str]:
    text = "".join(
        o.get("text", "") for o in outputs or [] if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
    return [line for line in item.sanitize(text).splitlines() if line]


def _reason(item, excinfo) -> str:
    """A one-line reason a cell failed, in words a student can act on."""
    exc = excinfo.value
    message = str(exc)
    outputs = getattr(item, "test_outputs", None) or []
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if KERNEL_DIED in message:
        return f"{KERNEL_DIED} (the process exited or crashed: os._exit, sys.exit in a thread, a segfault, out of memory)"
    if "waiting for output" in message:
        return "the kernel stopped answering during this cell (it crashed, exited or hung)"
    limit = re.search(r"Timeout of ([\d.]+) seconds", message)
    if limit:
        return f"ran longer than the time limit of {limit.group(1)} s per cell (an endless loop, or far too slow)"
    if message.startswith("Kernel dead") or "Kernel dead" in message:
        return "not run: the kernel had stopped (an earlier cell crashed it or ran past the time limit)"
    if errors:
        err = errors[-1]
        value = _ANSI.sub("", str(err.get("evalue", ""))).strip().splitlines()
        return f"{err.get('ename', 'Error')}: {value[0] if value else ''}".strip().rstrip(":")
    if message == "Cell outputs differ":
        found = getattr(item, "kaibert_differences", None)
        if found:
            return "summary differs: " + "; ".join(found)
        return "the output differs from the reference"
    return _ANSI.sub("", message).splitlines()[0] if message else type(exc).__name__


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    if not hasattr(item, "cell_num") or call.when not in ("setup", "call"):
        return
    excinfo = call.excinfo
    skipped = excinfo is not None and excinfo.errisinstance(pytest.skip.Exception)
    if call.when == "setup":
        if excinfo is None or skipped:
            return
        reason = "the kernel did not start: " + _ANSI.sub("", str(excinfo.value)).splitlines()[0]
        _write({"cell": item.cell_num, "id": item.cell.get("id"), "passed": False, "message": reason})
        return
    record = {"cell": item.cell_num, "id": item.cell.get("id"), "passed": excinfo is None or skipped}
    if excinfo is not None and not skipped:
        record["message"] = _reason(item, excinfo)
    _write(record)
