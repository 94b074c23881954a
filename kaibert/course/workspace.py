"""Copy the exercise notebooks into a folder of your own, where nothing else writes.

    make work                          # every chapter, into work/ (the same as kaibert-workspace)
    kaibert-workspace 03 04            # only these chapters
    kaibert-workspace --out ~/bert     # another folder

``exercises/`` belongs to the course: ``make exercises`` regenerates it from ``solutions/`` and a
``git pull`` updates it, so answers typed there can be overwritten. ``work/`` (ignored by git) is
yours. This command only ever adds to it: a notebook that is already there is kept as it is, never
replaced, so running it again after an update brings in new chapters and leaves your answers alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kaibert.course import notebooks as nbs
from kaibert.course.paths import CourseRootError, course_root

WORK = "work"


class WorkspaceError(ValueError):
    """A request the command cannot carry out; the message says what to do instead."""


def exercise_notebooks(root: Path, chapters: list[str] | None = None) -> list[Path]:
    """The exercise notebooks of ``chapters`` (all when None), in chapter order."""
    available = nbs.iter_notebooks(root / "exercises")
    if not available:
        raise WorkspaceError(f"no exercise notebooks in {root / 'exercises'}; run `make exercises` there first")
    if not chapters:
        return available
    chosen = []
    for chapter in chapters:
        number = f"{int(chapter):02d}" if chapter.isdigit() else chapter
        found = [p for p in available if p.name.startswith(f"{number}_")]
        if not found:
            names = ", ".join(p.name[:2] for p in available)
            raise WorkspaceError(f"no exercise notebook for chapter {chapter!r} (chapters available: {names})")
        chosen.extend(p for p in found if p not in chosen)
    return chosen


def copy_new(sources: list[Path], out: Path) -> tuple[list[Path], list[Path]]:
    """Copy each source into ``out`` unless a file of that name is there; returns (copied, kept)."""
    if out.exists() and not out.is_dir():
        raise WorkspaceError(f"{out} is a file, not a folder; choose another place with --out")
    out.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for source in sources:
        target = out / source.name
        try:
            # "x": create, and fail if the file exists, so a copy can never replace one.
            with open(target, "xb") as f:
                f.write(source.read_bytes())
        except FileExistsError:
            kept.append(target)
        else:
            copied.append(target)
    return copied, kept


def shown(path: Path) -> str:
    """The path as the student typed it: relative to here when it is below here."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return str(path.resolve()) if rel.startswith("..") else rel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kaibert-workspace",
        description="Copy the exercise notebooks into a folder of your own (work/ by default). "
        "A notebook already there is never replaced.",
    )
    parser.add_argument("chapters", nargs="*", metavar="NN", help="chapters to copy, e.g. 03 04 (default: all)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the folder to copy into (default: work/ in the course repository)")
    parser.add_argument("--root", type=Path, default=None,
                        help="the course repository (default: the clone at or above this folder, "
                        "else the one kaibert is installed from)")
    args = parser.parse_args(argv)
    try:
        root = course_root(args.root)
        out = args.out if args.out is not None else root / WORK
        copied, kept = copy_new(exercise_notebooks(root, args.chapters), out)
    except (CourseRootError, WorkspaceError, OSError) as err:
        parser.exit(2, f"kaibert-workspace: {err}\n")
    for path in copied:
        print(f"copied  {shown(path)}")
    for path in kept:
        print(f"kept    {shown(path)}  (already there: your copy is left as it is)")
    print(f"{len(copied)} copied, {len(kept)} kept, in {shown(out)}/.")
    if kept:
        print("To start a chapter afresh, rename or delete your copy and run this again.")
    example = (copied + kept)[0].resolve()
    if example.is_relative_to(root):
        print(f"In the repository, `make lab` opens them in JupyterLab and "
              f"`make grade NB={example.relative_to(root)}` grades one.")
    else:
        print(f"`jupyter lab {shown(out)}` opens them and `kaibert-grade {shown(example)}` grades one.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
