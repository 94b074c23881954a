"""Make an assignment: the student bundle for some chapters, without solutions.

    kaibert-assign --chapters 01 03 --due "Friday 5 December, 17:00" --out assignment-1 --zip
    kaibert-assign 03 --due "Friday" --out handout --version course-2026.1   # from a release tag

The bundle holds the exercise notebooks of those chapters (as generated in exercises/) and a
README with the due date, the exercises and their points, and how to open, install, self-check
and hand in the work. It works from any folder: the course is the clone that ``--root`` names,
else the clone at or above the current folder, else the clone kaibert is installed from.

A bundle is pinned to the course version it is made from (``kaibert.course.versions``): the
commit of the clone, or the release tag pointing at it, or the version ``--version`` names. The
install lines, the Colab links and each notebook's first cell install and open that version,
and every notebook carries it in its metadata, which the grader and ``check()`` read. A clone
with uncommitted changes to the course makes no bundle (nobody could install that version)
unless ``--unpinned`` says to make one anyway, with a plain warning in its README.

``--gradescope`` also writes Gradescope's autograder zip (``kaibert.course.gradescope``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import zipfile
from pathlib import Path

from kaibert.course import notebooks as nbs
from kaibert.course import stamp, versions
from kaibert.course.exercises import BEGIN
from kaibert.course.paths import CourseConfigError, CourseRootError, course_root, github_location

COLAB = "https://colab.research.google.com/github"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # zip entries get one timestamp: the same bundle, the same bytes


class AssignError(ValueError):
    """The bundle cannot be made as asked (no such chapter, answers left in a notebook, a version that
    cannot be pinned, ...); nothing usable was written. ``main`` prints the message and exits with 2."""


def repository(root: Path) -> tuple[str, str] | None:
    """(``owner/name``, branch) from _config.yml's ``repository`` section (``paths.github_location``,
    the one reader of it); None for a course without _config.yml. A _config.yml that names no GitHub
    repository or no branch raises ``CourseConfigError``, whose message says what to set."""
    if not (Path(root) / "_config.yml").is_file():
        return None
    owner, name, branch = github_location(root)
    return f"{owner}/{name}", branch


def colab_link(nb, name: str, repo: tuple[str, str] | None, ref: str | None = None) -> str | None:
    """The notebook's Colab link: at ``ref`` (the bundle's version) when given, else its own badge."""
    if repo and ref:
        return f"{COLAB}/{repo[0]}/blob/{ref}/exercises/{name}"
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in re.finditer(r"https://colab\.research\.google\.com/[^\s)\"'>]+", cell.source):
            if m.group(0).endswith(f"exercises/{name}"):
                return m.group(0)
    if repo:
        return f"{COLAB}/{repo[0]}/blob/{repo[1]}/exercises/{name}"
    return None


def chapter_notebooks(root: Path, chapters: list[str], folder: Path | None = None) -> list[Path]:
    """The exercise notebook of each chapter, from ``folder`` (default: the clone's exercises/)."""
    folder = folder or root / "exercises"
    found = []
    for ch in chapters:
        matches = sorted(folder.glob(f"{ch}_*.ipynb"))
        if not matches:
            available = ", ".join(p.name[:2] for p in nbs.iter_notebooks(folder)) or "none"
            raise AssignError(f"no exercise notebook for chapter {ch} in {folder} (chapters available: {available})")
        found.append(matches[0])
    return found


def install_commands(repo: tuple[str, str] | None, ref: str | None = None) -> list[str]:
    """The pip commands of the README: the Colab cell's installs, at the bundle's version."""
    owner_name, branch = repo if repo else ("OWNER/kai-bert", "main")
    owner, _, name = owner_name.partition("/")
    return stamp.install_commands(owner, name, ref or branch)


def links_install_their_version(root: Path, version: versions.Version | None, names: list[str]) -> bool:
    """Whether the notebooks that the Colab links open (those committed at the version) install it.

    True for a release made by ``make release``, whose notebooks name the tag; a plain commit's
    notebooks install the branch of _config.yml, so students should upload the bundle's own.
    """
    if version is None or version.commit is None or version.dirty:
        return False
    for name in names:
        try:
            nb = nbs.reads(versions.git(root, "show", f"{version.commit}:exercises/{name}"), name)
        except (versions.VersionError, nbs.NotebookError):
            return False
        setup = next((c.source for c in nb.cells if c.get("id") == stamp.SETUP_ID), "")
        if f'@{version.ref}"' not in setup:
            return False
    return True


def version_lines(version: versions.Version | None, repo, links_pinned: bool = True) -> list[str]:
    """The README's paragraph on the course version of the bundle."""
    if version is None or version.commit is None:
        return ["**Course version: not pinned.** This bundle was made from a folder that is not a git clone, so",
                "the install lines and links below use the course's main branch, which may change.", ""]
    lines = [f"**Course version: {version.name}** (commit `{version.commit}`). The links, the install lines",
             "and each notebook's first cell install and open exactly this version, whenever you run them;",
             "the grader grades your notebook against this version's exercises.", ""]
    if not links_pinned:
        lines[:3] = [f"**Course version: {version.name}** (commit `{version.commit}`). The install lines and the",
                     "first cell of each notebook in this folder install exactly this version; the grader grades your",
                     "notebook against this version's exercises. The Colab links open the notebooks as they were at",
                     "this commit, but their first cell installs the course's latest version: **upload the notebooks",
                     "from this folder to Colab** (*File → Upload notebook*) rather than following the links.", ""]
    if version.dirty:
        lines[:3] = [f"**Course version: {version.name}. Warning:** this bundle was made from a clone with",
                     "uncommitted changes, so no install line can give you exactly this version: what you install",
                     "may differ from these notebooks. Ask your instructor for a bundle made from a commit.", ""]
    return lines


def readme(notebooks: list[tuple[Path, object]], due: str, repo, title: str,
           version: versions.Version | None = None, links_pinned: bool = True) -> str:
    ref = version.ref if version is not None and version.commit else None
    chapters = ", ".join(p.name[:2] for p, _ in notebooks)
    example = notebooks[0][0].name
    lines = [
        f"# {title}",
        "",
        f"**Due: {due}.**",
        "",
        *version_lines(version, repo, links_pinned),
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
        link = colab_link(nb, path.name, repo, ref)
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
        *install_commands(repo, ref),
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


def pinned_notebook(nb, name: str, repo, version: versions.Version | None):
    """The handed-out notebook: first cells that install and open ``version``, and its stamp."""
    if version is None or version.commit is None or repo is None:
        return nb
    owner, _, name_repo = repo[0].partition("/")
    nb = stamp.stamped(nb, (owner, name_repo, version.ref), f"exercises/{name}")
    setup = next(c for c in nb.cells if c.get("id") == stamp.SETUP_ID)
    setup.source += (
        "\n\n# The course version this notebook was handed out from: check() compares it with the installed kaibert.\n"
        "import os\n\n"
        f"os.environ[{versions.ENV!r}] = {versions.env_value(version, repo[0])!r}"
    )
    versions.stamp_notebook(nb, version, repo[0])
    return nb


def bundle_version(root: Path, ref: str | None, unpinned: bool, warn=print) -> versions.Version | None:
    """The version a bundle is pinned to: ``ref``, else the clone's HEAD; None when there is none."""
    if ref:
        return versions.resolve(root, ref)
    if not versions.is_clone(root):
        if not unpinned:
            raise AssignError(
                f"{root} is not a git clone, so the bundle cannot be pinned to a course version; make it from a "
                "clone of the course, or pass --unpinned to make it anyway (its install lines then follow the branch)"
            )
        warn(f"warning: {root} is not a git clone; the bundle is not pinned to a course version")
        return None
    version = versions.course_version(root)
    if version.dirty:
        changed = ", ".join(versions.dirty_paths(root)[:5])
        if not unpinned:
            raise AssignError(
                f"uncommitted changes to the course in {root} ({changed}): nobody could install the version these "
                "notebooks come from. Commit them (or stash them), or pass --unpinned to make the bundle anyway "
                "with a warning in its README"
            )
        warn(f"warning: uncommitted changes to the course ({changed}); the bundle says so, and its install "
             f"lines give commit {version.commit[:12]} without them")
    return version


def make_bundle(root: Path, chapters: list[str], due: str, out: Path, title: str | None = None,
                ref: str | None = None, unpinned: bool = False, warn=print) -> list[Path]:
    """Write the bundle into ``out``, pinned to ``ref`` (default: the clone's HEAD); returns the files written."""
    chapters = [f"{int(c):02d}" if c.isdigit() else c for c in chapters]
    try:
        version = bundle_version(root, ref, unpinned, warn)
        source = versions.checkout(root, version) / "exercises" if ref else None
    except versions.VersionError as err:
        raise AssignError(str(err)) from None
    paths = chapter_notebooks(root, chapters, source)
    notebooks = [(p, nbs.read(p)) for p in paths]
    for path, nb in notebooks:
        leaked = [c.get("id") for c in nb.cells if BEGIN in c.source]
        if leaked or nb.metadata.get("kaibert", {}).get("notebook") != "exercises":
            raise AssignError(f"{path} still holds reference answers (cells {leaked}); regenerate with `make exercises`")
    repo = repository(root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in notebooks:
        nbs.write(pinned_notebook(nb, path.name, repo, version), out / path.name)
        written.append(out / path.name)
    pinned_links = links_install_their_version(root, version, [p.name for p, _ in notebooks])
    text = readme(notebooks, due, repo, title or f"KAI-BERT assignment: chapters {', '.join(chapters)}", version,
                  pinned_links)
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
    parser.add_argument("--version", default=None, metavar="REF",
                        help="the course version to hand out: a release tag (course-2026.1) or a commit "
                             "(default: this clone's HEAD)")
    parser.add_argument("--unpinned", action="store_true",
                        help="make the bundle even from a clone with uncommitted changes (or no git), with a warning")
    parser.add_argument("--gradescope", action="store_true",
                        help="also write OUT_gradescope.zip, the autograder for Gradescope")
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
    warn = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        files = make_bundle(root, chapters, args.due, args.out, args.title, args.version, args.unpinned, warn)
    except (AssignError, CourseConfigError) as err:
        print(err, file=sys.stderr)
        return 2
    for path in files:
        print(f"wrote {path}")
    if args.zip:
        print(f"wrote {zip_bundle(args.out, files)}")
    if args.gradescope:
        from kaibert.course import gradescope

        notebooks = [p for p in files if p.suffix == ".ipynb"]
        try:
            print(f"wrote {gradescope.write_autograder(notebooks, args.out.with_name(args.out.name + '_gradescope.zip'))}")
        except gradescope.AutograderError as err:
            print(err, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
