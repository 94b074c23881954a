"""Grade one exercise notebook: the reference checks run on the student's answers, in a sandbox.

    kaibert-grade exercises/03_attention.ipynb
    kaibert-grade my_03.ipynb --reference exercises/03_attention.ipynb --timeout 60 --no-sandbox

The API (used by ``kaibert-grade``, ``kaibert-grade-class`` and the Gradescope autograder)::

    grade(student_path, exercise_path=None, *, timeout=60, sandbox="bwrap", limits=None,
          strict=False, keep=None, kernel=None) -> Grade

- ``exercise_path``, the reference: the chapter's exercise notebook (``exercises/NN_*.ipynb``:
  check cells with their reference outputs, no reference answers; a solution notebook works too).
  Default: for a notebook stamped by ``kaibert-assign``, its own course version's exercise
  notebook (``kaibert.course.versions``); else ``exercises/NN_*.ipynb`` of its chapter, here or
  in a folder above.
- ``limits``: a ``sandbox.Limits`` (memory, processes, time per notebook, output, file size);
  ``timeout`` is the time per cell.
- ``sandbox``: ``"bwrap"`` runs the kernel in bubblewrap (``kaibert.course.sandbox``), ``"none"``
  runs it as a plain local kernel (``--no-sandbox``; Gradescope, whose container is the sandbox),
  ``"auto"`` takes bubblewrap when it can start here and says so when it cannot.
- ``Grade``: per exercise an ``ExerciseResult`` (points, passed, message, audit flag), plus
  notebook-level errors, the status (``graded`` or ``grading error``), the sandbox used and the
  notebook's course version.
  Raises ``GradeError`` when the file cannot be graded at all, ``sandbox.SandboxError`` when
  ``sandbox="bwrap"`` cannot start.

How: the graded notebook is the reference notebook with only the answer cells taken from the
student's (matched by cell id; then by the cells' ``kaibert`` metadata; then by first line; then
by position between the cells both notebooks share, for editors that drop ids and metadata).
Everything else, the check cells above all, is the reference's, so editing or deleting a check
cell changes nothing. The grader adds a first cell of its own, run before any answer, and binds
the reference ``check`` again at the top of every check cell, so an answer cannot swap either.
``kaibert.course.kernel`` runs the cells in a fresh kernel (nbclient, a time limit per cell and
per notebook); each cell gives a typed ``CellRecord``; a check cell passes when its summary
lines match the reference's, floats within a tolerance (``kaibert.course.compare``).

Before anything runs, every answer cell is read (``kaibert.course.audit``): answers that tamper
with grading get zero points, answers that use what the exercise forbids are flagged for review.
A cell that kills or hangs the kernel costs only its exercise: the notebook runs again with that
exercise's answers emptied. A kernel that does not start is retried; if it still fails, the
notebook is reported as a grading error (the machinery's fault, not the student's).
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from kaibert.course import audit, compare, kernel, paths, versions
from kaibert.course import notebooks as nbs
from kaibert.course import sandbox as sb
from kaibert.course.exercises import BEGIN, STUB, ExerciseError, student_version

DEFAULT_TIMEOUT = 60.0  # seconds per cell
KERNEL_STARTUP = 60.0
KERNEL_ATTEMPTS = 3  # a kernel that fails to start is tried this many times
GRADER_CELL_ID = "kaibert-grader-setup"
GRADER_CELL = (
    "# Added by the grader, before any answer runs: check summaries go to this output stream.\n"
    "from kaibert.course.check import arm_for_grading as _kaibert_arm\n"
    "_kaibert_arm()\n"
    "del _kaibert_arm"
)
CHECK_PRELUDE = "from kaibert.course.check import check  # bound again by the grader before every check cell\n"
SUMMARY_LINE = re.compile(r"^\[\d{2}\.\d+\] ")
KERNEL_DIED = ("the kernel died during this cell (the process exited or crashed: os._exit, a signal, "
               "a segfault, out of memory)")
GRADED = "graded"
GRADING_ERROR = "grading error"
SANDBOXES = (*sb.MODES, "auto")


class GradeError(ValueError):
    """The notebook cannot be graded at all (not a notebook, no reference for its chapter, ...)."""


class MachineryError(RuntimeError):
    """Grading itself failed (the kernel never started, the grader's own cell failed)."""


@dataclass
class CellRecord:
    """How one code cell of the graded notebook ran."""

    id: str
    passed: bool
    message: str = ""  # why not, in words a student can act on


@dataclass
class ExerciseResult:
    exercise: str
    points: float
    passed: bool
    message: str = ""
    flag: str = ""          # "", audit.ZERO (tampering: no points) or audit.REVIEW (for the instructor)
    flag_message: str = ""  # what the answer cell does, in words

    @property
    def earned(self) -> float:
        return self.points if self.passed and self.flag != audit.ZERO else 0


@dataclass
class Grade:
    notebook: str
    solution: str  # the reference notebook graded against (an exercise notebook, or a solution)
    chapter: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # notebook-level problems (a plain cell failed, ...)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # said, but not counted (a self-check, ...)
    status: str = GRADED  # or GRADING_ERROR: the machinery failed, regrade; not the student's fault
    sandbox: str = sb.BWRAP_MODE  # what the kernel ran in: "bwrap" or "none"
    version: str = ""  # the course version the notebook was handed out from (its stamp), "" if none

    @property
    def score(self) -> float:
        return sum(r.earned for r in self.exercises)

    @property
    def total(self) -> float:
        return sum(r.points for r in self.exercises)

    @property
    def passed(self) -> bool:
        return (self.status == GRADED and not self.errors
                and all(r.passed and r.flag != audit.ZERO for r in self.exercises))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Grade":
        d = dict(d)
        d["exercises"] = [ExerciseResult(**r) for r in d.get("exercises", [])]
        return cls(**d)


# --- finding the reference -------------------------------------------------------------------


def reference_folders() -> list[Path]:
    """Where reference notebooks are looked for: the course's exercises/ (``paths.course_root``:
    the clone at or above this folder, else the one kaibert is installed from), then the
    installed clone's when that is another one."""
    roots = []
    try:
        roots.append(paths.course_root())
    except paths.CourseRootError:
        pass
    if paths.is_course_root(paths.PACKAGE_REPO) and paths.PACKAGE_REPO not in roots:
        roots.append(paths.PACKAGE_REPO)
    return [root / "exercises" for root in roots]


def find_reference(chapter: str, folders: list[Path] | None = None) -> Path:
    folders = reference_folders() if folders is None else folders
    for folder in folders:
        found = sorted(Path(folder).glob(f"{chapter}_*.ipynb"))
        if found:
            return found[0]
    where = ", ".join(str(f) for f in folders) or "no exercises/ folder found"
    raise GradeError(
        f"no exercise notebook for chapter {chapter} (looked in {where}); "
        "run from the course repository or pass --reference exercises/NN_topic.ipynb"
    )


def student_chapter(nb, path: Path) -> str | None:
    """The chapter a student's notebook belongs to: metadata, file name, then answer cell ids."""
    meta = nb.get("metadata", {}).get("kaibert", {})
    if isinstance(meta, dict) and str(meta.get("chapter", "")).isdigit():
        return f"{int(meta['chapter']):02d}"
    m = re.search(r"(?:^|[^0-9])(\d{2})_[A-Za-z]", path.name)
    if m:
        return m.group(1)
    return nbs.chapter_of(nb)


# --- the graded notebook ---------------------------------------------------------------------


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _by_position(reference, student) -> dict[int, int]:
    """Reference cell index -> student cell index, for cells between two cells both share.

    The cells a student does not edit (prose, plain code, check cells) anchor the alignment; an
    answer cell sits between the same anchors in both notebooks, at the same offset.
    """
    def key(cell):
        return (cell.cell_type, cell.source.strip())

    ref_keys = [key(c) for c in reference.cells]
    stu_keys = [key(c) for c in student.cells]
    matcher = difflib.SequenceMatcher(None, ref_keys, stu_keys, autojunk=False)
    anchors = [(-1, -1)]
    for block in matcher.get_matching_blocks():
        anchors += [(block.a + k, block.b + k) for k in range(block.size)]
    anchors.append((len(ref_keys), len(stu_keys)))
    mapped = {}
    for (a0, b0), (a1, b1) in zip(anchors, anchors[1:]):
        if a1 - a0 == b1 - b0:  # the same number of cells between the anchors: pair them in order
            for k in range(1, a1 - a0):
                mapped[a0 + k] = b0 + k
    return mapped


def _reference_stub(cell) -> str:
    """What an unanswered answer cell runs: the exercise notebook's code (a stub, or a debug
    exercise's given code); from a solution notebook, the same code made from the solution."""
    if any(line.strip() == BEGIN for line in cell.source.splitlines()):
        return student_version(cell, f"answer cell {cell.get('id')}")
    return cell.source


def build_graded(reference, student) -> tuple[object, dict[str, str]]:
    """The reference notebook with the student's answer cells in it.

    Answer cells are matched by cell id; then by their ``kaibert`` metadata (exercise and order);
    then by their first line (``def attention_scores(q, k):``); then by position between the
    cells both notebooks share. Returns the notebook and, per answer cell id, how it was found.
    """
    graded = nbs.clean(reference, keep_check_outputs=True)
    by_id = {c.get("id"): c for c in student.cells if c.cell_type == "code"}
    by_meta: dict[tuple, object] = {}
    counts: dict[str, int] = {}
    for cell in student.cells:
        if nbs.is_answer(cell):
            ex = nbs.exercise_of(cell)
            by_meta[(ex, counts.get(ex, 0))] = cell
            counts[ex] = counts.get(ex, 0) + 1
    first_lines: dict[str, list] = {}
    for cell in student.cells:
        if cell.cell_type == "code":
            first_lines.setdefault(_first_line(cell.source), []).append(cell)
    position = _by_position(reference, student)

    origin: dict[str, str] = {}
    seen: dict[str, int] = {}
    execution = 0
    for index, cell in enumerate(graded.cells):
        if nbs.is_check(cell):
            execution += 1
            cell.execution_count = execution
            cell.source = CHECK_PRELUDE + cell.source
            continue
        if not nbs.is_answer(cell):
            continue
        ex = nbs.exercise_of(cell)
        order = seen.get(ex, 0)
        seen[ex] = order + 1
        mine = by_id.get(cell.get("id"))
        how = "id"
        if mine is None:
            mine, how = by_meta.get((ex, order)), "metadata"
        first = _first_line(cell.source)
        if mine is None and first and not first.startswith(("# BEGIN SOLUTION", "raise ")):
            candidates = first_lines.get(first, [])
            if len(candidates) == 1:
                mine, how = candidates[0], "first line"
        if mine is None and index in position and student.cells[position[index]].cell_type == "code":
            candidate = student.cells[position[index]]
            if not nbs.role(candidate) or nbs.is_answer(candidate):
                mine, how = candidate, "position"
        if mine is None:
            cell.source = _reference_stub(cell)
            origin[cell.get("id")] = "missing"
        else:
            cell.source = mine.source
            origin[cell.get("id")] = how
    first = nbformat.v4.new_code_cell(GRADER_CELL)
    first["id"] = GRADER_CELL_ID
    graded.cells.insert(0, first)
    graded.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return graded, origin


# --- running the notebook --------------------------------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,16}")


def summary_of(text: str) -> list[str]:
    """The summary lines (``[03.2] name: value``) of what a check cell printed; nothing else counts.

    Debug prints, progress bars, figure reprs and the ``check:`` feedback are left out, and
    memory addresses in a value are blanked (they differ on every run).
    """
    return [_ADDRESS.sub("0xADDRESS", line) for line in text.splitlines() if SUMMARY_LINE.match(line)]


def record_of(cell, outcome: kernel.Outcome, timeout: float, reference: str = "") -> CellRecord:
    """A cell's record: did it run as it must (and, for a check cell, match ``reference``, the
    stdout the reference notebook stores for it)?"""
    cid = cell.get("id")
    if outcome.status == kernel.DIED:
        return CellRecord(cid, False, KERNEL_DIED)
    if outcome.status == kernel.TIMEOUT:
        return CellRecord(cid, False, f"ran longer than the time limit of {timeout:g} s per cell "
                                      "(an endless loop, or far too slow)")
    if outcome.status == kernel.NOTEBOOK_TIMEOUT:
        return CellRecord(cid, False, "stopped: the notebook ran past its time limit during this cell")
    if outcome.status == kernel.TOO_MUCH_OUTPUT:
        return CellRecord(cid, False, "printed more than the grader keeps (the limit on output); print less")
    if outcome.status == kernel.ERROR:
        return CellRecord(cid, False, outcome.error)
    if nbs.is_check(cell):
        want = summary_of(reference)
        found = compare.differences(summary_of(outcome.stdout), want) if want else []
        if found:
            return CellRecord(cid, False, "summary differs: " + "; ".join(found))
    return CellRecord(cid, True)


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def run_once(graded, work: Path | None, timeout: float, sandbox: str, limits: sb.Limits,
             kernel_name: str | None = None, deadline: float | None = None) -> tuple[list[CellRecord], str]:
    """Run the graded notebook once in a fresh kernel; one record per cell that ran.

    ``work``: where to write the notebook as it ran (``--keep``); ``deadline``: a
    ``time.monotonic()`` by which the whole grading of this notebook must end.
    """
    references = {c.get("id"): _stdout(c) for c in graded.cells if nbs.is_check(c)}
    nb = copy.deepcopy(graded)
    with tempfile.TemporaryDirectory(prefix="kaibert-sandbox-") as tmp:
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        nbs.write(graded, scratch / "graded.ipynb")  # the only notebook the kernel can see: its own
        outcomes, stopped = kernel.run_cells(nb, scratch, sandbox, limits, timeout, KERNEL_STARTUP, kernel_name,
                                             deadline)
    by_id = {c.get("id"): c for c in nb.cells}
    records = [record_of(by_id[o.id], o, timeout, references.get(o.id, "")) for o in outcomes]
    if work is not None:  # --keep: the notebook as it ran, outputs and all
        nbs.write(nb, work)
    return records, stopped


def machinery_problem(records: list[CellRecord], stopped: str) -> str | None:
    """Why this run says nothing about the student's answers, or None when it does."""
    if not records:
        return stopped or "no cell ran"
    first = next((r for r in records if r.id == GRADER_CELL_ID), None)
    if first is None:
        return "the kernel stopped before the grader's first cell ran"
    if not first.passed:
        return f"the grader's first cell failed: {first.message}"
    return None


def run_retrying(graded, work: Path | None, timeout: float, sandbox: str, limits: sb.Limits,
                 kernel_name: str | None = None, deadline: float | None = None) -> tuple[list[CellRecord], str]:
    """run_once, again with a fresh kernel when the kernel failed before any answer ran."""
    problem = ""
    for attempt in range(KERNEL_ATTEMPTS):
        try:
            records, stopped = run_once(graded, work, timeout, sandbox, limits, kernel_name, deadline)
        except kernel.KernelStartError as err:
            problem = str(err)
        else:
            problem = machinery_problem(records, stopped)
            if problem is None:
                return records, stopped
        time.sleep(1 + attempt)
    raise MachineryError(f"{problem} (tried {KERNEL_ATTEMPTS} times)")


def run_with_reruns(graded, work: Path | None, timeout: float, sandbox: str = sb.BWRAP_MODE,
                    limits: sb.Limits | None = None, kernel_name: str | None = None) -> tuple[list[CellRecord], str]:
    """Run the notebook; when a cell kills the kernel (an endless loop, a crash, os._exit), run it
    again with that exercise's answers emptied, so that one broken exercise costs only itself.
    """
    limits = limits or sb.Limits(cell_seconds=timeout)
    deadline = time.monotonic() + limits.notebook_seconds  # for all runs together
    code = [c for c in graded.cells if c.cell_type == "code"]
    final: dict[str, CellRecord] = {}
    current = graded
    stopped = ""
    emptied: set[str] = set()
    for attempt in range(len(nbs.exercises(graded)) + 1):
        notebook = None if work is None else work / f"graded{'' if attempt == 0 else f'_rerun{attempt}'}.ipynb"
        records, stopped = run_retrying(current, notebook, timeout, sandbox, limits, kernel_name, deadline)
        by_id = {r.id: r for r in records}
        # the first cell that did not run: the one before it stopped the kernel
        dead = next((i for i, c in enumerate(code) if c.get("id") not in by_id), None)
        for i, cell in enumerate(code):
            if dead is not None and i >= dead:
                break
            final.setdefault(cell.get("id"), by_id[cell.get("id")])
        if dead is None or stopped:
            break
        culprit = code[dead - 1] if dead > 0 else None
        culprit_rec = final.get(culprit.get("id")) if culprit is not None else None
        exercise = nbs.exercise_of(culprit) if culprit is not None and nbs.role(culprit) else None
        if exercise is None or exercise in emptied or culprit_rec is None or culprit_rec.passed:
            break  # nothing to take out: the rest is reported as not run
        emptied.add(exercise)
        current = copy.deepcopy(current)
        for cell in current.cells:
            if nbs.is_answer(cell) and nbs.exercise_of(cell) in emptied:
                cell.source = STUB.format(exercise=nbs.exercise_of(cell))
    return list(final.values()), stopped


def _explain(message: str, exercise: str, where: str) -> str:
    if "NotImplementedError" in message and f"Exercise {exercise}" in message:
        return "not answered yet (the exercise stub still raises NotImplementedError)"
    if message.startswith("summary differs: "):
        return "wrong result: " + message[len("summary differs: "):]
    return f"{where} failed: {message}"


def flags(graded, strict: bool = False) -> dict[str, tuple[str, str]]:
    """Exercise id -> (flag, message) from the audit of its answer cells; the worst finding wins."""
    found = {}
    for ex, findings in audit.audit_notebook(graded).items():
        zero = [f.message for f in findings if f.level == audit.ZERO]
        review = [f.message for f in findings if f.level == audit.REVIEW]
        if zero:
            found[ex] = (audit.ZERO, "no points: the answer " + "; ".join(zero))
        elif review and strict:
            found[ex] = (audit.ZERO, "no points (--strict): the answer " + "; ".join(review))
        elif review:
            found[ex] = (audit.REVIEW, "for review: the answer " + "; ".join(review))
    return found


def verdicts(graded, origin: dict[str, str], records: list[CellRecord], stopped: str,
             strict: bool = False) -> tuple[list[ExerciseResult], list[str]]:
    """Per exercise: passed when its answer cells and its check cell ran and the check matched."""
    by_id = {r.id: r for r in records}
    not_run = f"not run ({stopped})" if stopped else "not run"
    points = nbs.points(graded)
    audit_flags = flags(graded, strict)
    results = []
    for ex in nbs.exercises(graded):
        message = ""
        for cell in graded.cells:
            if nbs.exercise_of(cell) != ex or not nbs.is_answer(cell):
                continue
            rec = by_id.get(cell.get("id"))
            if rec is None:
                message = f"answer cell {cell.get('id')}: {not_run}"
            elif not rec.passed:
                message = _explain(rec.message, ex, f"answer cell {cell.get('id')}")
            if message:
                break
        if not message:
            check = next(c for c in graded.cells if nbs.is_check(c) and nbs.exercise_of(c) == ex)
            rec = by_id.get(check.get("id"))
            if rec is None:
                message = f"check cell {not_run}"
            elif not rec.passed:
                message = _explain(rec.message, ex, "check cell")
        missing = [c.get("id") for c in graded.cells if nbs.exercise_of(c) == ex and origin.get(c.get("id")) == "missing"]
        if message and missing:
            message = f"no answer cell {missing[0]} in the notebook (deleted or renamed?); the empty exercise failed"
        flag, flag_message = audit_flags.get(ex, ("", ""))
        results.append(ExerciseResult(ex, points.get(ex, 1), not message, message, flag, flag_message))
    errors = []
    code_cells = [c for c in graded.cells if c.cell_type == "code"]
    for cell in code_cells:
        if nbs.role(cell) or cell.get("id") == GRADER_CELL_ID:
            continue
        rec = by_id.get(cell.get("id"))
        if rec is not None and not rec.passed:
            errors.append(f"plain cell {cell.get('id')} failed: {rec.message}")
    if stopped and stopped not in " ".join(errors):
        errors.append(stopped)
    return results, errors


def _sandbox_mode(sandbox: str, notes: list[str]) -> str:
    """The sandbox to grade in: "auto" becomes bubblewrap where it starts, else none (said in a note)."""
    if sandbox not in SANDBOXES:
        raise GradeError(f"sandbox must be one of {', '.join(SANDBOXES)}, got {sandbox!r}")
    if sandbox == "auto":
        why = sb.problem()
        if why is None:
            return sb.BWRAP_MODE
        notes.append(f"graded without a sandbox: {why}")
        return sb.NONE
    if sandbox == sb.BWRAP_MODE:
        sb.require()
    return sandbox


def grade(student_path: str | Path, exercise_path: str | Path | None = None, *, timeout: float = DEFAULT_TIMEOUT,
          sandbox: str = sb.BWRAP_MODE, limits: sb.Limits | None = None, strict: bool = False,
          keep: Path | None = None, kernel: str | None = None) -> Grade:
    """Grade one student notebook against its chapter's exercise notebook (see the module's docstring).

    ``timeout``: seconds per cell; ``limits``: the sandbox's limits (``timeout`` wins for the
    cell time); ``strict`` gives no points to answers flagged for review; ``keep``: a folder for
    the notebook as it ran; ``kernel`` names a Jupyter kernel spec (default: ipykernel in this Python).
    """
    start = time.monotonic()
    student_path = Path(student_path)
    try:
        student = nbs.read(student_path)
    except nbs.NotebookError as err:
        raise GradeError(str(err)) from None
    chapter = student_chapter(student, student_path)
    notes: list[str] = []
    if exercise_path is None:
        if chapter is None:
            raise GradeError(
                f"{student_path}: cannot tell which chapter this notebook is for (no kaibert metadata, "
                "no NN_ file name, no exercise cells); pass --reference exercises/NN_topic.ipynb"
            )
        exercise_path = reference_of_version(student, chapter)  # a stamped notebook: its own version's
    if exercise_path is None:
        try:
            exercise_path = find_reference(chapter)
        except GradeError:
            if not nbs.check_cells(student) or not any(c.outputs for c in nbs.check_cells(student)):
                raise
            # A student without the course folders: the notebook's own check cells and reference outputs.
            exercise_path = student_path
            notes.append(
                "self-check: no exercises/ folder here, so the check cells and reference outputs inside "
                "this notebook were used; your instructor grades with the course's exercise notebook"
            )
    exercise_path = Path(exercise_path)
    reference = student if exercise_path == student_path else _read_reference(exercise_path)
    ref_chapter = nbs.chapter_of(reference, exercise_path)
    if chapter is not None and ref_chapter is not None and chapter != ref_chapter:
        raise GradeError(
            f"{student_path}: this notebook is for chapter {chapter}, the reference {exercise_path.name} "
            f"is for chapter {ref_chapter}"
        )
    try:
        graded, origin = build_graded(reference, student)
    except ExerciseError as err:
        raise GradeError(f"{exercise_path}: {err}") from None
    mode = _sandbox_mode(sandbox, notes)
    limits = limits or sb.Limits()
    if limits.cell_seconds != timeout:
        limits = sb.Limits(**{**asdict(limits), "cell_seconds": timeout})
    work = Path(keep).resolve() if keep else None
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
    name = ref_chapter or chapter or ""
    try:
        records, stopped = run_with_reruns(graded, work, timeout, mode, limits, kernel)
    except MachineryError as err:
        return machinery_failure(graded, student_path, exercise_path, name, str(err), time.monotonic() - start,
                                 notes, mode)
    exercises, errors = verdicts(graded, origin, records, stopped, strict)
    if all(v == "missing" for v in origin.values()) and origin:
        errors.insert(0, f"no answer cells of chapter {name} found: is this the right notebook?")
    stamp = versions.notebook_version(student)
    return Grade(
        notebook=str(student_path),
        solution=str(exercise_path),
        chapter=name,
        exercises=exercises,
        errors=errors,
        seconds=round(time.monotonic() - start, 1),
        notes=notes,
        sandbox=mode,
        version=stamp.name if stamp else "",
    )


def reference_of_version(student, chapter: str) -> Path | None:
    """The exercise notebook of the course version a stamped notebook was handed out from (issue 26).

    None for an unstamped notebook, or where no course clone is at hand (a student's self-check:
    the notebook's own check cells and references are then of its own version). A clone that
    lacks the version stops grading (GradeError): never another version's exercises in silence.
    """
    if versions.notebook_version(student) is None:
        return None
    from kaibert.course.paths import CourseRootError, course_root

    try:
        root = course_root()
    except CourseRootError:
        return None
    try:
        path, _ = versions.reference_for(student, chapter, root)
    except versions.VersionError as err:
        raise GradeError(str(err)) from None
    return path


def _read_reference(path: Path):
    try:
        return nbs.read(path)
    except nbs.NotebookError as err:
        raise GradeError(f"the reference notebook: {err}") from None


def machinery_failure(graded, student_path, solution_path, chapter: str, why: str, seconds: float,
                      notes: list[str], mode: str = sb.BWRAP_MODE) -> Grade:
    """The Grade of a notebook that the machinery failed to run: no exercise judged, regrade it."""
    points = nbs.points(graded)
    message = f"not graded: {GRADING_ERROR}, not your answer's fault; it must be graded again ({why})"
    return Grade(
        notebook=str(student_path),
        solution=str(solution_path),
        chapter=chapter,
        exercises=[ExerciseResult(ex, points.get(ex, 1), False, message) for ex in nbs.exercises(graded)],
        errors=[f"{GRADING_ERROR}: {why}"],
        seconds=round(seconds, 1),
        notes=notes,
        status=GRADING_ERROR,
        sandbox=mode,
    )


# --- printing --------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:g}"


def verdict(r: ExerciseResult) -> str:
    """pass, FAIL, or ZERO (an answer that tampers with grading: no points whatever it printed)."""
    if r.flag == audit.ZERO:
        return "ZERO"
    return "pass" if r.passed else "FAIL"


def table(result: Grade) -> str:
    rows = [("exercise", "points", "result", "flag", "message")]
    for r in result.exercises:
        message = "; ".join(m for m in (r.message, r.flag_message) if m)
        rows.append((r.exercise, f"{_num(r.earned)}/{_num(r.points)}", verdict(r), r.flag or "-", message))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"Chapter {result.chapter}: {result.notebook} graded against {result.solution}",
        "",
    ]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    lines.append("")
    for error in result.errors:
        lines.append(f"notebook error: {error}")
    for note in result.notes:
        lines.append(f"note: {note}")
    if result.version:
        lines.append(f"note: course version {result.version} (the notebook's stamp)")
    if result.sandbox == sb.NONE:
        lines.append("note: graded without a sandbox (the notebook's code ran with the grader's rights)")
    if result.status == GRADING_ERROR:
        lines.append("GRADING ERROR: the grading machinery failed on this notebook; nothing was judged. Grade it again.")
    passed = sum(r.passed and r.flag != audit.ZERO for r in result.exercises)
    lines.append(
        f"score: {_num(result.score)}/{_num(result.total)} points; {passed} of {len(result.exercises)} exercises pass"
    )
    return "\n".join(line.rstrip() for line in lines)


