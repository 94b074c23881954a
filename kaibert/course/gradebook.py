"""Grade a whole class: a folder of submissions in, a CSV gradebook and feedback files out.

    kaibert-grade-class submissions/ --out gradebook.csv --feedback-dir feedback/ --jobs 2

``submissions/`` holds one entry per student, named however the students or the LMS named it:
a folder (with one notebook per assigned chapter) or a single notebook file. Every notebook is
graded by ``kaibert.course.grade`` in its own kernel, against the exercise notebook of its
chapter (``exercises/``, whose check cells carry the reference outputs). Broken submissions (not a notebook, invalid JSON, a cell that raises or
loops forever, the wrong chapter, nothing at all) get a row that says so; the run goes on.

Every kernel runs in the sandbox of ``kaibert.course.sandbox`` (bubblewrap). Where none can
start, the command stops before grading anything and says how to get one; ``--no-sandbox``
grades without, and the gradebook's ``sandbox`` column records it on every row.

Each notebook's result goes to a journal (``<out>_journal.jsonl``, one JSON line per notebook)
the moment it is graded. A run that is killed or crashes keeps everything already graded: the
same command again grades only what is left (a submission whose file changed is graded again),
and ``--restart`` starts over. The CSVs are written whole or not at all (a temporary file, then
a rename). A notebook that crashes its sandbox is a grading error on its own rows only.

A notebook handed out by ``kaibert-assign`` carries its course version; it is graded against that
version's exercise notebook, taken from the clone's git history (``kaibert.course.versions``), and
the ``version`` column names it. A version the clone lacks stops the run before anything is graded.
``--exercises DIR`` grades every notebook against DIR instead. ``--canvas EXPORT.csv`` also fills
Canvas's exported gradebook (``kaibert.course.canvas``); ``--similarity`` writes the similarity
report ``<out>_similarity.csv`` (``kaibert.course.similarity``).

Which chapters are assigned: ``--chapters 01 03``, or else every chapter that at least half of
the students handed in. Rows are sorted, so the result does not depend on the order of grading.

Two CSV files come out: the long one (``--out``, one row per student and exercise, with the
audit's ``flag``) and a per-student one (``--totals``, default ``<out>_students.csv``: points,
max points and one column per exercise) that a learning platform imports. A notebook that the
grading machinery failed on (a kernel that never started) has the status ``grading error``: it
is not counted against the student, the summary lists it, and the command exits with status 3
so that it is graded again.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kaibert.course import grade as grading
from kaibert.course import notebooks as nbs
from kaibert.course import sandbox as sb
from kaibert.course import versions

IGNORED = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}
COLUMNS = ["student", "exercise", "status", "passed", "points", "max_points", "flag", "message", "sandbox", "version"]
JOURNAL_VERSION = 1
GRADED, NOT_GRADED = "graded", "not graded"


class GradebookError(ValueError):
    """The class cannot be graded as asked (no such folder, a journal of other settings, no exercise
    notebooks, no sandbox, ...); nothing was graded. The message says what to change.

    ``main`` prints it and exits with status 2; library callers catch it like any exception.
    """


@dataclass(frozen=True)
class Row:
    student: str
    exercise: str
    passed: bool
    points: float
    max_points: float
    message: str
    flag: str = ""        # "", "zero" or "review": what the audit of the answer cells found
    status: str = GRADED  # GRADED, NOT_GRADED (nothing to grade) or grading.GRADING_ERROR
    sandbox: str = ""     # what the class was graded in: "bwrap", or "none" (--no-sandbox)
    version: str = ""     # the course version the notebook was handed out from ("" when unstamped)

    def csv(self) -> list:
        return [self.student, self.exercise, self.status, "yes" if self.passed else "no",
                f"{self.points:g}", f"{self.max_points:g}", self.flag, self.message, self.sandbox, self.version]


@dataclass
class Found:
    """One file of a submission, read but not run."""

    path: Path
    chapter: str | None = None
    problem: str | None = None  # why it cannot be graded (not a notebook, ...)


def students(folder: Path) -> dict[str, Path]:
    """Student name -> their folder or file; the name is the entry's name without .ipynb."""
    if not folder.is_dir():
        raise GradebookError(f"{folder} is not a folder; pass the folder that holds one entry per student")
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED:
            continue
        name = entry.name[: -len(".ipynb")] if entry.is_file() and entry.name.endswith(".ipynb") else entry.name
        found[name] = entry
    return found


