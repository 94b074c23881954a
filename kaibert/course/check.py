"""The check cells' helper: a short, deterministic summary of a student's result.

A check cell prints what `summarize` returns, one ``[03.2] name: value`` line per value. Those
lines are what the grader compares with the reference solution's. Floats are rounded to 4
decimals for people to read, tensors become nested lists and -0.0 becomes 0.0; the comparison
itself allows for float noise (``kaibert.course.compare``), so a correct answer computed on
another machine passes.

After the summary, `check` prints feedback lines that start with ``check:`` and say whether the
summary matches the stored reference, naming every value that differs. They are for a student
in Colab, where the grader cannot run; grading removes them, so they never decide a grade. The
feedback and the grader use the same comparison, so they agree.

A handed-out notebook declares the course version it was made from (its first cell sets
``KAIBERT_NOTEBOOK_VERSION``, see ``kaibert.course.versions``). When the installed kaibert is of
another version, its stored references may not be this notebook's, so `check` says so once, with
the one line that installs the right version, and then compares nothing it cannot vouch for.

The summary is written straight to the output stream, never through ``print``, so an answer
cell that replaces ``print`` cannot change it; when grading, the stream is the one that was
stdout before any answer ran (`arm_for_grading`).
"""

from __future__ import annotations

import json
import math
import sys
from functools import lru_cache
from importlib import resources
from typing import Any

from kaibert.course import versions
from kaibert.course.compare import differences, split_line

DECIMALS = 4
MAX_ELEMENTS = 64  # a summary is a few numbers, not a whole tensor


def _round(x: float) -> float | str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    r = round(float(x), DECIMALS)
    return 0.0 if r == 0 else r  # no "-0.0"


def _plain(value: Any) -> Any:
    """Turn tensors, arrays and numbers into plain, rounded Python values."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
        if value.numel() > MAX_ELEMENTS:
            raise ValueError(
                f"check() got a tensor with {value.numel()} elements; summarise it first "
                f"(a slice, a mean, a shape): at most {MAX_ELEMENTS} elements are printed."
            )
        if value.dtype.is_floating_point:
            return _plain(value.double().tolist())
        return value.tolist()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy
        return _plain(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return _round(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if type(value).__name__ == "Size":
        return tuple(value)
    raise TypeError(f"check() cannot summarise a {type(value).__name__}; pass numbers, strings or tensors.")


def summarize(exercise: str, **values: Any) -> list[str]:
    """The summary lines for one exercise, one ``[id] name: value`` line per keyword."""
    if not values:
        raise ValueError("check() needs at least one value to summarise, e.g. check('03.2', shape=x.shape).")
    lines = []
    for name, value in values.items():
        plain = _plain(tuple(value) if type(value).__name__ == "Size" else value)
        lines.append(f"[{exercise}] {name}: {plain}")
    return lines


REFERENCES_FILE = "references.json"


@lru_cache(maxsize=1)
def _references() -> dict[str, list[str]]:
    """Reference summaries taken from the solutions, keyed by exercise id.

    They ship inside the package (``kaibert/course/references.json``), so the feedback works in
    Colab after a plain ``pip install``. A missing or broken file means "no reference", never an
    exception in the student's check cell.
    """
    try:
        text = resources.files("kaibert.course").joinpath(REFERENCES_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(line) for line in v] for k, v in data.items() if isinstance(v, list)}


def feedback(exercise: str, lines: list[str], references: dict[str, list[str]] | None = None) -> str:
    """``check:`` lines comparing a summary with the reference: one verdict, then each difference.

    Lines are matched by their name, so a check cell may call ``check`` more than once.
    """
    refs = _references() if references is None else references
    expected = refs.get(exercise)
    if expected is None:
        return f"check: no reference stored for exercise {exercise}"
    # Only the names this call printed: a check cell may call check() once per group of values.
    printed = {parts[:2] for parts in map(split_line, lines) if parts}
    want = [line for line in expected if (split_line(line) or ())[:2] in printed]
    found = differences(lines, want or expected)
    if not found:
        return f"check: exercise {exercise} matches the reference"
    head = f"check: exercise {exercise} differs from the reference in {len(found)} value{'s' if len(found) > 1 else ''}:"
    return "\n".join([head, *(f"check:   {d}" for d in found)])


_grading_stream = None  # set by arm_for_grading()


def arm_for_grading() -> None:
    """Write every later summary to the stream that is stdout now.

    The grader calls this in its own first cell, before any answer cell runs, so that an answer
    that swaps ``sys.stdout`` (or ``print``) cannot touch what the check cells write.
    """
    global _grading_stream
    _grading_stream = sys.stdout


def _write(text: str) -> None:
    stream = _grading_stream if _grading_stream is not None else sys.stdout
    stream.write(text + "\n")
    stream.flush()


@lru_cache(maxsize=1)
def _installed() -> versions.Version | None:
    return versions.installed_version()


_mismatch_said = False  # the version message is said once per kernel


def version_mismatch(environ=None, installed: versions.Version | None = None) -> str | None:
    """The message for a notebook whose course version is not the installed kaibert's, else None.

    Says nothing when the notebook declares no version or the installed one is not recorded.
    """
    declared = versions.from_env(environ)
    if declared is None:
        return None
    notebook, repository = declared
    installed = _installed() if installed is None else installed
    if installed is None or installed.same_as(notebook):
        return None
    from kaibert.course.stamp import course_requirement, git_source

    owner, _, name = (repository or "kai-bert/kai-bert").partition("/")
    line = f'pip install "{course_requirement(git_source(owner, name, notebook.ref))}"'
    return (
        f"check: this notebook is course version {notebook.name}, but the installed kaibert is {installed.name}.\n"
        "check: Its references may not be this notebook's, so the checks here compare nothing. Install this\n"
        "check: notebook's version, restart the runtime and run the notebook again:\n"
        f"check:   {line}"
    )


def check(exercise: str, **values: Any) -> None:
    """Write the summary of one exercise's result, then the feedback lines."""
    global _mismatch_said
    lines = summarize(exercise, **values)
    _write("\n".join(lines))
    mismatch = version_mismatch()
    if mismatch is None:
        _write(feedback(exercise, lines))
    elif not _mismatch_said:
        _mismatch_said = True
        _write(mismatch)
    else:
        _write(f"check: exercise {exercise} not compared: the installed kaibert is another course version (see the first check)")
