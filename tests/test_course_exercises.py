"""Exercise generation: stubs, kept reference outputs, references.json, and the --check gate."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from kaibert.course import exercises, notebooks as nbs

FIXTURES = Path(__file__).parent / "fixtures" / "course"
TOY = FIXTURES / "solutions" / "90_toy.ipynb"


@pytest.fixture
def root(tmp_path):
    """A tiny course repository: the toy solution, generated exercises and references."""
    (tmp_path / "solutions").mkdir()
    (tmp_path / "chapters").mkdir()
    shutil.copy(TOY, tmp_path / "solutions" / TOY.name)
    exercises.generate(tmp_path)
    return tmp_path


def test_stub_keeps_indentation_and_the_code_around_it():
    source = "def f(x):\n    y = 1\n    # BEGIN SOLUTION\n    return x + y\n    # END SOLUTION\n# after"
    out = exercises.strip_solution(source, "03.2")
    assert out == (
        "def f(x):\n    y = 1\n"
        '    raise NotImplementedError("Exercise 03.2: replace this line with your answer")\n# after'
    )


def test_every_block_becomes_a_stub():
    source = "# BEGIN SOLUTION\na = 1\n# END SOLUTION\nb = 2\n  # BEGIN SOLUTION\n  c = 3\n  # END SOLUTION"
    out = exercises.strip_solution(source, "01.1").splitlines()
    assert out[0].startswith("raise NotImplementedError(") and out[1] == "b = 2"
    assert out[2].startswith("  raise NotImplementedError(")
    assert "a = 1" not in "\n".join(out) and "c = 3" not in "\n".join(out)


@pytest.mark.parametrize(
    "source, problem",
    [
        ("x = 1", "no '# BEGIN SOLUTION'"),
        ("# BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without '# BEGIN SOLUTION'"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "second"),
    ],
)
def test_broken_markers_are_named(source, problem):
    with pytest.raises(exercises.ExerciseError, match=problem):
        exercises.strip_solution(source, "01.1", "answer cell ex01-1-answer")


def test_exercise_notebook_has_stubs_and_reference_outputs(root):
    solution = nbs.read(root / "solutions" / TOY.name)
    ex = nbs.read(root / "exercises" / TOY.name)
    assert ex.metadata["kaibert"]["chapter"] == "90"
    assert ex.metadata["kaibert"]["notebook"] == "exercises"
    answers = nbs.answer_cells(ex)
    assert [c.id for c in answers] == ["ex90-1-answer", "ex90-2-answer", "ex90-2-answer-b", "ex90-3-answer"]
    for cell in answers:
        assert "BEGIN SOLUTION" not in cell.source
        assert f'NotImplementedError("Exercise {nbs.exercise_of(cell)}:' in cell.source
    assert "return x * x" not in json.dumps(ex)
    # check cells keep exactly the solution's reference outputs
    for a, b in zip(nbs.check_cells(solution), nbs.check_cells(ex)):
        assert a.outputs == b.outputs and a.outputs
    # solution-only notes are dropped, the badge opens the exercise notebook
    assert "note-90-2" not in [c.id for c in ex.cells]
    badge = next(c for c in ex.cells if c.id == "colab-badge")
    assert "exercises/90_toy.ipynb" in badge.source and "solutions/" not in badge.source
    assert nbs.problems(ex, allow_check_outputs=True) == []


def test_references_hold_summary_lines_without_feedback(root):
    refs = json.loads((root / "kaibert" / "course" / "references.json").read_text())
    assert list(refs) == ["90.1", "90.2", "90.3"]
    assert refs["90.1"][0] == "[90.1] first: 6.25"
    assert all(not line.startswith("check:") for lines in refs.values() for line in lines)


def test_generation_is_deterministic(root):
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert exercises.generate(root) == []
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_check_passes_on_fresh_output(root, capsys):
    assert exercises.main(["--check", "--root", str(root)]) == 0


def test_check_names_a_stale_exercise_notebook(root, capsys):
    path = root / "exercises" / TOY.name
    nb = nbs.read(path)
    nb.cells[2].source += "\n# edited by hand"
    nbs.write(nb, path)
    assert exercises.main(["--check", "--root", str(root)]) == 1
    assert "exercises/90_toy.ipynb is stale" in capsys.readouterr().out


def test_check_names_stale_references(root, capsys):
    path = root / "kaibert" / "course" / "references.json"
    path.write_text(path.read_text().replace("6.25", "6.5"))
    assert exercises.main(["--check", "--root", str(root)]) == 1
    assert "references.json is stale" in capsys.readouterr().out


def test_check_finds_unclean_notebooks(root, capsys):
    chapter = nbs.read(root / "solutions" / TOY.name)
    chapter.cells[2].execution_count = 4
    chapter.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nbs.write(chapter, root / "chapters" / "90_toy.ipynb")
    assert exercises.main(["--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "chapters/90_toy.ipynb is not clean: cell 2 (id imports) has an execution count" in out
    assert "has outputs but is not a check cell" in out


def test_check_asks_for_a_refresh_when_references_are_missing(root, capsys):
    nb = nbs.read(root / "solutions" / TOY.name)
    nbs.write(nbs.clean(nb, keep_check_outputs=False), root / "solutions" / TOY.name)
    exercises.generate(root)
    assert exercises.main(["--check", "--root", str(root)]) == 1
    assert "--refresh solutions/90_toy.ipynb" in capsys.readouterr().out


def test_orphan_exercise_notebook_is_reported(root, capsys):
    shutil.copy(root / "exercises" / TOY.name, root / "exercises" / "91_gone.ipynb")
    assert exercises.main(["--check", "--root", str(root)]) == 1
    assert "exercises/91_gone.ipynb has no solutions/91_gone.ipynb" in capsys.readouterr().out


def test_lint_names_bad_markup():
    nb = nbs.read(TOY)
    nb.cells[5].id = "check-90-1"  # the check cell of 90.1
    del nb.cells[9]  # the check cell of 90.2
    found = "\n".join(nbs.lint_exercises(nb, "toy"))
    assert "the check cell of 90.1 has id 'check-90-1'; use 'ex90-1-check'" in found
    assert "exercise 90.2 has answer cells but no check cell" in found


@pytest.mark.slow
def test_refresh_executes_and_keeps_only_check_outputs(root):
    path = root / "solutions" / TOY.name
    stripped = nbs.clean(nbs.read(path), keep_check_outputs=False)
    nbs.write(stripped, path)
    assert exercises.main(["--root", str(root), "--refresh", str(path)]) == 0
    refreshed = nbs.read(path)
    assert refreshed == nbs.read(TOY)  # the committed fixture is exactly what --refresh writes
    assert exercises.main(["--check", "--root", str(root)]) == 0


def test_check_names_outdated_feedback_lines_in_a_solution(root, capsys):
    path = root / "solutions" / TOY.name
    path.write_text(path.read_text().replace("check: exercise 90.1 matches the reference", "check: no reference stored for exercise 90.1"))
    assert exercises.main(["--check", "--root", str(root)]) == 1
    assert "solutions/90_toy.ipynb: its check: feedback lines are out of date" in capsys.readouterr().out
    assert exercises.main(["--root", str(root)]) == 0
    assert exercises.main(["--check", "--root", str(root)]) == 0


def _answer_cell(source, **meta):
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell["id"] = "ex03-9-answer"
    cell.metadata["kaibert"] = {"exercise": "03.9", "role": "answer", **meta}
    return cell


def test_a_debug_exercise_shows_the_given_code_with_its_bug():
    fixed = "def f(x):\n    # BEGIN SOLUTION\n    return x.transpose(1, 2)\n    # END SOLUTION"
    buggy = "def f(x):\n    return x.view(x.size(0), x.size(2), x.size(1))  # one bug in here"
    cell = _answer_cell(fixed, kind="debug", given=buggy)
    assert exercises.student_version(cell) == buggy
    assert "NotImplementedError" in exercises.student_version(_answer_cell(fixed, kind="build"))
    with pytest.raises(exercises.ExerciseError, match="without solution markers"):
        exercises.student_version(_answer_cell(fixed, kind="debug", given=fixed))


def test_exercise_kinds_difficulty_and_minutes_are_checked():
    import nbformat

    nb = nbformat.v4.new_notebook()
    check = nbformat.v4.new_code_cell("check('03.9', x=1)")
    check["id"] = "ex03-9-check"
    check.metadata["kaibert"] = {"exercise": "03.9", "role": "check"}
    check.metadata["tags"] = ["nbval-check-output"]
    nb.cells = [_answer_cell("x = 1", kind="riddle", difficulty=5, minutes=2.5, given="x = 0"), check]
    found = " | ".join(nbs.lint_exercises(nb))
    assert "kind 'riddle'" in found and "difficulty 5" in found and "minutes 2.5" in found
    assert "'given' code but is not of kind 'debug'" in found
    nb.cells[0] = _answer_cell("x = 1", kind="concept", difficulty=1, minutes=5)
    assert nbs.lint_exercises(nb) == []


def test_stored_feedback_is_one_block_per_check_call():
    """Feedback printed against stale references (several lines) is rewritten as one verdict."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("check('03.9', a=1, b=2)\ncheck('03.9', c=3)")
    cell["id"] = "ex03-9-check"
    cell.metadata["kaibert"] = {"exercise": "03.9", "role": "check"}
    stale = ("[03.9] a: 1\n[03.9] b: 2\ncheck: exercise 03.9 differs from the reference in 2 values:\n"
             "check:   a: got 1, expected 0\ncheck:   b: got 2, expected 0\n[03.9] c: 3\n"
             "check: no reference stored for exercise 03.9\n")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stale)]
    nb.cells = [cell]
    refs = {"03.9": ["[03.9] a: 1", "[03.9] b: 2", "[03.9] c: 3"]}
    out = exercises.refresh_check_outputs(nb, refs).cells[0].outputs[0].text
    assert out == ("[03.9] a: 1\n[03.9] b: 2\ncheck: exercise 03.9 matches the reference\n"
                   "[03.9] c: 3\ncheck: exercise 03.9 matches the reference\n")


def test_no_cell_prints_the_generator_that_manual_seed_returns():
    """A cell that ends in torch.manual_seed(0) shows '<torch._C.Generator at 0x...>' to students."""
    root = Path(__file__).resolve().parents[1]
    found = []
    for folder in ("chapters", "solutions", "exercises"):
        for path in nbs.iter_notebooks(root / folder):
            for cell in nbs.read(path).cells:
                lines = cell.source.rstrip().splitlines() if cell.cell_type == "code" else []
                if lines and lines[-1].startswith("torch.manual_seed("):
                    found.append(f"{folder}/{path.name}: cell {cell.get('id')}")
    assert found == []