def files_of(entry: Path) -> list[Path]:
    if entry.is_file():
        return [entry]
    return sorted(
        p for p in entry.rglob("*")
        if p.is_file() and not any(part.startswith(".") or part in IGNORED for part in p.relative_to(entry).parts)
    )


def survey(entry: Path) -> list[Found]:
    """Read (never run) every file of a submission and say which chapter each notebook is."""
    found = []
    for path in files_of(entry):
        if path.suffix != ".ipynb" and entry.is_dir():
            kind = f"a {path.suffix} file" if path.suffix else "a file without extension"
            found.append(Found(path, None, f"not a notebook ({kind})"))
            continue
        try:
            nb = nbs.read(path)
        except nbs.NotebookError as err:
            chapter = re.search(r"(?:^|[^0-9])(\d{2})_[A-Za-z]", path.name)
            why = str(err).split(": ", 1)[-1]
            if path.suffix != ".ipynb":
                why = f"not a notebook (a {path.suffix} file)" if path.suffix else "not a notebook"
            found.append(Found(path, chapter.group(1) if chapter else None, why))
            continue
        chapter = grading.student_chapter(nb, path)
        found.append(Found(path, chapter, None if chapter else "cannot tell which chapter this notebook is for"))
    return found


def assigned_chapters(surveys: dict[str, list[Found]], available: set[str]) -> list[str]:
    """Chapters at least half of the students handed in a readable notebook for."""
    counts: dict[str, int] = {}
    for found in surveys.values():
        for ch in {f.chapter for f in found if f.chapter and not f.problem}:
            counts[ch] = counts.get(ch, 0) + 1
    half = max(1, (len(surveys) + 1) // 2)
    return sorted(ch for ch, n in counts.items() if n >= half and ch in available)


def solution_exercises(solution: Path) -> list[tuple[str, float]]:
    nb = nbs.read(solution)
    points = nbs.points(nb)
    return [(ex, points[ex]) for ex in nbs.exercises(nb)]


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def rows_for(student: str, entry: Path, found: list[Found], chapters: list[str], solutions: dict[str, Path],
             graded: dict[Path, grading.Grade | str], root: Path) -> list[Row]:
    """The gradebook rows of one student, from what was found and what was graded."""
    rows: list[Row] = []
    if not found:
        what = "an empty folder" if entry.is_dir() else "no file"
        for ch in chapters:
            for ex, pts in solution_exercises(solutions[ch]):
                rows.append(Row(student, ex, False, 0, pts, f"no notebook submitted ({what})", status=NOT_GRADED))
        return rows
    unreadable = [f for f in found if f.problem]
    for ch in chapters:
        mine = [f for f in found if f.chapter == ch and not f.problem]
        exercises = solution_exercises(solutions[ch])
        if not mine:
            broken = [f for f in unreadable if f.chapter in (ch, None)]
            if broken:
                why = "; ".join(f"{_display(f.path, root)}: {f.problem}" for f in broken)
                message = f"not graded: {why}"
            else:
                message = f"no notebook for chapter {ch} submitted"
            rows += [Row(student, ex, False, 0, pts, message, status=NOT_GRADED) for ex, pts in exercises]
            continue
        chosen = mine[0]
        for extra in mine[1:]:
            rows.append(Row(student, f"{ch} notebook", False, 0, 0,
                            f"also handed in {_display(extra.path, root)} for chapter {ch}; graded "
                            f"{_display(chosen.path, root)} only"))
        result = graded.get(chosen.path)
        if isinstance(result, grading.Grade):
            for r in result.exercises:
                message = "; ".join(m for m in (r.message, r.flag_message) if m)
                rows.append(Row(student, r.exercise, r.passed and r.flag != "zero", r.earned, r.points, message,
                                r.flag, result.status))
            for error in result.errors:
                rows.append(Row(student, f"{ch} notebook", False, 0, 0, error, status=result.status))
        else:
            message = f"not graded: {result or 'grading did not finish'}"
            status = NOT_GRADED if result else grading.GRADING_ERROR
            rows += [Row(student, ex, False, 0, pts, message, status=status) for ex, pts in exercises]
    for f in found:
        if f.chapter and f.chapter not in chapters and not f.problem:
            rows.append(Row(student, f"{f.chapter} notebook", False, 0, 0,
                            f"{_display(f.path, root)} is a chapter {f.chapter} notebook, not part of this "
                            f"assignment (chapters {', '.join(chapters) or 'none'}); not graded"))
        elif f.problem and f.chapter is None and not chapters:
            rows.append(Row(student, "notebook", False, 0, 0, f"{_display(f.path, root)}: {f.problem}"))
    return sorted(rows, key=lambda r: (nbs.natural_key(r.exercise), r.message))


class Journal:
    """Each graded notebook's result, one JSON line, written the moment it is known.

    The first line holds the settings; a later run with other settings must ``--restart``.
    A line is keyed by the submission's path and its content's hash, so a file handed in again
    is graded again. Grading errors are never reused: they are graded again.
    """

    def __init__(self, path: Path, settings: dict, restart: bool = False):
        self.path = Path(path)
        self.settings = settings
        self.done: dict[tuple[str, str], grading.Grade | str] = {}
        self._lock = threading.Lock()
        if restart:
            self.path.unlink(missing_ok=True)
        if self.path.exists():
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"journal": JOURNAL_VERSION, "settings": settings})

    def _load(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            head = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            head = {}
        if head.get("journal") != JOURNAL_VERSION:
            raise GradebookError(f"{self.path} is not a grading journal of this version; pass --restart to start over")
        if head.get("settings") != self.settings:
            changed = sorted(k for k in set(self.settings) | set(head.get("settings", {}))
                             if self.settings.get(k) != head.get("settings", {}).get(k))
            raise GradebookError(f"{self.path} was written by a run with other settings ({', '.join(changed)}); "
                             "run with the same options to continue it, or pass --restart to grade everything again")
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                result = entry["result"]
                result = grading.Grade.from_dict(result) if isinstance(result, dict) else str(result)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short when a run was killed: that notebook is graded again
            if isinstance(result, grading.Grade) and result.status == grading.GRADING_ERROR:
                continue
            self.done[(entry["path"], entry["sha256"])] = result

    def _append(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def get(self, key: tuple[str, str]):
        return self.done.get(key)

    def add(self, key: tuple[str, str], student: str, result: grading.Grade | str) -> None:
        entry = {"student": student, "path": key[0], "sha256": key[1],
                 "result": result.to_dict() if isinstance(result, grading.Grade) else result}
        with self._lock:
            self.done[key] = result
            self._append(entry)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grade_class(folder: Path, chapters: list[str] | None = None, references_dir: Path | None = None,
                timeout: float = grading.DEFAULT_TIMEOUT, jobs: int = 1, log=print, strict: bool = False,
                kernel: str | None = None, sandbox: str = sb.BWRAP_MODE, limits: sb.Limits | None = None,
                journal: Path | None = None, restart: bool = False, keep: Path | None = None) -> list[Row]:
    """Grade every submission in ``folder``; returns the sorted rows of the gradebook.

    ``references_dir``: the exercise notebooks (default: exercises/); ``journal``: where each
    result is written as it finishes (None: nowhere); ``restart``: forget that journal first;
    ``keep``: a folder for the notebooks as they ran (``keep/<student>/<notebook>/``).
    """
    if sandbox not in sb.MODES:
        raise GradebookError(f"--sandbox must be one of {', '.join(sb.MODES)} for a class, got {sandbox!r}")
    entries = students(folder)
    folders = [references_dir] if references_dir else grading.reference_folders()
    available: dict[str, Path] = {}
    for ref_folder in folders:
        for path in nbs.iter_notebooks(ref_folder):
            m = re.match(r"^(\d{2})_", path.name)
            if m:
                available.setdefault(m.group(1), path)
    if not available:
        where = ", ".join(map(str, folders)) or "no exercises/ folder here or above"
        raise GradebookError(f"no exercise notebooks found ({where}); run from the course repository or pass --exercises DIR")
    surveys = {name: survey(entry) for name, entry in entries.items()}
    if chapters:
        missing = [ch for ch in chapters if ch not in available]
        if missing:
            raise GradebookError(f"no exercise notebook for chapter(s) {', '.join(missing)} in {', '.join(map(str, folders))}")
        chapters = sorted(chapters)
    else:
        chapters = assigned_chapters(surveys, set(available))
    if sandbox == sb.BWRAP_MODE:
        why = sb.problem()
        if why:
            raise GradebookError(f"cannot grade in a sandbox, so nothing was graded: {why}")
    limits = limits or sb.Limits(cell_seconds=timeout)
    log(f"{len(entries)} submissions; chapters graded: {', '.join(chapters) or 'none found'}; "
        + ("each notebook in a bubblewrap sandbox" if sandbox == sb.BWRAP_MODE else "WITHOUT a sandbox (--no-sandbox)"))

    todo, stamps = by_version(surveys, chapters, available, references_dir is None)
    settings = {"chapters": chapters, "references": sorted(str(p) for p in available.values()),
                "timeout": timeout, "strict": strict, "kernel": kernel, "sandbox": sandbox,
                "limits": {k: v for k, v in vars(limits).items()}}
    book = Journal(journal, settings, restart) if journal else None

    def run(job):
        name, path, reference = job
        key = (_display(path, folder), _sha256(path))
        known = book.get(key) if book else None
        if known is not None:
            log(f"  {name}: from the journal")
            return path, known
        try:
            kept = keep / safe_name(name) / safe_name(path.stem) if keep else None
            result = grading.grade(path, reference, timeout=timeout, sandbox=sandbox, limits=limits,
                                   strict=strict, kernel=kernel, keep=kept)
        except grading.GradeError as err:
            result = str(err).replace(f"{path}: ", "")
        except Exception as err:  # the class goes on whatever one notebook does
            result = grading.machinery_failure(nbs.read(reference), path, reference, reference.name[:2],
                                               f"{type(err).__name__}: {err}", 0.0, [], sandbox)
        if isinstance(result, grading.Grade) and result.status == grading.GRADING_ERROR:
            log(f"  {name}: chapter {result.chapter}, GRADING ERROR ({result.errors[0]}); grade it again")
        elif isinstance(result, grading.Grade):
            log(f"  {name}: chapter {result.chapter}, {result.score:g}/{result.total:g} points ({result.seconds:g} s)")
        else:
            log(f"  {name}: {result}")
        if book:
            book.add(key, name, result)
        return path, result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = dict(pool.map(run, todo))
    rows = []
    for name, entry in entries.items():
        rows += rows_for(name, entry, surveys[name], chapters, available, graded, folder)
    rows = [dataclasses.replace(r, sandbox=sandbox, version=stamps.get((r.student, r.exercise[:2]), ""))
            for r in rows]
    return sorted(rows, key=lambda r: (r.student, nbs.natural_key(r.exercise), r.message))


def by_version(surveys: dict[str, list[Found]], chapters: list[str], available: dict[str, Path],
               own_versions: bool) -> tuple[list[tuple[str, Path, Path]], dict[tuple[str, str], str]]:
    """The notebooks to grade, each with its reference: the exercise notebook of the course version
    it was handed out from when ``own_versions`` (issue 26), else the chapter's in ``available``.

    Returns the jobs (student, notebook, reference) and, per (student, chapter), the version's name.
    Stops (GradebookError) before anything is graded when some version is not in the clone.
    """
    root = None
    if own_versions:
        from kaibert.course.paths import CourseRootError, course_root

        try:
            root = course_root()
        except CourseRootError:
            root = None
    todo, stamps, missing = [], {}, []
    for name, found in surveys.items():
        for ch in chapters:
            mine = [f for f in found if f.chapter == ch and not f.problem]
            if not mine:
                continue
            reference = available[ch]
            nb = nbs.read(mine[0].path)
            stamp = versions.notebook_version(nb)
            if stamp is not None:
                stamps[(name, ch)] = stamp.name
                if own_versions:
                    try:
                        reference = versions.reference_for(nb, ch, root)[0] or reference
                    except versions.VersionError as err:
                        missing.append(f"{name} ({mine[0].path.name}): {err}")
            todo.append((name, mine[0].path, reference))
    if missing:
        raise GradebookError(f"{len(missing)} notebook(s) were handed out from a course version that cannot be had, "
                         "so nothing was graded:\n  " + "\n  ".join(missing))
    return todo, stamps


# --- outputs ---------------------------------------------------------------------------------


def _is_exercise(name: str) -> bool:
    """An exercise row (``03.2``), not a notebook-level one (``03 notebook``)."""
    return nbs.EXERCISE_ID.match(name) is not None


def write_atomic(path: Path, rows: list[list]) -> None:
    """A CSV written whole or not at all: a temporary file next to it, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_csv(rows: list[Row], path: Path) -> None:
    """The long gradebook: one row per student and exercise (and per notebook-level problem)."""
    write_atomic(path, [COLUMNS, *(row.csv() for row in rows)])


def write_totals(rows: list[Row], path: Path) -> None:
    """One row per student: points, max points, one column per exercise, and the status."""
    exercises = sorted({r.exercise for r in rows if _is_exercise(r.exercise)}, key=nbs.natural_key)
    table = [["student", "points", "max_points", *exercises, "status"]]
    for name in sorted({r.student for r in rows}):
        mine = [r for r in rows if r.student == name and _is_exercise(r.exercise)]
        by_ex = {r.exercise: r for r in mine}
        status = grading.GRADING_ERROR if any(r.status == grading.GRADING_ERROR for r in mine) else GRADED
        table.append([name, f"{sum(r.points for r in mine):g}", f"{sum(r.max_points for r in mine):g}",
                      *(f"{by_ex[ex].points:g}" if ex in by_ex else "" for ex in exercises), status])
    write_atomic(path, table)


def grading_errors(rows: list[Row]) -> list[str]:
    """Students whose notebooks must be graded again, each once."""
    return sorted({r.student for r in rows if r.status == grading.GRADING_ERROR})


def summary(rows: list[Row]) -> str:
    """Students x exercises: points earned per exercise, and the total."""
    exercises = sorted({r.exercise for r in rows if _is_exercise(r.exercise)}, key=nbs.natural_key)
    names = sorted({r.student for r in rows})
    cell = {(r.student, r.exercise): r for r in rows}
    header = ["student", *exercises, "total", "notes"]
    table = [header]
    for name in names:
        mine = [r for r in rows if r.student == name]
        line = [name]
        for ex in exercises:
            r = cell.get((name, ex))
            line.append("-" if r is None else f"{r.points:g}/{r.max_points:g}" + ("!" if r.flag else ""))
        earned = sum(r.points for r in mine)
        possible = sum(r.max_points for r in mine)
        line.append(f"{earned:g}/{possible:g}")
        if any(r.status == grading.GRADING_ERROR for r in mine):
            notes = ["GRADING ERROR: grade again"]
        else:
            notes = [r.message for r in mine if not _is_exercise(r.exercise)]
            not_graded = {r.message for r in mine if r.message.startswith(("not graded", "no notebook"))}
            notes = sorted(not_graded) + notes
        line.append("; ".join(notes)[:100])
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    text = "\n".join(
        ("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + row[-1]).rstrip() for row in table
    )
    if any(r.flag for r in rows):
        text += "\n(! the audit flagged the answer: see the flag column of the CSV)"
    return text


def feedback_markdown(student: str, rows: list[Row]) -> str:
    """A student's feedback: a problem shared by every exercise of a notebook is said once."""
    mine = [r for r in rows if r.student == student]
    earned = sum(r.points for r in mine)
    possible = sum(r.max_points for r in mine)
    lines = [f"# Feedback for {student}", ""]
    if any(r.status == grading.GRADING_ERROR for r in mine):
        lines += ["**Grading error.** The grading machinery failed on your notebook (not because of your "
                  "answers), so it was not judged; your instructor will grade it again.", ""]
    lines += [f"Score: **{earned:g} / {possible:g} points**.", ""]
    exercise_rows = [r for r in mine if _is_exercise(r.exercise)]
    shared: dict[str, str] = {}  # chapter -> the one message all its exercises share
    for ch in sorted({r.exercise[:2] for r in exercise_rows}):
        messages = {r.message for r in exercise_rows if r.exercise[:2] == ch}
        if len(messages) == 1 and next(iter(messages)) and sum(r.exercise[:2] == ch for r in exercise_rows) > 1:
            shared[ch] = messages.pop()
    notes = [r for r in mine if not _is_exercise(r.exercise)]
    for ch, message in shared.items():
        lines.append(f"- Chapter {ch}: {message}")
    for r in notes:
        lines.append(f"- {r.exercise}: {r.message}")
    if shared or notes:
        lines.append("")
    lines += ["| exercise | result | points | what to look at |", "|---|---|---|---|"]
    for r in exercise_rows:
        result = "pass" if r.passed else "not passed"
        if r.flag == "review":
            result += " (flagged for review)"
        message = "see above" if r.exercise[:2] in shared else (r.message.replace("|", "\\|") or "-")
        lines.append(f"| {r.exercise} | {result} | {r.points:g}/{r.max_points:g} | {message} |")
    lines += [
        "",
        "Every exercise is graded by running the reference check cell on your answer cells and comparing its",
        "summary lines with the reference (numbers within a small tolerance). Grade yourself before you hand",
        "in: `kaibert-grade NN_topic.ipynb` (with the course's environment active).",
        "",
    ]
    return "\n".join(lines)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "student"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kaibert-grade-class",
        description="Grade a folder of submissions (one folder or notebook per student) into a CSV gradebook.",
    )
    parser.add_argument("submissions", type=Path, help="folder with one entry per student")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="CSV to write (default gradebook.csv)")
    parser.add_argument("--feedback-dir", type=Path, default=None,
                        help="write one feedback markdown file per student here (default: feedback/ next to the CSV)")
    parser.add_argument("--chapters", nargs="+", default=None, metavar="NN",
                        help="assigned chapters (default: those at least half of the students handed in)")
    parser.add_argument("--exercises", "--solutions", dest="references", type=Path, default=None,
                        help="folder of the exercise notebooks graded against (default: exercises/)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    parser.add_argument("--totals", type=Path, default=None,
                        help="per-student CSV: points, max points, one column per exercise "
                             "(default: <out>_students.csv)")
    parser.add_argument("--strict", action="store_true",
                        help="no points for answers flagged for review (they use what the exercise forbids)")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel spec to grade in (default: this Python)")
    parser.add_argument("--journal", type=Path, default=None,
                        help="where each result is written as it finishes (default: <out>_journal.jsonl); "
                             "the same command again continues from it")
    parser.add_argument("--restart", action="store_true", help="forget the journal and grade everything again")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep every notebook as it ran, outputs and all, in this folder (one folder per student)")
    parser.add_argument("--canvas", type=Path, default=None, metavar="EXPORT.csv",
                        help="also fill this gradebook exported from Canvas: writes <out>_canvas.csv to import")
    parser.add_argument("--canvas-assignment", default=None, metavar="NAME",
                        help="the Canvas assignment column to fill (part of its name; needed when the export has several)")
    parser.add_argument("--similarity", action="store_true",
                        help="also write <out>_similarity.csv: pairs of students with unusually alike answers, to look at")
    grading.add_sandbox_arguments(parser, default=sb.BWRAP_MODE)
    args = parser.parse_args(argv)
    if args.sandbox == "auto":
        parser.error("a class is graded with --sandbox bwrap (the default) or --no-sandbox")
    try:
        limits = grading.limits_from(args)
    except ValueError as err:
        print(f"kaibert: {err}", file=sys.stderr)
        return 2
    chapters = [f"{int(c):02d}" if c.isdigit() else c for c in args.chapters] if args.chapters else None
    journal = args.journal or args.out.with_name(f"{args.out.stem}_journal.jsonl")
    try:
        rows = grade_class(args.submissions, chapters, args.references, args.timeout, args.jobs,
                           log=lambda line: print(line, flush=True), strict=args.strict, kernel=args.kernel,
                           sandbox=args.sandbox, limits=limits, journal=journal, restart=args.restart,
                           keep=args.keep)
    except GradebookError as err:
        print(err, file=sys.stderr)
        return 2
    write_csv(rows, args.out)
    totals = args.totals or args.out.with_name(f"{args.out.stem}_students.csv")
    write_totals(rows, totals)
    print()
    print(summary(rows))
    print()
    print(f"wrote {args.out} ({len(rows)} rows) and {totals} ({len({r.student for r in rows})} students); "
          f"journal: {journal}")
    if args.sandbox == sb.NONE:
        print("graded WITHOUT a sandbox (--no-sandbox): the gradebook's sandbox column says 'none' on every row")
    args.feedback_dir = args.feedback_dir or args.out.parent / "feedback"
    if rows:
        args.feedback_dir.mkdir(parents=True, exist_ok=True)
        for student in sorted({r.student for r in rows}):
            (args.feedback_dir / f"{safe_name(student)}.md").write_text(feedback_markdown(student, rows), encoding="utf-8")
        print(f"wrote feedback for {len({r.student for r in rows})} students to {args.feedback_dir}/")
    status = lms_outputs(args, rows)
    failed = grading_errors(rows)
    if failed:
        print(f"GRADING ERRORS: the machinery failed on the notebooks of {', '.join(failed)}; nothing of "
              "theirs was judged. Grade them again (exit status 3).")
        return 3
    return status


