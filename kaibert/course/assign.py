"""Make an assignment: the student bundle for some chapters, without solutions.

    kaibert-assign --chapters 01 03 --due "Friday 5 December, 17:00" --out assignment-1 --zip

The bundle holds the exercise notebooks of those chapters (exactly as generated in exercises/)
and a README with the due date, the exercises and their points, and how to open, install,
self-check and hand in the work. It works from any folder: the course is the clone that ``--root``
names, else the clone at or above the current folder, else the clone kaibert is installed from.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import zipfile
from pathlib import Path

from kaibert.course import notebooks as nbs
from kaibert.course import stamp
from kaibert.course.exercises import BEGIN
from kaibert.course.paths import CourseRootError, course_root

COLAB = "https://colab.research.google.com/github"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # zip entries get one timestamp: the same bundle, the same bytes


def repository(root: Path) -> tuple[str, str] | None:
    """(``owner/name``, branch) from _config.yml's ``repository`` section, the one place it is set."""
    config = root / "_config.yml"
    if not config.exists():
        return None
    text = config.read_text(encoding="utf-8")
    block = re.search(r"^repository:\s*\n((?:[ \t]+.*\n?)*)", text, flags=re.MULTILINE)
    if not block:
        return None
    url = re.search(r"url:\s*[\"']?https?://github\.com/([^\s\"']+?)(?:\.git)?[\"']?\s*$", block.group(1), re.MULTILINE)
    branch = re.search(r"branch:\s*[\"']?([\w./-]+)", block.group(1))
    if not url:
        return None
    return url.group(1).rstrip("/"), branch.group(1) if branch else "main"


def colab_link(nb, name: str, repo: tuple[str, str] | None) -> str | None:
    """The notebook's Colab link: its own badge first, else built from the repository."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in re.finditer(r"https://colab\.research\.google\.com/[^\s)\"'>]+", cell.source):
            if m.group(0).endswith(f"exercises/{name}"):
                return m.group(0)
    if repo:
        return f"{COLAB}/{repo[0]}/blob/{repo[1]}/exercises/{name}"
    return None


def chapter_notebooks(root: Path, chapters: list[str]) -> list[Path]:
    found = []
    for ch in chapters:
        matches = sorted((root / "exercises").glob(f"{ch}_*.ipynb"))
        if not matches:
            available = ", ".join(p.name[:2] for p in nbs.iter_notebooks(root / "exercises")) or "none"
            raise SystemExit(f"no exercise notebook for chapter {ch} in {root / 'exercises'} (chapters available: {available})")
        found.append(matches[0])
    return found


def install_commands(repo: tuple[str, str] | None) -> list[str]:
    """The pip commands of the README: the Colab cell's installs, from the repository in _config.yml."""
    owner_name, branch = repo if repo else ("OWNER/kai-bert", "main")
    owner, _, name = owner_name.partition("/")
    return stamp.install_commands(owner, name, branch)


