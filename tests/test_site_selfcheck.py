"""The chapters' self-checks: every chapter ends with one, and no answer can be wrong.

Every number question carries ``compute``, Python that gets the number from the course's own
code; here it runs, and the stated answer must match it within the question's tolerance. The
clicking happens in tests/test_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kaibert.course import selfcheck

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(ROOT.glob("chapters/[0-9][0-9]_*.ipynb"))
QUESTIONS = [(ch, i, q) for ch in selfcheck.chapters() for i, q in enumerate(selfcheck.load(ch), 1)]


def test_every_chapter_ends_with_its_self_check():
    assert CHAPTERS, "no chapter notebooks found"
    for nb in CHAPTERS:
        assert selfcheck.problems(nb) == [], nb.name
    assert {selfcheck.chapter_of(nb) for nb in CHAPTERS} <= set(selfcheck.chapters())


def test_the_check_command_agrees():
    assert selfcheck.main(["check", "--root", str(ROOT)]) == 0


@pytest.mark.parametrize("chapter", selfcheck.chapters())
def test_each_self_check_has_three_to_five_questions_with_a_number_among_them(chapter):
    questions = selfcheck.load(chapter)
    assert 3 <= len(questions) <= 5
    assert any(q.kind == "number" for q in questions), f"chapter {chapter}: no question checks a number"


@pytest.mark.parametrize("chapter,number,question", [q for q in QUESTIONS if q[2].compute],
                         ids=[f"{c}-{i}" for c, i, q in QUESTIONS if q.compute])
def test_every_computed_answer_matches_the_course_code(chapter, number, question):
    import torch

    torch.manual_seed(0)
    namespace: dict = {}
    exec(compile(question.compute, f"selfchecks/{chapter}.yaml, question {number}", "exec"), namespace)
    assert "answer" in namespace, f"chapter {chapter}, question {number}: compute must set `answer`"
    got = namespace["answer"]
    if question.kind == "number":
        assert abs(float(got) - question.number) <= question.tolerance, (
            f"chapter {chapter}, question {number}: the page says {question.number}, the course's code gives {got}")
    else:
        right = next(c.answer for c in question.choices if c.correct)
        assert str(got) == right, f"chapter {chapter}, question {number}: correct choice {right!r}, code gives {got!r}"


def test_every_number_question_is_computed_and_every_wrong_number_really_is_wrong():
    for chapter, number, q in QUESTIONS:
        if q.kind == "number":
            assert q.compute, f"{chapter}.{number}"
            assert q.tolerance <= max(abs(q.number) * 0.05, 1e-12), f"{chapter}.{number}: tolerance too loose"
            for m in q.mistakes:
                assert abs(m.number - q.number) > q.tolerance


def good() -> dict:
    return {"questions": [
        {"ask": "Pick.", "choices": [{"answer": "a", "why": "yes", "correct": True}, {"answer": "b", "why": "no"}]},
        {"ask": "How many?", "number": 4, "why": "four", "hint": "count", "compute": "answer = 4"},
        {"ask": "Again.", "choices": [{"answer": "a", "why": "yes", "correct": True}, {"answer": "b", "why": "no"}]},
    ]}


@pytest.mark.parametrize("change,message", [
    (lambda d: d["questions"].pop(), "3 to 5 questions"),
    (lambda d: d["questions"][1].pop("compute"), "needs 'compute'"),
    (lambda d: d["questions"][0]["choices"][1].update(correct=True), "exactly one choice"),
    (lambda d: d["questions"][1].update(number="1/8"), "must be a number"),
    (lambda d: d["questions"][1].update(mistakes=[{"number": 4, "why": "x"}]), "would count as right"),
    (lambda d: d["questions"][0].update(number=3), "either 'choices'"),
    (lambda d: d["questions"][0].update(explain="x"), "unknown key"),
    (lambda d: d["questions"][1].pop("hint"), "'hint' must be non-empty"),
])
def test_a_malformed_source_is_named_with_its_fix(change, message):
    data = good()
    selfcheck.parse(data)  # the good one passes
    change(data)
    with pytest.raises(selfcheck.SelfCheckError, match=re.escape(message)):
        selfcheck.parse(data, "99.yaml")


def test_a_missing_source_says_where_to_write_it():
    with pytest.raises(selfcheck.SelfCheckError, match=r"selfchecks/98\.yaml"):
        selfcheck.load("98")
    with pytest.raises(selfcheck.SelfCheckError, match="two digits"):
        selfcheck.load("3")


def test_the_html_is_self_contained_and_escapes_text():
    questions = selfcheck.parse(yaml.safe_load("""
questions:
  - ask: "Is `a < b` **bold**?"
    choices:
      - {answer: "<script>x</script>", why: "no <b>", correct: true}
      - {answer: "b", why: "c"}
  - {ask: n, number: 0.5, tolerance: 0.01, why: w, hint: h, compute: "answer = 0.5"}
  - {ask: m, choices: [{answer: a, why: b, correct: true}, {answer: c, why: d}]}
"""))
    html = selfcheck.render("42", questions)
    assert "<code>a &lt; b</code>" in html and "<strong>bold</strong>" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert not re.search(r"\b(src|href)\s*=", html), "the self-check must load nothing"
    assert html.count("<script") == 1 and html == selfcheck.render("42", questions)  # deterministic


def test_add_appends_the_cells_once(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 07 · Title")]
    path = tmp_path / "07_topic.ipynb"
    nbformat.write(nb, path)
    assert selfcheck.problems(path)
    assert selfcheck.add(path) is True and selfcheck.add(path) is False
    assert selfcheck.problems(path) == []
    cells = nbformat.read(path, 4).cells
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "code"]
    assert cells[-1].source.endswith('selfcheck.show("07")') and cells[-1].outputs == []