def lms_outputs(args, rows: list[Row]) -> int:
    """--canvas and --similarity, after the gradebook is written; 2 when the Canvas export is unusable."""
    status = 0
    if args.canvas:
        from kaibert.course import canvas

        points, max_points = canvas.points_from_rows(rows)
        out = args.out.with_name(f"{args.out.stem}_canvas.csv")
        try:
            print(canvas.fill(args.canvas, points, max_points, out, args.canvas_assignment).summary())
        except canvas.CanvasError as err:
            print(f"--canvas: {err}", file=sys.stderr)
            status = 2
    if args.similarity:
        from kaibert.course import similarity

        entries = students(args.submissions)
        notebooks = {name: [f.path for f in survey(entry) if f.chapter and not f.problem]
                     for name, entry in entries.items()}
        folders = [args.references] if args.references else grading.reference_folders()
        exercise_notebooks = [p for folder in folders for p in nbs.iter_notebooks(folder)]
        out = args.out.with_name(f"{args.out.stem}_similarity.csv")
        found = similarity.report(notebooks, exercise_notebooks, out)
        print(f"wrote {out}: {len(found)} pair(s) of students whose answers are unusually alike "
              "(a prompt to look, never a verdict)")
    return status


if __name__ == "__main__":
    sys.exit(main())