def readme(notebooks: list[tuple[Path, object]], due: str, repo, title: str) -> str:
    chapters = ", ".join(p.name[:2] for p, _ in notebooks)
    example = notebooks[0][0].name
    lines = [
        f"# {title}",
        "",
        f"**Due: {due}.**",
        "",
        f"Chapters {chapters} of KAI-BERT. Each notebook below holds exercises: code cells that raise",
        "`NotImplementedError` until you replace that line with your answer, each followed by a check cell.",
        "",
        "| notebook | exercises | points | open |",
        "|---|---|---|---|",
    ]
    total = 0
    for path, nb in notebooks:
        points = nbs.points(nb)
        total += sum(points.values())
        exercises = ", ".join(f"{ex} ({points[ex]:g})" for ex in nbs.exercises(nb))
        link = colab_link(nb, path.name, repo)
        open_cell = f"[Open in Colab]({link})" if link else "upload it to Colab"
        lines.append(f"| `{path.name}` | {exercises} | {sum(points.values()):g} | {open_cell} |")
    lines += [
        "",
        f"Total: {total:g} points.",
        "",
        "## Working in Colab",
        "",
        "1. Open a notebook with its link above (or in Colab: *File → Upload notebook* and pick the file from",
        "   this folder).",
        "2. Run the first cell: inside Colab it installs the course package (it keeps Colab's own PyTorch).",
        "3. Work top to bottom. Replace each `raise NotImplementedError(...)` line with your answer; keep the",
        "   function names and signatures as they are.",
        "4. Run the check cell after each exercise. It prints a short summary of your result and a line that",
        "   starts with `check:`, which says whether your summary matches the reference and, if not, which",
        "   value differs.",
        "5. Do not edit or delete the check cells and keep the cell structure: grading runs the reference",
        "   check cells on your answer cells, so an edited check cell changes nothing. Put everything an",
        "   answer needs (a helper function, an import) inside its answer cell: cells you add are not graded.",
        "",
        "## Checking your grade yourself",
        "",
        "On your own machine (Python 3.10 or newer, and git), install the course once, best into a virtual",
        "environment of its own. These are the same two installs that the first cell makes in Colab: the",
        "course, then the small pretrained BERT that the chapters load with no network (`--no-deps`: it needs",
        "nothing more).",
        "",
        "```bash",
        "python -m venv kaibert-env",
        "source kaibert-env/bin/activate          # on Windows: kaibert-env\\Scripts\\activate",
        *install_commands(repo),
        "```",
        "",
        "Then, with that environment active, in the folder that holds your notebook:",
        "",
        "```bash",
        f"kaibert-grade {example}      # the notebook you downloaded from Colab",
        "```",
        "",
        "It runs your notebook in a fresh kernel, compares every check cell with the reference and prints",
        "one row per exercise: points, pass or FAIL, and what went wrong. Without the course's `solutions/`",
        "folder it says *self-check*: it used the reference outputs stored in your notebook, as your",
        "instructor's grading will with the reference solution.",
        "",
        "## Handing in",
        "",
        "In Colab: *File → Download → Download .ipynb*. Hand in the downloaded notebooks, one file per",
        "chapter, keeping their names (`03_attention.ipynb`, not a copy with a new name if you can help it)",
        f"by **{due}**. Every cell is run again when your work is graded, in a fresh kernel, with a time",
        "limit per cell: make sure the notebook runs top to bottom (*Runtime → Restart and run all*).",
        "",
    ]
    return "\n".join(lines)


def make_bundle(root: Path, chapters: list[str], due: str, out: Path, title: str | None = None) -> list[Path]:
    """Write the bundle into ``out``; returns the files written."""
    chapters = [f"{int(c):02d}" if c.isdigit() else c for c in chapters]
    paths = chapter_notebooks(root, chapters)
    notebooks = [(p, nbs.read(p)) for p in paths]
    for path, nb in notebooks:
        leaked = [c.get("id") for c in nb.cells if BEGIN in c.source]
        if leaked or nb.metadata.get("kaibert", {}).get("notebook") != "exercises":
            raise SystemExit(f"{path} still holds reference answers (cells {leaked}); regenerate with `make exercises`")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, _ in notebooks:
        shutil.copyfile(path, out / path.name)
        written.append(out / path.name)
    text = readme(notebooks, due, repository(root), title or f"KAI-BERT assignment: chapters {', '.join(chapters)}")
    (out / "README.md").write_text(text, encoding="utf-8")
    written.append(out / "README.md")
    return written


def zip_bundle(out: Path, files: list[Path]) -> Path:
    archive = out.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(f"{out.name}/{path.name}", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kaibert-assign", description="Make the student bundle for some chapters: exercise notebooks and a README."
    )
    parser.add_argument("chapter", nargs="*", metavar="NN", help="chapters to assign, e.g. 01 03 (or use --chapters)")
    parser.add_argument("--chapters", nargs="+", default=[], metavar="NN", help="chapters to assign, e.g. 01 03")
    parser.add_argument("--due", required=True, help='due-date text, e.g. "Friday 5 December, 17:00"')
    parser.add_argument("--out", type=Path, required=True, help="folder to write the bundle into")
    parser.add_argument("--title", default=None, help="title of the README (default: the chapters)")
    parser.add_argument("--zip", action="store_true", help="also write OUT.zip")
    parser.add_argument(
        "--root", type=Path, default=None,
        help="the course repository (default: the clone at or above this folder, else the one kaibert is installed from)",
    )
    args = parser.parse_args(argv)
    chapters = args.chapter + args.chapters
    if not chapters:
        parser.error("name the chapters to assign, e.g. `--chapters 01 03`")
    try:
        root = course_root(args.root)
    except CourseRootError as err:
        parser.exit(2, f"kaibert-assign: {err}\n")
    files = make_bundle(root, chapters, args.due, args.out, args.title)
    for path in files:
        print(f"wrote {path}")
    if args.zip:
        print(f"wrote {zip_bundle(args.out, files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
