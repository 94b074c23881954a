"""Shared notebook helpers: read and write notebooks, find cells by role, keep them clean.

Every course notebook follows the rules in CONTRIBUTING.md. A cell's role lives in its metadata,
``{"kaibert": {"exercise": "03.2", "role": "answer"}}``, and its cell id says the same thing
(``ex03-2-answer``). The grader, the exercise generator and the tests all find cells through the
functions here, so the rules are written down once.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Iterable

import nbformat
from nbformat import NotebookNode

ANSWER = "answer"
CHECK = "check"
SOLUTION_ONLY_TAG = "solution-only"  # cells with this tag are dropped from exercises/
CHECK_TAG = "nbval-check-output"
EXERCISE_ID = re.compile(r"^(\d{2})\.(\d+)$")
CELL_ID = re.compile(r"^ex(\d{2})-(\d+)-(answer|check)(?:-([A-Za-z0-9_-]+))?$")
FEEDBACK_PREFIX = "check:"
# What an exercise asks: write a component, use the idea somewhere new, fix a bug, or predict.
KINDS = ("build", "transfer", "debug", "concept")


class NotebookError(ValueError):
    """A file that is not a usable course notebook; the message says why and what to do."""


def read(path: str | Path) -> NotebookNode:
    """Read a notebook as nbformat 4, with a clear error when the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotebookError(f"{path}: not a notebook (the file is not UTF-8 text)") from None
    return reads(text, name=str(path))


def reads(text: str, name: str = "notebook") -> NotebookNode:
    """Parse notebook JSON text; errors name the file and the problem."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(f"{name}: not a notebook (invalid JSON: {err.msg}, line {err.lineno} column {err.colno})") from None
    if not isinstance(raw, dict) or "cells" not in raw:
        raise NotebookError(f"{name}: not a notebook (JSON without a 'cells' list)")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat raises several kinds on broken files
        raise NotebookError(f"{name}: not a readable notebook ({type(err).__name__}: {err})") from None
    if nb.nbformat_minor < 5:
        # Older files (Colab saves 4.0) have no cell ids; give each a stable one.
        nb.nbformat_minor = 5
        for i, cell in enumerate(nb.cells):
            if "id" not in cell:
                cell["id"] = f"cell-{i}"
    return nb


def dumps(nb: NotebookNode) -> str:
    """The committed text of a notebook: the same bytes for the same content, every time."""
    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def write(nb: NotebookNode, path: str | Path) -> bool:
    """Write a notebook; returns True when the file changed."""
    path = Path(path)
    text = dumps(nb)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


# --- cells by role ---------------------------------------------------------------------------


def info(cell: NotebookNode) -> dict:
    """The cell's ``kaibert`` metadata (empty when it has none)."""
    meta = cell.get("metadata", {}).get("kaibert", {})
    return meta if isinstance(meta, dict) else {}


def role(cell: NotebookNode) -> str | None:
    """``answer``, ``check``, or None for a plain cell."""
    r = info(cell).get("role")
    return r if r in (ANSWER, CHECK) else None


def exercise_of(cell: NotebookNode) -> str | None:
    """The exercise id (``03.2``) of an answer or check cell."""
    ex = info(cell).get("exercise")
    return str(ex) if ex is not None else None


def tags(cell: NotebookNode) -> list[str]:
    t = cell.get("metadata", {}).get("tags", [])
    return list(t) if isinstance(t, list) else []