def add_sandbox_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    """The sandbox's flags, the same in kaibert-grade and kaibert-grade-class."""
    d = sb.Limits()
    group = parser.add_argument_group("sandbox (bubblewrap) and limits")
    group.add_argument("--no-sandbox", dest="sandbox", action="store_const", const=sb.NONE, default=default,
                       help="run the notebooks' code without a sandbox, with your own rights (recorded in the results)")
    group.add_argument("--sandbox", dest="sandbox", choices=SANDBOXES,
                       help=f"bwrap: bubblewrap; none: no sandbox; auto: bubblewrap where it can start (default {default})")
    group.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                       help=f"seconds each cell may run (default {DEFAULT_TIMEOUT:g})")
    group.add_argument("--notebook-timeout", type=float, default=d.notebook_seconds,
                       help=f"seconds one notebook may run in all (default {d.notebook_seconds:g})")
    group.add_argument("--memory", type=int, default=d.memory_mb, metavar="MB",
                       help=f"address space of each process in the sandbox, in MB (default {d.memory_mb})")
    group.add_argument("--processes", type=int, default=d.processes,
                       help=f"processes and threads the notebook may have at once (default {d.processes})")
    group.add_argument("--output", type=int, default=d.output_kb, metavar="KB",
                       help=f"what one cell may print, in KB (default {d.output_kb})")
    group.add_argument("--file-size", type=int, default=d.file_mb, metavar="MB",
                       help=f"the largest file the notebook may write, in MB (default {d.file_mb})")


