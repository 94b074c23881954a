"""Grade one exercise notebook against the reference solution.

    kaibert-grade exercises/03_attention.ipynb
    python -m kaibert.course.grade my_03.ipynb --solution solutions/03_attention.ipynb --timeout 60

The graded notebook is the reference solution with only the answer cells taken from the
student's notebook (matched by cell id). Everything else, the check cells above all, is the
reference's, so editing or deleting a check cell changes nothing. The grader adds a first cell
of its own, run before any answer, and binds the reference ``check`` again at the top of every
check cell, so an answer cannot swap either. nbval then runs the notebook in a fresh kernel and
compares each check cell's summary lines with the reference output, floats within a tolerance
(``kaibert.course.compare``); the table says, per exercise, whether it passed and why not.

Before anything runs, every answer cell is read (``kaibert.course.audit``): answers that tamper
with grading get zero points, answers that use what the exercise forbids are flagged for review.
A kernel that does not start is retried; if it still fails, the notebook is reported as a
grading error (the machinery's fault, not the student's), never as wrong answers.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from kaibert.course import audit
from kaibert.course import notebooks as nbs
from kaibert.course.exercises import ExerciseError, strip_solution

SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")
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
GRADED = "graded"
GRADING_ERROR = "grading error"


class GradeError(ValueError):
    """The notebook cannot be graded at all (not a notebook, no solution for its chapter, ...)."""


class MachineryError(RuntimeError):
    """Grading itself failed (the kernel never started, the grader's own cell failed)."""


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
    solution: str
    chapter: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # notebook-level problems (a plain cell failed, ...)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # said, but not counted (a self-check, ...)
    status: str = GRADED  # or GRADING_ERROR: the machinery failed, regrade; not the student's fault

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


# --- finding the solution --------------------------------------------------------------------


def solution_folders() -> list[Path]:
    """Where solution notebooks are looked for: here and up, then the repository kaibert is in."""
    folders = []
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "solutions").is_dir():
            folders.append(folder / "solutions")
            break
    package_repo = Path(__file__).resolve().parents[2]
    if (package_repo / "solutions").is_dir() and package_repo / "solutions" not in folders:
        folders.append(package_repo / "solutions")
    return folders


