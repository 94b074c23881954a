"""Make the exercise notebooks and the stored references from the solution notebooks.

    python -m kaibert.course.exercises                          # regenerate exercises/ and references.json
    python -m kaibert.course.exercises --refresh solutions/03_attention.ipynb
    python -m kaibert.course.exercises --check                  # CI: fail when anything is stale

``--refresh`` executes a solution notebook, keeps the outputs of its check cells (the reference
outputs), clears everything else, and then regenerates. The solutions are the single source of
truth: ``exercises/`` and ``kaibert/course/references.json`` are always derived from them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kaibert.course import notebooks as nbs
from kaibert.course.check import feedback
from kaibert.course.paths import CourseRootError, course_root

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB = 'raise NotImplementedError("Exercise {exercise}: replace this line with your answer")'
REFERENCES = Path("kaibert") / "course" / "references.json"
DEFAULT_TIMEOUT = 120


class ExerciseError(ValueError):
    """A solution notebook that breaks the exercise rules; the message names the cell."""


# --- one notebook ----------------------------------------------------------------------------


def strip_solution(source: str, exercise: str, where: str = "answer cell") -> str:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block by a stub at its indentation."""
    out: list[str] = []
    inside = None  # indentation of the open block
    found = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside is not None:
                raise ExerciseError(f"{where}: line {number} opens a second '{BEGIN}' before '{END}'")
            inside = line[: len(line) - len(line.lstrip())]
            out.append(inside + STUB.format(exercise=exercise))
            found = True
        elif stripped == END:
            if inside is None:
                raise ExerciseError(f"{where}: line {number} has '{END}' without '{BEGIN}'")
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise ExerciseError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    if not found:
        raise ExerciseError(f"{where}: no '{BEGIN}' / '{END}' block; mark the reference answer")
    return "\n".join(out)


def student_version(cell, where: str = "answer cell") -> str:
    """What the exercise notebook shows in an answer cell.

    Usually the solution with its marked block replaced by a stub. A ``debug`` exercise instead
    shows code with a bug to find: the answer cell's metadata holds it as ``"given"``, and the
    solution cell holds the fixed code (still between the marker lines).
    """
    given = nbs.info(cell).get("given")
    exercise = nbs.exercise_of(cell)
    fixed = strip_solution(cell.source, exercise, where)  # checks the markers either way
    if given is None:
        return fixed
    if not isinstance(given, str) or BEGIN in given or END in given:
        raise ExerciseError(f"{where}: 'given' must be the code students start from, without solution markers")
    return given


def refresh_check_outputs(nb, references: dict[str, list[str]] | None = None):
    """Tidy the check outputs and rewrite their ``check:`` lines against ``references``.

    The feedback line printed while executing depends on whatever references.json held at the
    time; rewriting it makes the stored output depend only on the summary itself.
    """
    nb = nbs.clean(nb, keep_check_outputs=True)
    refs = references if references is not None else collect_references([nb])
    for cell in nbs.check_cells(nb):
        ex = nbs.exercise_of(cell)
        for out in cell.outputs:
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                kept, since_feedback, in_feedback = [], [], False
                for line in out.text.splitlines():
                    if line.startswith(nbs.FEEDBACK_PREFIX):
                        if not in_feedback:  # one block of feedback lines per check() call
                            kept.append(feedback(ex, since_feedback, refs))
                            since_feedback = []
                        in_feedback = True
                        continue
                    in_feedback = False
                    kept.append(line)
                    if line.startswith(f"[{ex}] "):
                        since_feedback.append(line)
                out.text = "".join(line + "\n" for line in kept)
    return nb


def collect_references(solutions) -> dict[str, list[str]]:
    """Exercise id -> the summary lines of its check cell (feedback lines left out)."""
    refs: dict[str, list[str]] = {}
    for nb in solutions:
        for cell in nbs.check_cells(nb):
            lines = nbs.summary_lines(cell)
            if lines:
                refs[nbs.exercise_of(cell)] = lines
    return refs


def make_exercise(solution, source_name: str):
    """The exercise notebook for one solution notebook."""
    name = Path(source_name).name
    chapter = nbs.chapter_of(solution, name)
    problems = nbs.lint_exercises(solution, f"solutions/{name}")
    if problems:
        raise ExerciseError("\n".join(problems))
    nb = nbs.clean(solution, keep_check_outputs=True)
    cells = []
    for cell in nb.cells:
        if nbs.SOLUTION_ONLY_TAG in nbs.tags(cell):
            continue
        if nbs.is_answer(cell):
            cell.source = student_version(cell, f"solutions/{name}: answer cell {cell.get('id')}")
        elif cell.get("id") == "colab-badge" or "colab-badge" in nbs.tags(cell):
            # The badge must open the exercise notebook, not the solution.
            cell.source = cell.source.replace(f"solutions/{name}", f"exercises/{name}")
        cells.append(cell)
    nb.cells = cells
    meta = dict(nb.metadata.get("kaibert", {}))
    meta.update({"chapter": chapter, "notebook": "exercises", "generated_from": f"solutions/{name}"})
    nb.metadata["kaibert"] = meta
    return nb


# --- the whole course ------------------------------------------------------------------------


