"""The tolerant comparison of summary lines: float noise passes, everything else stays exact."""

import pytest

from kaibert.course.compare import ATOL, RTOL, close, differences, first_difference, parse


def line(value, name="x", ex="05.1"):
    return f"[{ex}] {name}: {value}"


@pytest.mark.parametrize("got, want", [
    ("3.1801", "3.18"),                       # a 4-decimal rounding flip
    ("[6.0593, 1.9844]", "[6.0593, 1.9843]"),
    ("123.4621", "123.45"),                   # 1e-4 relative on a large value
    ("[1, 2.0]", "[1.0, 2.0]"),               # an integer where a float is expected is a number
    ("nan", "nan"),
    ("['nan', 'inf', 0.5]", "['nan', 'inf', 0.5]"),
    ("{'a': 0.10005}", "{'a': 0.1}"),
    ("[1, 2]", "(1, 2)"),                     # a list and a tuple of the same values
])
def test_equal_within_tolerance(got, want):
    assert differences([line(got)], [line(want)]) == []


@pytest.mark.parametrize("got, want, words", [
    ("0.1238", "0.1234", "got 0.1238, expected 0.1234"),
    ("(2, 3, 5)", "(2, 3, 6)", "got (2, 3, 5), expected (2, 3, 6)"),   # shapes are exact
    ("36.0", "36", "got 36.0, expected 36"),                            # a count stays an integer
    ("37", "36", "got 37, expected 36"),
    ("True", "False", "got True"),
    ("1", "True", "got 1"),                                             # a boolean is not a number
    ("torch.float64", "torch.float32", "got torch.float64, expected torch.float32"),
    ("inf", "nan", "got inf"),
    ("nan", "0.0", "got nan"),
    ("0.0", "nan", "got 0.0"),
    ("[1.0, 2.0, 3.0]", "[1.0, 2.0]", "got [1.0, 2.0, 3.0]"),           # lengths are exact
    ("{'b': 1}", "{'a': 1}", "got {'b': 1}"),                           # keys are exact
])
def test_differences_are_named(got, want, words):
    found = differences([line(got)], [line(want)])
    assert len(found) == 1 and found[0].startswith("x: ") and words in found[0], found


def test_long_lists_say_where_they_first_differ():
    want = [round(0.01 * i, 4) for i in range(20)]
    got = list(want)
    got[13] = 0.5
    assert differences([line(got)], [line(want)]) == ["x: first differs at [13]: got 0.5, expected 0.13"]


def test_nested_positions():
    assert first_difference([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.5]]) == ("[1][1]", "got 4.0, expected 4.5")


def test_missing_and_unexpected_lines():
    found = differences([line(1, "a"), line(2, "c")], [line(1, "a"), line(2, "b")])
    assert found == ["c: unexpected (the reference prints no 'c')", "b: missing (expected 2)"]


def test_lines_are_matched_by_name_not_order():
    assert differences([line(2, "b"), line(1, "a")], [line(1, "a"), line(2, "b")]) == []


def test_tolerance_values():
    assert close(1.0 + 0.9 * (ATOL + RTOL), 1.0)
    assert not close(1.0 + 1.1 * (ATOL + RTOL), 1.0)
    assert close(float("inf"), float("inf")) and not close(float("inf"), float("-inf"))
    assert not close(float("nan"), 1.0)


def test_a_bare_word_is_a_string():
    assert parse("torch.float32") == "torch.float32"
    assert parse("[1, 'a']") == [1, "a"]
