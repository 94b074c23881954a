"""The check helper's feedback lines, with and without stored references."""

import importlib
import json

import pytest

from kaibert.course.check import check, feedback, summarize

check_module = importlib.import_module("kaibert.course.check")  # the module, not the function

REFS = {"03.2": ["[03.2] shape: (2, 5)", "[03.2] mean: 0.1234"]}


def test_matching_summary():
    assert feedback("03.2", list(REFS["03.2"]), REFS) == "check: exercise 03.2 matches the reference"


def test_a_differing_value_is_named():
    got = ["[03.2] shape: (2, 5)", "[03.2] mean: 0.5"]
    assert feedback("03.2", got, REFS) == (
        "check: exercise 03.2 differs from the reference in 1 value:\n"
        "check:   mean: got 0.5, expected 0.1234"
    )


def test_every_differing_value_is_named_not_just_the_first():
    refs = {"03.2": ["[03.2] shape: (2, 3, 6, 6)", "[03.2] row: [0.3882, 0.0538, 0.0, 0.0]",
                     "[03.2] weight_on_padding: 0.0"]}
    got = ["[03.2] shape: (2, 3, 6, 6)", "[03.2] row: [0.1415, 0.0196, 0.083, 0.1204]",
           "[03.2] weight_on_padding: 0.7973"]
    lines = feedback("03.2", got, refs).splitlines()
    assert lines[0] == "check: exercise 03.2 differs from the reference in 2 values:"
    assert "check:   row: got [0.1415, 0.0196, 0.083, 0.1204], expected [0.3882, 0.0538, 0.0, 0.0]" in lines
    assert "check:   weight_on_padding: got 0.7973, expected 0.0" in lines


def test_a_value_within_float_noise_of_a_rounding_boundary_matches():
    """The failure the tolerance exists for: 3.18005 rounds to 3.1801 here and 3.18 elsewhere."""
    refs = {"07.3": ["[07.3] logits_0_0: [6.0593, 1.9843, 0.7935, -4.1992, 3.18, 4.1325]"]}
    got = ["[07.3] logits_0_0: [6.0593, 1.9843, 0.7935, -4.1992, 3.1801, 4.1325]"]
    assert feedback("07.3", got, refs) == "check: exercise 07.3 matches the reference"


def test_unknown_exercise_and_unknown_value():
    assert feedback("09.9", ["[09.9] x: 1"], REFS) == "check: no reference stored for exercise 09.9"
    assert "std: unexpected" in feedback("03.2", ["[03.2] std: 1.0"], REFS)


def test_two_check_calls_in_one_cell_are_each_compared():
    assert feedback("03.2", ["[03.2] mean: 0.1234"], REFS).endswith("matches the reference")
    assert "differs" in feedback("03.2", ["[03.2] shape: (5, 2)"], REFS)


def test_summary_format_is_stable():
    torch = pytest.importorskip("torch")
    lines = summarize("03.2", shape=torch.Size([2, 5]), row=torch.tensor([1.23456, -0.00001]), n=3, name="a")
    assert lines == ["[03.2] shape: (2, 5)", "[03.2] row: [1.2346, 0.0]", "[03.2] n: 3", "[03.2] name: a"]


@pytest.fixture
def stored(monkeypatch, tmp_path):
    """Point the helper at a references file of the test's choosing."""

    class Files:
        def __init__(self, path):
            self.path = path

        def joinpath(self, name):
            return self.path / name

    monkeypatch.setattr(check_module.resources, "files", lambda package: Files(tmp_path))
    check_module._references.cache_clear()
    yield tmp_path
    check_module._references.cache_clear()


def test_check_prints_summary_then_feedback(stored, capsys):
    (stored / "references.json").write_text(json.dumps({"01.1": ["[01.1] n: 3"]}))
    check("01.1", n=3)
    assert capsys.readouterr().out == "[01.1] n: 3\ncheck: exercise 01.1 matches the reference\n"
    check("01.1", n=4)
    assert "check:   n: got 4, expected 3" in capsys.readouterr().out


def test_replacing_print_or_stdout_cannot_change_a_graded_summary(stored, capsys, monkeypatch):
    """Once the grader has armed it, check writes to the stream of that moment, never via print."""
    import builtins
    import io
    import sys

    (stored / "references.json").write_text(json.dumps({"01.1": ["[01.1] n: 3"]}))
    monkeypatch.setattr(check_module, "_grading_stream", None)
    check_module.arm_for_grading()
    real = sys.stdout
    monkeypatch.setattr(builtins, "print", lambda *a, **k: real.write("[01.1] n: 3\n"))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    check("01.1", n=4)
    monkeypatch.undo()
    out = capsys.readouterr().out
    assert out.startswith("[01.1] n: 4\n"), out
    assert "check:   n: got 4, expected 3" in out


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]"])
def test_missing_or_broken_references_never_raise(stored, capsys, content):
    if content is not None:
        (stored / "references.json").write_text(content)
    check("01.1", n=3)
    assert capsys.readouterr().out == "[01.1] n: 3\ncheck: no reference stored for exercise 01.1\n"


def test_installed_references_are_readable():
    check_module._references.cache_clear()
    refs = check_module._references()
    assert isinstance(refs, dict)
    assert all(isinstance(v, list) for v in refs.values())


# --- a handed-out notebook of another course version than the installed kaibert (issue 26) ----------


def declared(commit, tag=None):
    from kaibert.course import versions

    return {versions.ENV: versions.env_value(versions.Version(commit, tag), "someone/fork")}


def test_a_version_mismatch_is_said_with_the_one_install_line(monkeypatch):
    from kaibert.course import versions

    installed = versions.Version("b" * 40)
    message = check_module.version_mismatch(declared("a" * 40, "course-2026.1"), installed)
    assert message.splitlines()[0] == (f"check: this notebook is course version course-2026.1 ({'a' * 12}), "
                                       f"but the installed kaibert is commit {'b' * 12}.")
    assert message.splitlines()[-1] == (
        'check:   pip install "kaibert[course,train] @ git+https://github.com/someone/fork@course-2026.1"')
    assert all(line.startswith("check:") for line in message.splitlines())  # sanitised away when grading
    assert check_module.version_mismatch(declared("b" * 12), installed) is None  # the same commit
    assert check_module.version_mismatch({}, installed) is None  # a notebook that declares nothing
    monkeypatch.setattr(check_module, "_installed", lambda: None)
    assert check_module.version_mismatch(declared("a" * 40)) is None  # nothing records the install


def test_check_says_the_mismatch_once_and_compares_nothing(monkeypatch, capsys):
    from kaibert.course import versions

    for name, value in declared("a" * 40).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(check_module, "_installed", lambda: versions.Version("b" * 40))
    monkeypatch.setattr(check_module, "_mismatch_said", False)
    monkeypatch.setattr(check_module, "_references", lambda: REFS)
    check("03.2", shape=(2, 5), mean=0.5)
    check("03.2", shape=(2, 5), mean=0.5)
    out = capsys.readouterr().out.splitlines()
    assert out.count("[03.2] mean: 0.5") == 2  # the summary lines are printed as always
    assert sum("this notebook is course version" in line for line in out) == 1
    assert not any("differs" in line for line in out)
    assert out[-1] == "check: exercise 03.2 not compared: the installed kaibert is another course version (see the first check)"
    monkeypatch.delenv(versions.ENV)
    check("03.2", shape=(2, 5), mean=0.5)  # no version declared: the usual feedback
    assert "differs from the reference in 1 value" in capsys.readouterr().out