def expected_files(root: Path) -> dict[Path, str]:
    """Every generated file (path relative to root -> text) as the solutions say it should be."""
    files: dict[Path, str] = {}
    solutions = []
    for path in nbs.iter_notebooks(root / "solutions"):
        nb = nbs.read(path)
        solutions.append(nb)
        files[Path("exercises") / path.name] = nbs.dumps(make_exercise(nb, path.name))
    refs = collect_references(solutions)
    ordered = {k: refs[k] for k in sorted(refs, key=nbs.natural_key)}
    files[REFERENCES] = json.dumps(ordered, indent=1, ensure_ascii=False) + "\n"
    return files


def missing_references(root: Path) -> list[str]:
    found = []
    for path in nbs.iter_notebooks(root / "solutions"):
        nb = nbs.read(path)
        for cell in nbs.check_cells(nb):
            if not nbs.summary_lines(cell):
                found.append(
                    f"solutions/{path.name}: the check cell of {nbs.exercise_of(cell)} has no reference output; "
                    f"run `python -m kaibert.course.exercises --refresh solutions/{path.name}`"
                )
    return found


def generate(root: Path) -> list[Path]:
    """Write exercises/ and references.json; returns the files that changed."""
    changed = []
    for rel, text in expected_files(root).items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def stale(root: Path) -> list[str]:
    """Everything `--check` complains about, one line each (empty when all is up to date)."""
    found = []
    try:
        expected = expected_files(root)
    except (ExerciseError, nbs.NotebookError) as err:
        return [str(err)]
    for rel, text in expected.items():
        path = root / rel
        if not path.exists():
            found.append(f"{rel} is missing; run `make exercises`")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"{rel} is stale (differs from what the solutions generate); run `make exercises`")
    refs = json.loads(expected[REFERENCES])
    for path in nbs.iter_notebooks(root / "solutions"):
        nb = nbs.read(path)
        if not nbs.problems(nb, allow_check_outputs=True) and nbs.dumps(refresh_check_outputs(nb, refs)) != nbs.dumps(nb):
            found.append(f"solutions/{path.name}: its check: feedback lines are out of date; run `make exercises`")
    for path in nbs.iter_notebooks(root / "exercises"):
        if Path("exercises") / path.name not in expected:
            found.append(f"exercises/{path.name} has no solutions/{path.name}; delete it")
    for folder, allow in (("chapters", False), ("solutions", True), ("exercises", True)):
        for path in nbs.iter_notebooks(root / folder):
            try:
                nb = nbs.read(path)
            except nbs.NotebookError as err:
                found.append(str(err))
                continue
            for problem in nbs.problems(nb, allow_check_outputs=allow):
                found.append(f"{folder}/{path.name} is not clean: {problem}")
    found.extend(missing_references(root))
    return found


def execute(path: Path, timeout: float = DEFAULT_TIMEOUT):
    """Run a notebook top to bottom in a fresh python3 kernel, in the notebook's folder."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbs.read(path)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
    )
    try:
        client.execute()
    except CellTimeoutError as err:
        raise ExerciseError(f"{path}: a cell ran longer than {timeout:g} s:\n{err}") from None
    except CellExecutionError as err:
        raise ExerciseError(f"{path}: a cell failed, nothing was written:\n{err}") from None
    return nb


def refresh(path: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Execute a solution notebook and store only its check cells' outputs."""
    executed = execute(path, timeout)
    stored = refresh_check_outputs(executed)
    for cell in nbs.check_cells(stored):
        if not nbs.summary_lines(cell):
            raise ExerciseError(
                f"{path}: the check cell of {nbs.exercise_of(cell)} printed no summary; it must call "
                f"check('{nbs.exercise_of(cell)}', ...)"
            )
    nbs.write(stored, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kaibert-make-exercises",
        description="Generate exercises/ and kaibert/course/references.json from solutions/.",
    )
    parser.add_argument("--refresh", nargs="+", metavar="NB", type=Path,
                        help="execute these solution notebooks first and store their check outputs")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a generated file is stale or a notebook is not clean")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per cell (default 120)")
    parser.add_argument("--root", type=Path, default=None, help="the course repository (default: the clone at or above this folder)")
    args = parser.parse_args(argv)
    try:
        root = course_root(args.root)
    except CourseRootError as err:
        print(err, file=sys.stderr)
        return 2

    if args.check:
        found = stale(root)
        for line in found:
            print(line)
        if found:
            print(f"{len(found)} problem(s); regenerate with `make exercises`.")
            return 1
        print("exercises/ and references.json are up to date; notebooks are clean.")
        return 0

    try:
        for path in args.refresh or []:
            path = path.resolve()
            if path.parent.name != "solutions":
                raise ExerciseError(f"{path}: --refresh takes solution notebooks (solutions/NN_topic.ipynb)")
            print(f"executing {path.relative_to(root)} ...", flush=True)
            refresh(path, args.timeout)
        changed = generate(root)
        # The stored feedback lines follow the new references.
        refs = json.loads((root / REFERENCES).read_text(encoding="utf-8"))
        for path in nbs.iter_notebooks(root / "solutions"):
            if nbs.write(refresh_check_outputs(nbs.read(path), refs), path):
                changed.append(path.relative_to(root))
        changed += [rel for rel in generate(root) if rel not in changed]
    except (ExerciseError, nbs.NotebookError) as err:
        print(err, file=sys.stderr)
        return 1
    for rel in changed:
        print(f"wrote {rel}")
    if not changed:
        print("nothing changed")
    for line in missing_references(root):
        print(f"warning: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
