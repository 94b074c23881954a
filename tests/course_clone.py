"""A throw-away course clone for the version tests: the toy chapter 90 in a fresh git repository."""

import json
import shutil
import subprocess
from pathlib import Path

from kaibert.course import exercises

TOY = Path(__file__).parent / "fixtures" / "course" / "solutions" / "90_toy.ipynb"
CONFIG = 'title: "x"\nrepository:\n  url: https://github.com/someone/kai-bert-fork\n  branch: spring\n'


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # for commits the code makes


def make_course(root: Path) -> str:
    """The toy course at ``root``, committed; returns the commit."""
    (root / "solutions").mkdir(parents=True)
    (root / "kaibert").mkdir()
    (root / "kaibert" / "__init__.py").write_text("")
    shutil.copy(TOY, root / "solutions" / TOY.name)
    exercises.generate(root)
    (root / "_config.yml").write_text(CONFIG)
    git(root, "init", "-q", "-b", "main")
    return commit_all(root, "toy course")


def change_points(root: Path, exercise: str, points: int) -> str:
    """A second course version: the exercise is worth other points; exercises regenerated, committed."""
    path = root / "solutions" / TOY.name
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("kaibert", {})
        if meta.get("exercise") == exercise and meta.get("role") == "answer":
            meta["points"] = points
    path.write_text(json.dumps(nb, indent=1) + "\n")
    exercises.generate(root)
    return commit_all(root, f"{exercise} is worth {points}")