def find_solution(chapter: str, folders: list[Path] | None = None) -> Path:
    folders = solution_folders() if folders is None else folders
    for folder in folders:
        found = sorted(Path(folder).glob(f"{chapter}_*.ipynb"))
        if found:
            return found[0]
    where = ", ".join(str(f) for f in folders) or "no solutions/ folder found"
    raise GradeError(
        f"no solution notebook for chapter {chapter} (looked in {where}); "
        "run from the course repository or pass --solution solutions/NN_topic.ipynb"
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


def build_graded(solution, student) -> tuple[object, dict[str, str]]:
    """The reference solution with the student's answer cells in it.

    Answer cells are matched by cell id; then by their ``kaibert`` metadata (exercise and order);
    then, for editors that drop both, by their first line (``def attention_scores(q, k):``).
    Returns the notebook and, per answer cell id, where its source came from.
    """
    graded = nbs.clean(solution, keep_check_outputs=True)
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

    origin: dict[str, str] = {}
    seen: dict[str, int] = {}
    execution = 0
    for cell in graded.cells:
        if nbs.is_check(cell):
            execution += 1
            cell.execution_count = execution  # nbval compares only cells that have run
            cell.source = CHECK_PRELUDE + cell.source
            continue
        if not nbs.is_answer(cell):
            continue
        ex = nbs.exercise_of(cell)
        index = seen.get(ex, 0)
        seen[ex] = index + 1
        mine = by_id.get(cell.get("id"))
        how = "id"
        if mine is None:
            mine, how = by_meta.get((ex, index)), "metadata"
        first = _first_line(cell.source)
        if mine is None and first and not first.startswith(("# BEGIN SOLUTION", "raise ")):
            candidates = first_lines.get(first, [])
            if len(candidates) == 1:
                mine, how = candidates[0], "first line"
        if mine is None:
            cell.source = strip_solution(cell.source, ex, f"answer cell {cell.get('id')}")
            origin[cell.get("id")] = "missing"
        else:
            cell.source = mine.source
            origin[cell.get("id")] = how
    first = nbformat.v4.new_code_cell(GRADER_CELL)
    first["id"] = GRADER_CELL_ID
    graded.cells.insert(0, first)
    graded.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return graded, origin


# --- running nbval ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE"))}
    env.update(
        PYTHONHASHSEED="0",
        MPLBACKEND="Agg",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONDONTWRITEBYTECODE="1",
        TQDM_DISABLE="1",
    )
    return env


def _stop(pid: int) -> None:
    """Stop a process group we started (and its kernel) without touching anything else."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_nbval(notebook: Path, timeout: float, results: Path, limit: float,
              kernel: str | None = None) -> tuple[list[dict], str]:
    """Run nbval on one notebook in its own pytest process and kernel; returns the cell records.

    ``kernel`` names a Jupyter kernel spec; by default the kernel runs in this Python.
    """
    notebook = notebook.resolve()
    ini = notebook.parent / "pytest.ini"
    ini.write_text("[pytest]\n")
    cmd = [
        sys.executable, "-m", "pytest", str(notebook),
        "-c", str(ini), "--rootdir", str(notebook.parent),
        "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly", "-p", "kaibert.course.nbval_plugin",
        "--nbval-lax", *(["--nbval-kernel-name", kernel] if kernel else ["--nbval-current-env"]),
        "--nbval-sanitize-with", str(SANITIZE),
        "--nbval-cell-timeout", f"{timeout:g}",
        "--nbval-kernel-startup-timeout", f"{KERNEL_STARTUP:g}",
        "--kaibert-results", str(results),
        "-q", "--color=no", "-W", "ignore",
    ]
    log = notebook.parent / "pytest.log"
    stopped = ""
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=notebook.parent, env=_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            stopped = f"grading stopped after {limit:g} s"
            _stop(proc.pid)
            proc.wait()
    records = []
    if results.exists():
        for line in results.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    for rec in records:  # the kernel runs in its own session: stop it if it outlived pytest
        if "kernel_pid" in rec:
            _stop_kernel(rec["kernel_pid"], notebook.parent)
    if not any("cell" in r for r in records) and not stopped:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        stopped = "nbval did not run: " + (" | ".join(tail) or f"pytest exited with {proc.returncode}")
    return records, stopped


def _stop_kernel(pid: int, folder: Path) -> None:
    """Stop our kernel if it is still running: only a kernel process working in our own folder."""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return  # gone already (or no /proc): nothing to stop
    if cwd.resolve() == folder.resolve() and b"ipykernel" in cmdline:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


KERNEL_GONE = ("not run: the kernel had stopped", "the kernel stopped answering", "ran longer than the time limit")


def machinery_problem(records: list[dict], stopped: str) -> str | None:
    """Why this run says nothing about the student's answers, or None when it does."""
    cells = [r for r in records if "cell" in r]
    failed_start = next((r for r in cells if "did not start" in r.get("message", "")), None)
    if failed_start:
        return failed_start["message"]
    if not cells:
        return stopped or "nbval ran no cell"
    first = next((r for r in cells if r.get("id") == GRADER_CELL_ID), None)
    if first is None:
        return "the kernel stopped before the grader's first cell ran"
    if not first["passed"]:
        return f"the grader's first cell failed: {first.get('message', '')}"
    return None


def run_nbval_retrying(notebook: Path, timeout: float, results: Path, limit: float,
                       kernel: str | None = None) -> tuple[list[dict], str]:
    """run_nbval, again with a fresh kernel when the kernel failed before any answer ran."""
    problem = ""
    for attempt in range(KERNEL_ATTEMPTS):
        results.unlink(missing_ok=True)
        records, stopped = run_nbval(notebook, timeout, results, limit, kernel)
        problem = machinery_problem(records, stopped)
        if problem is None:
            return records, stopped
        time.sleep(1 + attempt)
    raise MachineryError(f"{problem} (tried {KERNEL_ATTEMPTS} times)")


def run_with_reruns(graded, solution, work: Path, name: str, timeout: float,
                    kernel: str | None = None) -> tuple[list[dict], str]:
    """Run nbval; when a cell kills the kernel (an endless loop that ignores interrupts, a crash),
    run again with that exercise's answers emptied, so that one broken exercise costs only itself.
    """
    code = [c for c in graded.cells if c.cell_type == "code"]
    limit = KERNEL_STARTUP + len(code) * (timeout + 10) + 30
    final: dict[str, dict] = {}
    extra: list[dict] = []
    current = graded
    stopped = ""
    emptied: set[str] = set()
    for attempt in range(len(nbs.exercises(graded)) + 1):
        notebook = work / f"{name}{'' if attempt == 0 else f'_rerun{attempt}'}.ipynb"
        nbs.write(current, notebook)
        results = notebook.with_suffix(".jsonl")
        records, stopped = run_nbval_retrying(notebook, timeout, results, limit, kernel)
        by_id = {r["id"]: r for r in records if "cell" in r}
        extra = [r for r in records if "cell" in r and r["id"] is None]
        # the first cell after which nothing ran properly
        dead = next((i for i, c in enumerate(code) if c.get("id") not in by_id
                     or by_id[c.get("id")].get("message", "").startswith(KERNEL_GONE[0])), None)
        for i, cell in enumerate(code):
            if dead is not None and i >= dead:
                break
            final.setdefault(cell.get("id"), by_id[cell.get("id")])
        if dead is None:
            break
        culprit = code[dead - 1] if dead > 0 else None
        culprit_rec = final.get(culprit.get("id")) if culprit is not None else None
        exercise = nbs.exercise_of(culprit) if culprit is not None and nbs.role(culprit) else None
        if exercise is None or exercise in emptied or culprit_rec is None or culprit_rec["passed"]:
            for cell in code[dead:]:  # nothing to take out: report the rest as not run
                if cell.get("id") in by_id:
                    final.setdefault(cell.get("id"), by_id[cell.get("id")])
            break
        # take out the answers of this exercise (and of any that ran past the limit) and run again
        emptied.add(exercise)
        for cell in code:
            rec = final.get(cell.get("id"))
            if rec and nbs.role(cell) and "time limit" in rec.get("message", ""):
                emptied.add(nbs.exercise_of(cell))
        current = copy.deepcopy(current)
        sol_cells = {c.get("id"): c for c in solution.cells}
        for cell in current.cells:
            if nbs.is_answer(cell) and nbs.exercise_of(cell) in emptied:
                cell.source = strip_solution(sol_cells[cell.get("id")].source, exercise)
        stopped = ""
    return list(final.values()) + extra, stopped


def _explain(message: str, exercise: str, where: str) -> str:
    if "NotImplementedError" in message and f"Exercise {exercise}" in message:
        return "not answered yet (the exercise stub still raises NotImplementedError)"
    if message.startswith("summary differs: "):
        return "wrong result: " + message[len("summary differs: "):]
    if message.startswith("the output differs"):
        return f"wrong result: {message}"
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


def verdicts(graded, origin: dict[str, str], records: list[dict], stopped: str,
             strict: bool = False) -> tuple[list[ExerciseResult], list[str]]:
    """Per exercise: passed when its answer cells and its check cell ran and the check matched."""
    by_id = {r["id"]: r for r in records if "cell" in r}
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
            elif not rec["passed"]:
                message = _explain(rec.get("message", ""), ex, f"answer cell {cell.get('id')}")
            if message:
                break
        if not message:
            check = next(c for c in graded.cells if nbs.is_check(c) and nbs.exercise_of(c) == ex)
            rec = by_id.get(check.get("id"))
            if rec is None:
                message = f"check cell {not_run}"
            elif not rec["passed"]:
                message = _explain(rec.get("message", ""), ex, "check cell")
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
        if rec is not None and not rec["passed"]:
            errors.append(f"plain cell {cell.get('id')} failed: {rec.get('message', '')}")
    if stopped and stopped not in " ".join(errors):
        errors.append(stopped)
    return results, errors


def grade(student_path: str | Path, solution_path: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT,
          keep: Path | None = None, strict: bool = False, kernel: str | None = None) -> Grade:
    """Grade one student notebook; raises GradeError when it cannot be graded at all.

    ``strict`` gives no points to answers flagged for review; ``kernel`` names the Jupyter
    kernel spec to run in (default: this Python).
    """
    start = time.monotonic()
    if not SANITIZE.exists():
        raise GradeError(f"{SANITIZE} is missing from this installation of kaibert; reinstall the course package")
    student_path = Path(student_path)
    try:
        student = nbs.read(student_path)
    except nbs.NotebookError as err:
        raise GradeError(str(err)) from None
    chapter = student_chapter(student, student_path)
    notes = []
    if solution_path is None:
        if chapter is None:
            raise GradeError(
                f"{student_path}: cannot tell which chapter this notebook is for (no kaibert metadata, "
                "no NN_ file name, no exercise cells); pass --solution solutions/NN_topic.ipynb"
            )
        try:
            solution_path = find_solution(chapter)
        except GradeError:
            if not nbs.check_cells(student) or not any(c.outputs for c in nbs.check_cells(student)):
                raise
            # A student without the solutions: the notebook's own check cells and reference outputs.
            solution_path = student_path
            notes.append(
                "self-check: no solutions/ folder here, so the check cells and reference outputs inside "
                "this notebook were used; your instructor grades with the reference solution"
            )
    solution_path = Path(solution_path)
    solution = student if solution_path == student_path else nbs.read(solution_path)
    solution_chapter = nbs.chapter_of(solution, solution_path)
    if chapter is not None and solution_chapter is not None and chapter != solution_chapter:
        raise GradeError(
            f"{student_path}: this notebook is for chapter {chapter}, the solution {solution_path.name} "
            f"is for chapter {solution_chapter}"
        )
    try:
        graded, origin = build_graded(solution, student)
    except ExerciseError as err:
        raise GradeError(f"{solution_path}: {err}") from None

    with tempfile.TemporaryDirectory(prefix="kaibert-grade-") as tmp:
        work = Path(keep).resolve() if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            records, stopped = run_with_reruns(graded, solution, work, f"graded_{solution_chapter or chapter}",
                                               timeout, kernel)
        except MachineryError as err:
            return machinery_failure(graded, student_path, solution_path, solution_chapter or chapter or "",
                                     str(err), time.monotonic() - start, notes)
    exercises, errors = verdicts(graded, origin, records, stopped, strict)
    if all(v == "missing" for v in origin.values()) and origin:
        errors.insert(0, f"no answer cells of chapter {solution_chapter} found: is this the right notebook?")
    return Grade(
        notebook=str(student_path),
        solution=str(solution_path),
        chapter=solution_chapter or chapter or "",
        exercises=exercises,
        errors=errors,
        seconds=round(time.monotonic() - start, 1),
        notes=notes,
    )


def machinery_failure(graded, student_path, solution_path, chapter: str, why: str, seconds: float,
                      notes: list[str]) -> Grade:
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
    if result.status == GRADING_ERROR:
        lines.append("GRADING ERROR: the grading machinery failed on this notebook; nothing was judged. Grade it again.")
    passed = sum(r.passed and r.flag != audit.ZERO for r in result.exercises)
    lines.append(
        f"score: {_num(result.score)}/{_num(result.total)} points; {passed} of {len(result.exercises)} exercises pass"
    )
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kaibert-grade",
        description="Grade an exercise notebook: the reference checks run on your answers, one row per exercise.",
    )
    parser.add_argument("notebook", type=Path, help="the exercise notebook to grade (NN_topic.ipynb)")
    parser.add_argument("--solution", type=Path, default=None,
                        help="reference solution notebook (default: solutions/NN_*.ipynb of the notebook's chapter)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds each cell may run (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    parser.add_argument("--keep", type=Path, default=None, help="keep the graded notebook and nbval's log in this folder")
    parser.add_argument("--strict", action="store_true",
                        help="no points for answers flagged for review (they use what the exercise forbids)")
    parser.add_argument("--kernel", default=None,
                        help="Jupyter kernel spec to grade in (default: a kernel in this Python)")
    args = parser.parse_args(argv)
    print(f"grading {args.notebook} in a fresh kernel (every cell runs again; this takes a little while) ...",
          file=sys.stderr, flush=True)
    try:
        result = grade(args.notebook, args.solution, args.timeout, keep=args.keep, strict=args.strict,
                       kernel=args.kernel)
    except GradeError as err:
        print(f"cannot grade: {err}", file=sys.stderr)
        return 2
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    if result.status == GRADING_ERROR:
        return 3
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
