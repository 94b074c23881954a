"""The similarity report: planted copies (renamed, reformatted, recommented) are found across the
assignment; independent answers, stubs and the given code of debug exercises are not."""

import ast
import csv
import importlib.util
from pathlib import Path

import pytest

from kaibert.course import notebooks as nbs
from kaibert.course import similarity as sim

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).parent / "grading_cases"


def case_module(chapter: str):
    path = next(CASES.glob(f"{chapter}_*.py"))
    spec = importlib.util.spec_from_file_location(f"cases_{chapter}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Disguise(ast.NodeTransformer):
    """What a copier does: other names for everything the cell defines, other strings."""

    def __init__(self, bound):
        self.bound = bound

    def visit_Name(self, node):
        if node.id in self.bound:
            node.id = f"my_{node.id}_2"
        return node

    def visit_arg(self, node):
        if node.arg in self.bound:
            node.arg = f"my_{node.arg}_2"
        return node

    def visit_FunctionDef(self, node):
        if node.name in self.bound:
            node.name = f"my_{node.name}_2"
        self.generic_visit(node)
        return node

    def visit_Constant(self, node):
        return ast.Constant("copied, reworded") if isinstance(node.value, str) else node


def disguise(source: str) -> str:
    tree = ast.parse(source)
    tree = _Disguise(sim._bound_names(tree)).visit(tree)
    # reformatted by unparse (other spacing, quotes, no comments), then commented anew
    return "# my own work\n" + ast.unparse(tree).replace("    ", "  ")


def chapter_answers(chapter: str):
    """(reference answers, alternative answers, given code) of one chapter, per exercise."""
    solution = nbs.read(next((ROOT / "solutions").glob(f"{chapter}_*.ipynb")))
    exercise = nbs.read(next((ROOT / "exercises").glob(f"{chapter}_*.ipynb")))
    reference = sim.answers_of(solution)
    alternative = dict(reference)
    for ex, cells in case_module(chapter).ALTERNATIVE.items():
        alternative[ex] = "\n".join(cells.values())
    return reference, alternative, sim.given_code(exercise)


@pytest.fixture(scope="module")
def assignment():
    """Chapters 03, 05 and 08 as one assignment."""
    reference, alternative, given = {}, {}, {}
    for chapter in ("03", "05", "08"):
        r, a, g = chapter_answers(chapter)
        reference.update(r)
        alternative.update(a)
        given.update(g)
    return reference, alternative, given


def test_normalising_removes_names_strings_comments_and_formatting():
    a = 'def f(x, y):\n    """Doc."""\n    total = x + y  # add\n    return torch.relu(total) * 2, "a"\n'
    b = "def g(p,q):\n  s=p+q\n  return (torch.relu(s)*2, 'other words')"
    assert sim.tokens(a) == sim.tokens(b)
    assert sim.tokens(a) != sim.tokens(a.replace("relu", "gelu"))  # what the answer does stays
    assert sim.tokens(a) != sim.tokens(a.replace("* 2", "* 3"))
    assert sim.tokens("def f(:\n") is None


def test_a_planted_copy_is_found_and_honest_answers_are_not(assignment):
    reference, alternative, given = assignment
    stub_only = dict(given)  # a student who handed in the exercise notebook untouched
    debug = {ex for ex, src in given.items() if "NotImplementedError" not in src}
    assert len(debug) >= 2  # code with a bug to fix (03.3, 08.1, 08.3, ... as the chapters stand)
    students = {
        "ada": reference,
        "ben": alternative,
        "cy": {ex: disguise(src) for ex, src in reference.items()},  # ada's, disguised
        "dee": stub_only,
        # the same fixes of the debug exercises as ada's, nothing else: the given code is left out
        "eve": {ex: (reference[ex] if ex in debug else src) for ex, src in given.items()},
    }
    found = sim.pairs(students, given)
    assert [(p.student_a, p.student_b) for p in found] == [("ada", "cy")]
    pair = found[0]
    long_enough = {ex for ex in reference if ex not in debug or len(sim.changed_tokens(
        sim.tokens(reference[ex]), sim.tokens(given[ex]))) >= sim.MIN_TOKENS}
    assert set(pair.exercises) >= {ex for ex in long_enough if len(sim.tokens(reference[ex])) >= 60} - debug
    assert not set(pair.exercises) & {ex for ex in debug if ex not in long_enough}  # one-line fixes are not counted
    assert pair.mean_similarity >= sim.THRESHOLD


def test_answers_the_whole_class_shares_are_not_a_coincidence(assignment):
    reference, alternative, given = assignment
    # ten students who all wrote the natural answer, and two who wrote another: nothing to look at
    students = {f"s{i:02d}": reference for i in range(10)} | {"x": alternative, "y": alternative}
    found = sim.pairs(students, given)
    assert [(p.student_a, p.student_b) for p in found] == [("x", "y")]  # the rare shared form only


def test_report_reads_notebooks_and_writes_the_csv(tmp_path):
    reference, alternative, _ = chapter_answers("03")
    exercise_path = next((ROOT / "exercises").glob("03_*.ipynb"))

    def notebook(answers, name):
        nb = nbs.read(exercise_path)
        for cell in nb.cells:
            if nbs.is_answer(cell):
                cell.source = answers[nbs.exercise_of(cell)] if nbs.exercise_of(cell) in answers else cell.source
        path = tmp_path / name / exercise_path.name
        path.parent.mkdir()
        nbs.write(nb, path)
        return [path]

    copied = {ex: disguise(src) for ex, src in reference.items()}
    notebooks = {"ada": notebook(reference, "ada"), "ben": notebook(alternative, "ben"), "cy": notebook(copied, "cy")}
    out = tmp_path / "gradebook_similarity.csv"
    found = sim.report(notebooks, [exercise_path], out)
    rows = list(csv.reader(out.open()))
    assert rows[0] == sim.COLUMNS
    assert [r[:2] for r in rows[1:]] == [["ada", "cy"]] == [[p.student_a, p.student_b] for p in found]
    assert rows[1][2] == " ".join(found[0].exercises) and int(rows[1][3]) >= 2


def test_the_command_says_when_there_is_no_course_or_no_class(tmp_path, monkeypatch, capsys):
    from kaibert.course import paths

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "PACKAGE_REPO", tmp_path / "no-clone")  # kaibert installed outside any clone
    (tmp_path / "subs").mkdir()
    with pytest.raises(SystemExit) as stop:
        sim.main([str(tmp_path / "subs")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "No course repository found" in err and "--root" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as stop:
        sim.main([str(tmp_path / "nowhere"), "--exercises", str(tmp_path)])
    assert stop.value.code == 2 and "nowhere is not a folder" in capsys.readouterr().err
