"""Gradescope's autograder for an assignment: a zip that grades one submission in its container.

    kaibert-assign 03 --due "Friday" --out handout --gradescope   # writes handout_gradescope.zip

Gradescope builds an image from the zip once (it runs ``setup.sh``), then for every submission
starts a fresh container, puts the student's files in ``/autograder/submission/`` and runs
``/autograder/run_autograder``, which must write ``/autograder/results/results.json``
(https://gradescope-autograders.readthedocs.io/en/latest/specs/). So Gradescope is also the
distributed engine for a class too large for one machine: each submission gets its own container.

The zip holds, at its root:

- ``setup.sh``: installs the course at the assignment's pinned version (``kaibert.course.versions``),
  CPU PyTorch and the offline pretrained BERT, with ``python3 -m pip``;
- ``run_autograder``: calls ``python3`` from PATH, as Gradescope's examples do, to run
  ``python -m kaibert.course.gradescope run``;
- ``exercises/``: the handed-out exercise notebooks, whose check cells carry the reference outputs;
- ``kaibert-autograder.json``: the chapters, points, timeout and version.

It never holds reference answers: the grader needs only the exercise notebooks. The container is
the isolation there (no network, thrown away after one submission), so the kernel runs without
bubblewrap, and the output says so. ``KAIBERT_AUTOGRADER_ROOT`` moves ``/autograder`` elsewhere,
which is how the tests run ``run_autograder`` exactly as Gradescope does, in a folder laid out
like ``/autograder``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import zipfile
from pathlib import Path

from kaibert.course import notebooks as nbs
from kaibert.course import stamp, versions

ROOT_ENV = "KAIBERT_AUTOGRADER_ROOT"
SKIP_INSTALL_ENV = "KAIBERT_AUTOGRADER_SKIP_INSTALL"  # setup.sh: the course is installed already
CONFIG = "kaibert-autograder.json"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)
DEFAULT_TIMEOUT = 60.0
NO_SANDBOX_NOTE = ("Graded inside Gradescope's container, which is the isolation here (one throw-away container "
                   "per submission, no network), so the notebook ran without the bubblewrap sandbox.")
IGNORED = ("__MACOSX", ".ipynb_checkpoints")

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, in /autograder, inside a fresh container.
# KAIBERT_AUTOGRADER_ROOT moves /autograder elsewhere (the course's own test of this zip does).
set -euo pipefail
ROOT="${KAIBERT_AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT"
mkdir -p "$ROOT/results"
exec python3 -m kaibert.course.gradescope run --root "$ROOT"
"""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# It installs the course at the version the assignment was made from: {version}.
set -euo pipefail
if [ -n "${{KAIBERT_AUTOGRADER_SKIP_INSTALL:-}}" ]; then
    echo "setup.sh: KAIBERT_AUTOGRADER_SKIP_INSTALL is set; using the kaibert that python3 already has"
    python3 -c "import kaibert.course.gradescope"
    exit 0
fi
apt-get update -q
apt-get install -y -q python3 python3-pip git
pip_install() {{
    # Ubuntu 24.04 marks its Python as externally managed; this image is ours alone.
    python3 -m pip install -q "$@" || python3 -m pip install -q --break-system-packages "$@"
}}
pip_install torch --index-url https://download.pytorch.org/whl/cpu   # CPU wheels: no CUDA needed here
{installs}
python3 -m ipykernel install --name python3
python3 -c "import kaibert.course.gradescope; print('kaibert installed')"
"""


class AutograderError(ValueError):
    """An assignment the autograder cannot be made for; the message says what to do."""


# --- writing the zip -----------------------------------------------------------------------------


def _stamp_of(notebooks: list) -> tuple[versions.Version | None, str | None]:
    for nb in notebooks:
        meta = nb.metadata.get("kaibert", {}).get(versions.STAMP_KEY)
        version = versions.Version.from_stamp(meta)
        if version:
            return version, meta.get("repository")
    return None, None


def setup_script(version: versions.Version | None, repository: str | None) -> str:
    owner, _, name = (repository or "kai-bert/kai-bert").partition("/")
    ref = version.ref if version and version.commit else "main"
    installs = "\n".join(f"pip_install {cmd[len('pip install '):]}" for cmd in stamp.install_commands(owner, name, ref))
    return SETUP_SH.format(version=version.name if version else "not pinned (main)", installs=installs)


def write_autograder(notebook_paths: list[Path], archive: Path, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Write Gradescope's autograder zip for these exercise notebooks (a bundle's, pinned)."""
    notebooks = [nbs.read(p) for p in notebook_paths]
    for path, nb in zip(notebook_paths, notebooks):
        leaked = [c.get("id") for c in nb.cells if "# BEGIN SOLUTION" in c.source]
        if leaked or nb.metadata.get("kaibert", {}).get("notebook") != "exercises":
            raise AutograderError(f"{path} is not an exercise notebook (reference answers in {leaked}); "
                                  "the autograder carries exercise notebooks only")
    version, repository = _stamp_of(notebooks)
    config = {
        "chapters": [nbs.chapter_of(nb, p) for p, nb in zip(notebook_paths, notebooks)],
        "notebooks": [f"exercises/{p.name}" for p in notebook_paths],
        "points": {ex: pts for nb in notebooks for ex, pts in nbs.points(nb).items()},
        "timeout": timeout,
        "version": version.to_stamp(repository) if version else None,
    }
    files = {
        "setup.sh": (setup_script(version, repository), 0o755),
        "run_autograder": (RUN_AUTOGRADER, 0o755),
        CONFIG: (json.dumps(config, indent=1, sort_keys=True) + "\n", 0o644),
    }
    for path in notebook_paths:
        files[f"exercises/{path.name}"] = (path.read_text(encoding="utf-8"), 0o644)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):  # at the zip's root, as Gradescope requires
            text, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = mode << 16
            zf.writestr(info, text)
    return archive