def is_check(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and role(cell) == CHECK


def is_answer(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and role(cell) == ANSWER


def answer_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [c for c in nb.cells if is_answer(c)]


def check_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [c for c in nb.cells if is_check(c)]


def exercises(nb: NotebookNode) -> list[str]:
    """Exercise ids in the order they first appear."""
    seen: list[str] = []
    for cell in nb.cells:
        ex = exercise_of(cell) if role(cell) else None
        if ex and ex not in seen:
            seen.append(ex)
    return seen


def points(nb: NotebookNode) -> dict[str, float]:
    """Points per exercise: the first ``points`` value among its cells, 1 when none is given."""
    result: dict[str, float] = {}
    for cell in nb.cells:
        ex = exercise_of(cell) if role(cell) else None
        if ex is None:
            continue
        p = info(cell).get("points")
        if ex not in result or (result[ex] is None and p is not None):
            result[ex] = p
    return {ex: (1 if p is None else p) for ex, p in result.items()}


def chapter_from_exercise(exercise: str) -> str | None:
    m = EXERCISE_ID.match(exercise or "")
    return m.group(1) if m else None


def chapter_of(nb: NotebookNode, path: str | Path | None = None) -> str | None:
    """The two-digit chapter of a notebook: its metadata, else its file name, else its cells."""
    meta = nb.get("metadata", {}).get("kaibert", {})
    if isinstance(meta, dict) and meta.get("chapter"):
        return f"{int(meta['chapter']):02d}" if str(meta["chapter"]).isdigit() else str(meta["chapter"])
    if path is not None:
        m = re.match(r"^(\d{2})(?:_|\b)", Path(path).name)
        if m:
            return m.group(1)
    found = set()
    for cell in nb.cells:
        m = CELL_ID.match(str(cell.get("id", "")))
        if m:
            found.add(m.group(1))
        elif role(cell) and chapter_from_exercise(exercise_of(cell) or ""):
            found.add(chapter_from_exercise(exercise_of(cell)))
    return found.pop() if len(found) == 1 else None


# --- clean notebooks -------------------------------------------------------------------------


def summary_lines(cell: NotebookNode) -> list[str]:
    """The summary lines a check cell printed, without the ``check:`` feedback line."""
    ex = exercise_of(cell)
    lines = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            for line in out.get("text", "").splitlines():
                if line.startswith(f"[{ex}] "):
                    lines.append(line)
    return lines


def clean_outputs(cell: NotebookNode, keep: bool) -> None:
    """Clear a code cell's outputs (or tidy them when ``keep``) and its execution count."""
    if cell.cell_type != "code":
        return
    cell.execution_count = None
    cell.metadata.pop("execution", None)
    if not keep:
        cell.outputs = []
        return
    outputs, stdout = [], None
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            if out.get("name") != "stdout":
                continue  # stderr (warnings, progress bars) is never a reference
            if stdout is None:
                stdout = nbformat.v4.new_output("stream", name="stdout", text=out.get("text", ""))
                outputs.append(stdout)
            else:
                stdout.text += out.get("text", "")
        elif kind == "execute_result":
            out = copy.deepcopy(out)
            out.execution_count = None
            out.metadata = {}
            outputs.append(out)
        elif kind == "display_data":
            out = copy.deepcopy(out)
            out.metadata = {}
            outputs.append(out)
        else:  # an error output is never a reference
            continue
    cell.outputs = outputs


def clean(nb: NotebookNode, keep_check_outputs: bool) -> NotebookNode:
    """A copy with no execution counts and no outputs, except check cells' when asked."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        clean_outputs(cell, keep=keep_check_outputs and is_check(cell))
    return nb


def problems(nb: NotebookNode, allow_check_outputs: bool) -> list[str]:
    """What keeps a notebook from being committed clean (empty when it is clean)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {i} (id {cell.get('id', '?')})"
        if cell.get("execution_count") is not None:
            found.append(f"{where} has an execution count")
        if cell.get("outputs") and not (allow_check_outputs and is_check(cell)):
            found.append(f"{where} has outputs but is not a check cell")
        for out in cell.get("outputs", []):
            if out.get("execution_count") is not None:
                found.append(f"{where} has an output with an execution count")
            if out.get("output_type") == "error":
                found.append(f"{where} has an error output")
    return found


def lint_exercises(nb: NotebookNode, name: str = "notebook") -> list[str]:
    """Exercise-markup mistakes: wrong ids, an answer without a check, a check without output."""
    found = []
    chapter = None
    checks: dict[str, int] = {}
    answers: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        r = role(cell)
        meta = info(cell)
        if meta and meta.get("role") not in (ANSWER, CHECK, None):
            found.append(f"{name}: cell {i} has kaibert role {meta.get('role')!r}; use 'answer' or 'check'")
        if r is None:
            continue
        ex = exercise_of(cell)
        if not ex or not EXERCISE_ID.match(ex):
            found.append(f"{name}: cell {i} has exercise id {ex!r}; use NN.k, e.g. '03.2'")
            continue
        if cell.cell_type != "code":
            found.append(f"{name}: {r} cell of {ex} (cell {i}) must be a code cell")
        chapter = chapter or chapter_from_exercise(ex)
        if chapter_from_exercise(ex) != chapter:
            found.append(f"{name}: exercise {ex} is not in chapter {chapter}")
        nn, k = ex.split(".")
        m = CELL_ID.match(str(cell.get("id", "")))
        if not m or (m.group(1), str(int(m.group(2))), m.group(3)) != (nn, str(int(k)), r):
            found.append(f"{name}: the {r} cell of {ex} has id {cell.get('id')!r}; use 'ex{nn}-{k}-{r}'")
        kind = meta.get("kind")
        if kind is not None and kind not in KINDS:
            found.append(f"{name}: exercise {ex} has kind {kind!r}; use one of {', '.join(KINDS)}")
        if meta.get("difficulty") is not None and meta.get("difficulty") not in (1, 2, 3):
            found.append(f"{name}: exercise {ex} has difficulty {meta.get('difficulty')!r}; use 1, 2 or 3")
        minutes = meta.get("minutes")
        if minutes is not None and not (isinstance(minutes, int) and minutes > 0):
            found.append(f"{name}: exercise {ex} has minutes {minutes!r}; use a whole number of minutes")
        if meta.get("given") is not None and kind != "debug":
            found.append(f"{name}: exercise {ex} has 'given' code but is not of kind 'debug'")
        if r == CHECK:
            checks[ex] = checks.get(ex, 0) + 1
            if CHECK_TAG not in tags(cell):
                found.append(f"{name}: the check cell of {ex} lacks the tag '{CHECK_TAG}'")
        else:
            answers[ex] = answers.get(ex, 0) + 1
    for ex in answers:
        if ex not in checks:
            found.append(f"{name}: exercise {ex} has answer cells but no check cell")
    for ex, n in checks.items():
        if n > 1:
            found.append(f"{name}: exercise {ex} has {n} check cells; use one")
        if ex not in answers:
            found.append(f"{name}: exercise {ex} has a check cell but no answer cell")
    return found


def natural_key(exercise: str) -> tuple:
    """Sort ``03.10`` after ``03.9``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", exercise))


def iter_notebooks(folder: Path) -> Iterable[Path]:
    return sorted(p for p in Path(folder).glob("*.ipynb") if not p.name.startswith("."))
