"""Compare a check cell's summary with the reference, numbers within a tolerance.

A summary line is ``[03.2] name: value`` where value is a plain Python literal (a number, a
string, a nested list, a tuple, a dict). Two machines that compute the same correct answer print
floats that can differ in their last digit: another CPU, BLAS build, thread count or order of
summation changes the result by float noise, and rounding to 4 decimals can then flip a digit.
So floats are compared with a tolerance; everything else must match exactly:

- a float ``got`` passes against ``want`` when ``|got - want| <= ATOL + RTOL * |want|``;
- integers, booleans, strings (``'nan'``, ``'inf'``, dtypes), dict keys and lengths must be equal;
- an integer where the reference has a float is compared as a number; a float where the
  reference has an integer (a count, a shape) is a difference.

ATOL covers the rounding of both sides to 4 decimals (each rounding moves a value by at most
5e-5, so two rounded values of the same number differ by less than 1e-4). RTOL covers float32
noise, which grows with the size of a value: a whole BERT forward pass on another machine moves
results by a few parts in a million; RTOL is 1e-4, five times a relative perturbation of 2e-5
that the tests apply to every float of every solution. The near misses that must stay wrong
(unbiased variance in LayerNorm, L2 instead of decoupled weight decay, scores divided by d
instead of sqrt(d)) all move some printed value by far more.

The student's ``check:`` feedback and the grader use these same functions, so they always agree.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

ATOL = 1.5e-4
RTOL = 1e-4
LINE = re.compile(r"^\[(\d{2}\.\d+)\] ([^:]+): (.*)$")
_MISSING = object()


def parse(text: str) -> Any:
    """A summary value as Python data; text that is not a literal stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def split_line(line: str) -> tuple[str, str, str] | None:
    """``[03.2] name: value`` -> (``03.2``, ``name``, ``value``); None for any other line."""
    m = LINE.match(line.rstrip("\n"))
    return (m.group(1), m.group(2), m.group(3)) if m else None


def close(got: float, want: float, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """|got - want| <= atol + rtol * |want|; nan and inf only match themselves."""
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= atol + rtol * abs(want)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    return f"a {type(value).__name__}"


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_difference(got: Any, want: Any, where: str = "") -> tuple[str, str] | None:
    """Where ``got`` first differs from ``want`` beyond the tolerance, and how; None if it does not.

    Returns (where, what): ``("[2][0]", "got 0.7973, expected 0.0")``; where is "" for the whole value.
    """
    if isinstance(want, bool) or isinstance(got, bool):
        same = type(got) is type(want) and got == want
        return None if same else (where, f"got {_short(got)}, expected {_short(want)}")
    if isinstance(want, float) and isinstance(got, (int, float)):
        if close(float(got), want):
            return None
        return where, f"got {_short(got)}, expected {_short(want)}"
    if isinstance(want, int):
        if isinstance(got, int) and got == want:
            return None
        if isinstance(got, float):
            return where, f"got {_short(got)}, expected the integer {want}"
        return where, f"got {_short(got)}, expected {_short(want)}"
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return where, f"got {_kind(got)} {_short(got)}, expected {_kind(want)} {_short(want)}"
        if len(got) != len(want):
            return where, f"got {len(got)} items, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            found = first_difference(g, w, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return where, f"got {_kind(got)} {_short(got)}, expected a dict"
        if list(got) != list(want):
            return where, f"got keys {list(got)}, expected {list(want)}"
        for key in want:
            found = first_difference(got[key], want[key], f"{where}[{key!r}]")
            if found:
                return found
        return None
    if type(got) is type(want) and got == want:
        return None
    return where, f"got {_short(got)}, expected {_short(want)}"


def differences(got_lines: list[str], want_lines: list[str]) -> list[str]:
    """One message per summary name whose value differs: ``name: got ..., expected ...``.

    Lines are matched by exercise and name (a check cell may call ``check`` more than once).
    Long lists say where they first differ. A reference name with no line is "missing"; a
    line the reference does not have is "unexpected".
    """
    want: dict[tuple[str, str], str] = {}
    for line in want_lines:
        parts = split_line(line)
        if parts:
            want.setdefault(parts[:2], parts[2])
    got: dict[tuple[str, str], str] = {}
    found = []
    for line in got_lines:
        parts = split_line(line)
        if parts is None or parts[:2] in got:
            continue
        got[parts[:2]] = parts[2]
        if parts[:2] not in want:
            found.append(f"{parts[1]}: unexpected (the reference prints no '{parts[1]}')")
    for key, want_text in want.items():
        name = key[1]
        got_text = got.get(key, _MISSING)
        if got_text is _MISSING:
            found.append(f"{name}: missing (expected {_short(want_text)})")
            continue
        if got_text == want_text:
            continue
        diff = first_difference(parse(got_text), parse(want_text))
        if diff is None:
            continue
        where, what = diff
        if where and (len(got_text) > 60 or len(want_text) > 60):
            found.append(f"{name}: first differs at {where}: {what}")
        else:
            found.append(f"{name}: got {_short(got_text)}, expected {_short(want_text)}")
    return found
