"""A student's own folder: the exercises copied into work/, which nothing overwrites."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kaibert.course import exercises, workspace

ROOT = Path(__file__).resolve().parents[1]
TOY = Path(__file__).parent / "fixtures" / "course" / "solutions" / "90_toy.ipynb"


@pytest.fixture
def root(tmp_path):
    """A course clone with one chapter, 90."""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "kaibert").mkdir()
    shutil.copy(TOY, course / "solutions" / TOY.name)
    exercises.generate(course)
    return course


def test_copies_the_exercises_into_work_and_says_so(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    assert workspace.main([]) == 0
    copied = root / "work" / "90_toy.ipynb"
    assert copied.read_bytes() == (root / "exercises" / "90_toy.ipynb").read_bytes()
    out = capsys.readouterr().out
    assert "copied  work/90_toy.ipynb" in out and "1 copied, 0 kept" in out
    assert "make grade NB=work/90_toy.ipynb" in out


def test_never_overwrites_a_students_work(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    workspace.main([])
    mine = root / "work" / "90_toy.ipynb"
    mine.write_text("my answers")
    # the course moves on: the exercise is regenerated and a new chapter appears
    (root / "exercises" / "90_toy.ipynb").write_text((root / "exercises" / "90_toy.ipynb").read_text() + "\n")
    shutil.copy(root / "exercises" / "90_toy.ipynb", root / "exercises" / "91_more.ipynb")
    capsys.readouterr()
    assert workspace.main([]) == 0
    assert mine.read_text() == "my answers"
    assert (root / "work" / "91_more.ipynb").exists()
    out = capsys.readouterr().out
    assert "kept    work/90_toy.ipynb  (already there: your copy is left as it is)" in out
    assert "copied  work/91_more.ipynb" in out and "1 copied, 1 kept" in out
    assert "rename or delete your copy" in out


def test_chapters_and_another_folder(root, tmp_path, capsys):
    shutil.copy(root / "exercises" / "90_toy.ipynb", root / "exercises" / "91_more.ipynb")
    out = tmp_path / "elsewhere"
    assert workspace.main(["91", "--out", str(out), "--root", str(root)]) == 0
    assert [p.name for p in out.iterdir()] == ["91_more.ipynb"]
    assert f"kaibert-grade {out / '91_more.ipynb'}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["07"], "no exercise notebook for chapter '07' (chapters available: 90)"),
        (["--out", "FILE"], "is a file, not a folder; choose another place with --out"),
    ],
)
def test_bad_requests_are_named(root, tmp_path, capsys, args, message):
    (tmp_path / "FILE").write_text("")
    args = [str(tmp_path / "FILE") if a == "FILE" else a for a in args]
    with pytest.raises(SystemExit) as stop:
        workspace.main([*args, "--root", str(root)])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_a_root_without_exercises_names_root(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        workspace.main(["--root", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--root" in err and "not a clone of the course" in err


def test_the_command_works_from_outside_the_repository(tmp_path):
    """Installed, from any folder: the clone kaibert is installed from provides the exercises."""
    script = Path(sys.executable).parent / "kaibert-workspace"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "kaibert.course.workspace"]
    done = subprocess.run([*cmd, "03", "--out", "mine"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mine" / "03_attention.ipynb").read_bytes() == (ROOT / "exercises" / "03_attention.ipynb").read_bytes()
    assert "copied  mine/03_attention.ipynb" in done.stdout


def test_git_ignores_the_work_folder():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", "check-ignore", "-q", "work/03_attention.ipynb"], cwd=ROOT)
    assert done.returncode == 0, "work/ must be in .gitignore: it holds the students' own notebooks"
