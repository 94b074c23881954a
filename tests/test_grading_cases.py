"""The grader against the real chapters: it passes what is right and fails what is wrong.

For every solutions/NN_topic.ipynb:
(a) the reference solution passes every exercise;
(b) the generated exercise notebook, untouched, fails every exercise;
(c) with all WRONG answers of tests/grading_cases/NN_topic.py planted at once, exactly those exercises fail;
(d) with all ALTERNATIVE answers planted at once, every exercise passes.
Plus the fast checks: the cases name real answer cells, and exercises/ and references.json are fresh.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kaibert.course import exercises, grade, notebooks as nbs

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
CASES = ROOT / "tests" / "grading_cases"


def load_cases(solution: Path):
    path = CASES / f"{solution.stem}.py"
    if not path.exists():
        pytest.fail(f"{solution.name} has no grading cases: write {path.relative_to(ROOT)} with WRONG and ALTERNATIVE")
    spec = importlib.util.spec_from_file_location(f"grading_cases_{solution.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG, module.ALTERNATIVE


def planted(solution: Path, cases: dict, folder: Path) -> Path:
    """The generated exercise notebook with the answers of ``cases`` planted and the reference
    answers everywhere else."""
    nb = nbs.read(ROOT / "exercises" / solution.name)
    reference = {c.get("id"): c.source for c in nbs.answer_cells(nbs.read(solution))}
    sources = {}
    for cells in cases.values():
        sources.update(cells)
    for cell in nbs.answer_cells(nb):
        cell.source = sources.get(cell.get("id"), reference[cell.get("id")])
    out = folder / solution.name
    nbs.write(nb, out)
    return out


def chapter_params(*marks):
    return [pytest.param(s, id=s.stem[:2], marks=list(marks))
            for s in SOLUTIONS]


@pytest.mark.parametrize("solution", chapter_params())
def test_cases_name_real_answer_cells(solution):
    wrong, alternative = load_cases(solution)
    nb = nbs.read(solution)
    answer_ids = {c.get("id"): nbs.exercise_of(c) for c in nbs.answer_cells(nb)}
    reference = {c.get("id"): c.source.strip() for c in nbs.answer_cells(nb)}
    assert len(wrong) >= min(3, len(nbs.exercises(nb))), "at least 3 WRONG cases per chapter"
    assert len(alternative) >= min(3, len(nbs.exercises(nb))), "at least 3 ALTERNATIVE cases per chapter"
    for kind, cases in (("WRONG", wrong), ("ALTERNATIVE", alternative)):
        for exercise, cells in cases.items():
            assert exercise in nbs.exercises(nb), f"{kind}[{exercise!r}]: no such exercise in {solution.name}"
            for cell_id, source in cells.items():
                assert answer_ids.get(cell_id) == exercise, f"{kind}[{exercise!r}]: {cell_id!r} is not an answer cell of {exercise}"
                assert source.strip() != reference[cell_id], f"{kind}[{exercise!r}]: {cell_id} is the reference answer"


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_solution_passes_every_exercise(solution):
    result = grade.grade(solution, solution)
    assert result.errors == []
    assert [(r.exercise, r.message) for r in result.exercises if not r.passed] == []


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_untouched_exercise_notebook_fails_every_exercise(solution):
    result = grade.grade(ROOT / "exercises" / solution.name, solution)
    assert [r.exercise for r in result.exercises if r.passed] == []
    assert all("not answered yet" in r.message for r in result.exercises), [r.message for r in result.exercises]


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_wrong_answers_fail_exactly_their_exercises(solution, tmp_path):
    wrong, _ = load_cases(solution)
    result = grade.grade(planted(solution, wrong, tmp_path), solution)
    failing = sorted(r.exercise for r in result.exercises if not r.passed)
    assert failing == sorted(wrong), {r.exercise: r.message for r in result.exercises}
    assert result.errors == []


@pytest.mark.slow
@pytest.mark.parametrize("solution", chapter_params())
def test_alternative_answers_pass(solution, tmp_path):
    _, alternative = load_cases(solution)
    result = grade.grade(planted(solution, alternative, tmp_path), solution)
    assert result.errors == []
    assert {r.exercise: r.message for r in result.exercises if not r.passed} == {}


def test_generated_files_are_fresh_and_notebooks_clean():
    """What `python -m kaibert.course.exercises --check` checks in CI."""
    assert exercises.stale(ROOT) == []
