"""Working on your own machine, as book/running.md says: JupyterLab starts, and a notebook run from
the terminal shows its failure instead of leaving the old outputs looking like success."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNING = ROOT / "book" / "running.md"
BIN = Path(sys.executable).parent  # the environment's scripts: what `source .venv/bin/activate` puts on PATH
STARTUP_LIMIT = 120  # seconds for the server to answer; it takes a few on an idle machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bash_lines(markdown: str) -> list[str]:
    """Every command line in the page's ```bash blocks, comments removed."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.DOTALL):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def activated_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a terminal after `source .venv/bin/activate`, with Jupyter's own files in tmp."""
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_DIR")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")  # no settings from the home folder
    return env


def serve_until_it_answers(cmd: list[str], port: int, token: str, page: str, tmp_path: Path) -> tuple[dict, int]:
    """Start a Jupyter server, wait for its API and ``page`` to answer, stop it; returns (status, page code)."""
    log = open(tmp_path / "server.log", "w+")
    server = subprocess.Popen(cmd, cwd=ROOT, env=activated_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    headers = {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"{shlex.join(cmd)} exited with {server.returncode}:\n{log.read()[-3000:]}")
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status", headers=headers)
                with urllib.request.urlopen(request, timeout=5) as answer:
                    status = json.load(answer)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"no answer from {shlex.join(cmd)} in {STARTUP_LIMIT} s:\n{log.read()[-3000:]}")
                time.sleep(0.5)
        request = urllib.request.Request(f"http://127.0.0.1:{port}{page}", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            code = answer.status
        return status, code
    finally:
        stop(server)
        log.close()


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (the server and any kernel it started), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, None)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:  # already gone
            pass
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def server_options(port: int, token: str, tmp_path: Path) -> list[str]:
    options = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"]
    if os.geteuid() == 0:  # CI and containers run as root, which Jupyter refuses unless told (running.md says so)
        options.append("--allow-root")
    return options


def test_running_md_names_the_commands_tested_here():
    text = RUNNING.read_text(encoding="utf-8")
    lines = bash_lines(text)
    assert "make lab" in lines
    assert "source .venv/bin/activate" in lines
    assert "make work" in lines
    assert any(line.startswith("jupyter execute --inplace ") for line in lines), lines


def test_make_lab_starts_jupyterlab(tmp_path):
    """`make lab` (the recipe `python -m jupyter lab`) answers on its HTTP API and serves the Lab page."""
    port, token = free_port(), secrets.token_hex(16)
    # -o: take the installed environment as it is (no `make setup`); PY: the interpreter running the tests.
    cmd = ["make", "--no-print-directory", "-o", ".venv/.kaibert-installed", "lab", f"PY={sys.executable}",
           "LAB_ARGS=" + shlex.join(server_options(port, token, tmp_path))]
    status, code = serve_until_it_answers(cmd, port, token, "/lab", tmp_path)
    assert "started" in status and code == 200


def test_jupyter_lab_and_notebook_start_from_the_activated_environment(tmp_path):
    """After `source .venv/bin/activate`, `jupyter lab` and `jupyter notebook` both start."""
    for app, page in (["lab"], "/lab"), (["notebook"], "/tree"):
        port, token = free_port(), secrets.token_hex(16)
        cmd = [str(BIN / "jupyter"), *app, *server_options(port, token, tmp_path)]
        status, code = serve_until_it_answers(cmd, port, token, page, tmp_path)
        assert "started" in status and code == 200, app


def documented_run_line() -> str:
    return next(line for line in bash_lines(RUNNING.read_text(encoding="utf-8"))
                if line.startswith("jupyter execute --inplace ") and "--allow-errors" not in line)


def exercise_like(path: Path, answer: str) -> Path:
    """An answer cell and a check cell that still shows the reference output, as in exercises/."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    check = nbformat.v4.new_code_cell("print('[90.1] total:', total(2, 3))")
    check.outputs = [nbformat.v4.new_output("stream", name="stdout", text="[90.1] total: 5\n")]
    nb.cells = [nbformat.v4.new_code_cell(f"def total(a, b):\n    {answer}"), check]
    nbformat.write(nb, path)
    return path


def run_documented_line(notebook: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    line = documented_run_line()
    words = shlex.split(line)
    words[-1] = str(notebook)  # the page's example notebook -> ours
    return subprocess.run(words, cwd=tmp_path, env=activated_env(tmp_path), capture_output=True, text=True,
                          timeout=300)


def test_documented_run_line_fails_visibly(tmp_path):
    failing = exercise_like(tmp_path / "90_toy.ipynb", 'raise NotImplementedError("Exercise 90.1: replace this line")')
    before = failing.read_bytes()
    done = run_documented_line(failing, tmp_path)
    assert done.returncode != 0, "a failing notebook must give a non-zero exit status"
    assert "NotImplementedError" in done.stderr and "Exercise 90.1" in done.stderr, done.stderr[-2000:]
    # As book/running.md warns: nothing is saved, the old (reference) output is still in the file.
    assert failing.read_bytes() == before


def test_documented_run_line_saves_fresh_outputs_when_it_works(tmp_path):
    working = exercise_like(tmp_path / "90_toy.ipynb", "return a * b  # a wrong answer, but one that runs")
    done = run_documented_line(working, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    outputs = nbformat.read(working, as_version=4).cells[1].outputs
    assert [o.get("text") for o in outputs] == ["[90.1] total: 6\n"]  # this run's output, not the reference's


def test_allow_errors_keeps_the_error_in_the_notebook(tmp_path):
    """The page's second form: every error saved under its cell, in place of the old outputs."""
    line = next(line for line in bash_lines(RUNNING.read_text(encoding="utf-8"))
                if line.startswith("jupyter execute") and "--allow-errors" in line)
    failing = exercise_like(tmp_path / "90_toy.ipynb", 'raise NotImplementedError("Exercise 90.1: replace this line")')
    words = shlex.split(line)
    words[-1] = str(failing)
    done = subprocess.run(words, cwd=tmp_path, env=activated_env(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    check = nbformat.read(failing, as_version=4).cells[1]
    assert [o.output_type for o in check.outputs] == ["error"]
    assert check.outputs[0].ename == "NotImplementedError"