def limits_from(args: argparse.Namespace) -> sb.Limits:
    """The limits that ``add_sandbox_arguments``'s options name; a ValueError names one that is not positive."""
    return sb.Limits(memory_mb=args.memory, processes=args.processes, cell_seconds=args.timeout,
                     notebook_seconds=args.notebook_timeout, output_kb=args.output, file_mb=args.file_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kaibert-grade",
        description="Grade an exercise notebook: the reference checks run on your answers, one row per exercise.",
    )
    parser.add_argument("notebook", type=Path, help="the exercise notebook to grade (NN_topic.ipynb)")
    parser.add_argument("--reference", "--solution", dest="reference", type=Path, default=None,
                        help="the reference notebook: the chapter's exercise notebook "
                             "(default: exercises/NN_*.ipynb of the notebook's chapter)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    parser.add_argument("--keep", type=Path, default=None, help="keep the notebook as it ran in this folder")
    parser.add_argument("--strict", action="store_true",
                        help="no points for answers flagged for review (they use what the exercise forbids)")
    parser.add_argument("--kernel", default=None,
                        help="Jupyter kernel spec to grade in (default: a kernel in this Python)")
    add_sandbox_arguments(parser, default="auto")
    args = parser.parse_args(argv)
    try:
        limits = limits_from(args)
    except ValueError as err:
        print(f"kaibert: {err}", file=sys.stderr)
        return 2
    print(f"grading {args.notebook} in a fresh kernel (every cell runs again; this takes a little while) ...",
          file=sys.stderr, flush=True)
    try:
        result = grade(args.notebook, args.reference, timeout=args.timeout, sandbox=args.sandbox, limits=limits,
                       keep=args.keep, strict=args.strict, kernel=args.kernel)
    except GradeError as err:
        print(f"cannot grade: {err}", file=sys.stderr)
        return 2
    except sb.SandboxError as err:
        print(f"cannot grade in a sandbox: {err}", file=sys.stderr)
        return 2
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    if result.status == GRADING_ERROR:
        return 3
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