# --- grading one submission in the container -----------------------------------------------------


def submitted_notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb")
                  if not any(part in IGNORED or part.startswith(".") for part in p.relative_to(folder).parts))


def _grade(student: Path, exercise: Path, timeout: float):
    """The course's grader on one notebook, without bubblewrap (the container is the sandbox)."""
    from kaibert.course import grade as grading

    params = inspect.signature(grading.grade).parameters
    if "sandbox" in params:
        return grading.grade(student, exercise, timeout=timeout, sandbox="none")
    return grading.grade(student, exercise, timeout=timeout)


def _chapter_of(path: Path) -> str | None:
    from kaibert.course import grade as grading

    try:
        return grading.student_chapter(nbs.read(path), path)
    except nbs.NotebookError:
        return None


def grade_submission(root: Path) -> dict:
    """Grade ``root/submission`` against ``root/source``; returns Gradescope's results.json content."""
    from kaibert.course import grade as grading

    source = root / "source"
    config = json.loads((source / CONFIG).read_text(encoding="utf-8"))
    timeout = float(config.get("timeout", DEFAULT_TIMEOUT))
    submitted = submitted_notebooks(root / "submission")
    by_chapter: dict[str, list[Path]] = {}
    for path in submitted:
        by_chapter.setdefault(_chapter_of(path) or "", []).append(path)
    tests, notes, failures = [], [NO_SANDBOX_NOTE], []
    pinned = versions.Version.from_stamp(config.get("version"))
    for rel in config["notebooks"]:
        exercise = source / rel
        nb = nbs.read(exercise)
        chapter = nbs.chapter_of(nb, exercise)
        points = nbs.points(nb)
        mine = by_chapter.get(chapter, [])
        if not mine:
            names = ", ".join(p.name for p in submitted) or "no .ipynb file"
            why = f"no notebook for chapter {chapter} in the submission (found: {names}); upload {exercise.name}"
            tests += [_test(ex, 0, pts, False, why) for ex, pts in points.items()]
            continue
        student = mine[0]
        if len(mine) > 1:
            notes.append(f"chapter {chapter}: graded {student.name}; also submitted: "
                         + ", ".join(p.name for p in mine[1:]))
        theirs = versions.notebook_version(nbs.read(student))
        if pinned and theirs and not theirs.same_as(pinned):
            notes.append(f"{student.name} was handed out as course version {theirs.name}; this assignment grades "
                         f"version {pinned.name}. If the exercises differ, ask your instructor.")
        try:
            result = _grade(student, exercise, timeout)
        except grading.GradeError as err:
            tests += [_test(ex, 0, pts, False, f"not graded: {err}") for ex, pts in points.items()]
            continue
        if result.status == grading.GRADING_ERROR:
            failures.append(f"{student.name}: {'; '.join(result.errors)}")
            continue
        for r in result.exercises:
            message = "; ".join(m for m in (r.message, r.flag_message) if m) or "passed: the check matches the reference"
            tests.append(_test(r.exercise, r.earned, r.points, r.passed and r.earned == r.points,
                               message))
        notes += [f"chapter {chapter}: {e}" for e in result.errors] + list(result.notes)
    if failures:
        raise RuntimeError("the grading machinery failed (not the student's answers); regrade this submission: "
                           + " | ".join(failures))
    return {
        "score": sum(t["score"] for t in tests),
        "output": "\n".join(notes),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _test(name: str, score: float, max_score: float, passed: bool, output: str) -> dict:
    return {"name": f"Exercise {name}", "score": score, "max_score": max_score,
            "status": "passed" if passed else "failed", "output": output, "visibility": "visible"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kaibert.course.gradescope",
                                     description="Gradescope autograder: grade the submission in this container.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    run.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_ENV, "/autograder")),
                     help=f"the autograder folder (default: ${ROOT_ENV} or /autograder)")
    args = parser.parse_args(argv)
    print(NO_SANDBOX_NOTE, flush=True)
    results = grade_submission(args.root)
    out = args.root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    total = sum(t["max_score"] for t in results["tests"])
    print(f"score {results['score']:g}/{total:g}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
