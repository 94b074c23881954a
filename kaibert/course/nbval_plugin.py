"""A small pytest plugin that grading loads next to nbval (``-p kaibert.course.nbval_plugin``).

It does three things nbval does not:

- writes one JSON line per notebook cell (cell id, passed or not, a short reason) to the file
  given by ``--kaibert-results``, as soon as the cell has run, so that a grade survives even
  when a later cell hangs and the run is stopped;
- leaves stderr and rich displays (figures, HTML such as bertviz views) out of the output
  comparison: warnings and progress bars must never decide a grade;
- records the kernel's process id, so the grader can stop a kernel that outlives its run.
"""

from __future__ import annotations

import json
import re

import pytest

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
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
        original_compare = IPyNbCell.compare_outputs

        def compare_outputs(self, test, ref, skip_compare=None):
            return original_compare(self, _compared(test), _compared(ref), skip_compare)

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
        got, want = _stdout(item, outputs), _stdout(item, getattr(item.cell, "outputs", []))
        for g, w in zip(got, want):
            if g != w:
                return f"got '{g}', expected '{w}'"
        if len(got) != len(want):
            return f"printed {len(got)} summary lines, expected {len(want)}"
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
