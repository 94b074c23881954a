"""The check helper's feedback line, with and without stored references."""

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
        "check: exercise 03.2 differs from the reference: got '[03.2] mean: 0.5', expected '[03.2] mean: 0.1234'"
    )


def test_unknown_exercise_and_unknown_value():
    assert feedback("09.9", ["[09.9] x: 1"], REFS) == "check: no reference stored for exercise 09.9"
    assert feedback("03.2", ["[03.2] std: 1.0"], REFS) == "check: exercise 03.2 has no reference for '[03.2] std'"


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
    assert "got '[01.1] n: 4', expected '[01.1] n: 3'" in capsys.readouterr().out


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
