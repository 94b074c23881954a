"""Grading one notebook: the graded notebook is built right, noise never decides, verdicts are right."""

import json
import re
import shutil
from pathlib import Path

import pytest

from kaibert.course import exercises, grade, kernel, notebooks as nbs

FIXTURES = Path(__file__).parent / "fixtures" / "course"
TOY = FIXTURES / "solutions" / "90_toy.ipynb"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy solution and the exercise notebook generated from it."""
    root = tmp_path_factory.mktemp("toy")
    (root / "solutions").mkdir()
    shutil.copy(TOY, root / "solutions" / TOY.name)
    exercises.generate(root)
    return root / "solutions" / TOY.name, root / "exercises" / TOY.name


def student_from(path, answers=None, drop=(), edit=None, name="90_toy.ipynb", folder=None):
    """A student's notebook: the exercise notebook with some cells answered, dropped or edited."""
    nb = nbs.read(path)
    for cell in nb.cells:
        if answers and cell.get("id") in answers:
            cell.source = answers[cell.get("id")]
        if edit and cell.get("id") in edit:
            cell.source = edit[cell.get("id")]
    nb.cells = [c for c in nb.cells if c.get("id") not in drop]
    out = Path(folder) / name
    nbs.write(nb, out)
    return out


# --- building the graded notebook ------------------------------------------------------------


def test_graded_notebook_takes_only_answer_cells_from_the_student(toy):
    solution_path, exercise_path = toy
    student = nbs.read(exercise_path)
    cells = {c.id: c for c in student.cells}
    cells["ex90-1-answer"].source = "def square(x):\n    return x ** 2"
    cells["ex90-1-check"].source = 'print("[90.1] first: 6.25")'  # a student "fixing" the check
    cells["imports"].source = "import os"
    student.cells = [c for c in student.cells if c.id not in ("ex90-2-check", "ex90-3-answer")]
    graded, origin = grade.build_graded(nbs.read(solution_path), student)
    solution = {c.id: c for c in nbs.read(solution_path).cells}
    by_id = {c.id: c for c in graded.cells}
    assert by_id["ex90-1-answer"].source == "def square(x):\n    return x ** 2"
    assert by_id["ex90-1-check"].source == grade.CHECK_PRELUDE + solution["ex90-1-check"].source
    assert by_id["ex90-1-check"].outputs == solution["ex90-1-check"].outputs
    assert by_id["ex90-2-check"].source == grade.CHECK_PRELUDE + solution["ex90-2-check"].source  # deleted, still there
    assert by_id["imports"].source == solution["imports"].source
    assert 'NotImplementedError("Exercise 90.3' in by_id["ex90-3-answer"].source
    assert origin == {"ex90-1-answer": "id", "ex90-2-answer": "id", "ex90-2-answer-b": "id", "ex90-3-answer": "missing"}
    # the grader's own cell runs first; then the solution's cells in their order
    assert [c.id for c in graded.cells] == [grade.GRADER_CELL_ID] + [c.id for c in nbs.read(solution_path).cells]


def test_answers_are_found_without_cell_ids(toy):
    """Editors that drop cell ids (Colab saves nbformat 4.0) still get their answers graded."""
    solution_path, exercise_path = toy
    raw = json.loads(exercise_path.read_text())
    raw["nbformat_minor"] = 0
    for cell in raw["cells"]:
        cell.pop("id", None)
        if cell["metadata"].get("kaibert", {}).get("exercise") == "90.3":
            cell["metadata"] = {}  # metadata lost too: matched by the first line
            if cell["source"][0].startswith("def count_words"):
                cell["source"] = ["def count_words(text):\n", "    return {}"]
        if "".join(cell["source"]).startswith("def variance"):
            cell["source"] = ["def variance(xs):\n", "    return 0.0"]
    student = nbs.reads(json.dumps(raw))
    graded, origin = grade.build_graded(nbs.read(solution_path), student)
    by_id = {c.id: c for c in graded.cells}
    assert origin["ex90-2-answer-b"] == "metadata"
    assert by_id["ex90-2-answer-b"].source == "def variance(xs):\n    return 0.0"
    assert origin["ex90-3-answer"] == "first line"
    assert by_id["ex90-3-answer"].source == "def count_words(text):\n    return {}"


def test_a_notebook_without_ids_or_metadata_is_matched_by_position():
    """An editor that drops both (nbformat 4.4, bare cells): every answer is found, by position.

    Exercise 03.1's answer starts with the stub's comment, so its first line says nothing: it used
    to be lost ("no answer cell ex03-1-answer", 7/8).
    """
    root = Path(__file__).resolve().parents[1]
    solution = nbs.read(root / "solutions" / "03_attention.ipynb")
    answers = {c.get("id"): c.source for c in nbs.answer_cells(solution)}
    student = nbs.read(root / "exercises" / "03_attention.ipynb")
    for cell in nbs.answer_cells(student):
        cell.source = answers[cell.get("id")]
    raw = json.loads(nbs.dumps(student))
    raw["nbformat_minor"], raw["metadata"] = 4, {}
    for cell in raw["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {}
    raw["cells"].insert(3, {"cell_type": "markdown", "metadata": {}, "source": ["my notes"]})  # and a cell of mine
    bare = nbs.reads(json.dumps(raw))
    graded, origin = grade.build_graded(nbs.read(root / "exercises" / "03_attention.ipynb"), bare)
    assert set(origin.values()) <= {"first line", "position"} and "position" in origin.values()
    assert {c.get("id"): c.source for c in nbs.answer_cells(graded)} == answers


def test_chapter_comes_from_metadata_then_file_name_then_cell_ids(toy, tmp_path):
    _, exercise_path = toy
    nb = nbs.read(exercise_path)
    assert grade.student_chapter(nb, Path("whatever.ipynb")) == "90"
    del nb.metadata["kaibert"]
    assert grade.student_chapter(nb, Path("Copy of 03_attention.ipynb")) == "03"
    assert grade.student_chapter(nb, Path("homework.ipynb")) == "90"


@pytest.mark.parametrize(
    "content, message",
    [("{oops", "invalid JSON"), ('{"a": 1}', "JSON without a 'cells' list"), (b"\x89PNG\x00\xff", "not UTF-8")],
)
def test_unreadable_notebooks_get_a_clear_error(tmp_path, toy, content, message):
    path = tmp_path / "90_toy.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(grade.GradeError, match=re.escape(message)):
        grade.grade(path, toy[0])


def test_a_notebook_of_another_chapter_is_refused(tmp_path, toy):
    nb = nbs.read(toy[1])
    nb.metadata["kaibert"]["chapter"] = "04"
    nbs.write(nb, tmp_path / "04_multi_head_attention.ipynb")
    with pytest.raises(grade.GradeError, match="this notebook is for chapter 04, the reference 90_toy.ipynb is for chapter 90"):
        grade.grade(tmp_path / "04_multi_head_attention.ipynb", toy[0])


def test_missing_solution_names_the_fix(tmp_path):
    with pytest.raises(grade.GradeError, match="no exercise notebook for chapter 77.*--reference"):
        grade.find_reference("77", [tmp_path])


# --- what is compared ------------------------------------------------------------------------


def test_only_summary_lines_are_compared():
    reference = "[03.2] shape: (2, 5)\n[03.2] mean: 0.1234\ncheck: exercise 03.2 matches the reference\n"
    noisy = (
        "debug <torch.Tensor object at 0x7f3a2c1d9e80>\n"
        " 40%|####      | 4/10 [00:01<00:02, 3.10it/s]\n"
        "[03.2] shape: (2, 5)\n<Figure size 640x480 with 1 Axes>\n"
        '<div id="bertviz-0123456789abcdef0123456789abcdef"></div>\n'
        "[03.2] mean: 0.1234\ncheck: exercise 03.2 differs from the reference: got '?', expected '?'"
    )
    assert grade.summary_of(noisy) == grade.summary_of(reference) == ["[03.2] shape: (2, 5)", "[03.2] mean: 0.1234"]


def test_a_wrong_value_stays_wrong_and_addresses_never_count():
    assert grade.summary_of("[03.2] mean: 0.1235\n") != grade.summary_of("[03.2] mean: 0.1234\n")
    assert grade.summary_of("[03.2] obj: <A at 0x7f00aa>\n") == grade.summary_of("[03.2] obj: <A at 0x7f11bb>\n")


def test_stderr_and_displays_are_never_compared(toy):
    import nbformat

    cell = nbformat.v4.new_code_cell("x")
    cell["id"] = "ex90-1-check"
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: slow\n[90.1] first: 1.0\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "[90.1] first: 2.0"}),
        nbformat.v4.new_output("stream", name="stdout", text="[90.1] first: 6.25\n"),
    ]
    outcome = kernel.outcome_of(cell, overflow=False, seconds=0.1)
    assert outcome.status == kernel.OK and outcome.stdout == "[90.1] first: 6.25\n"


# --- verdicts from cell records (no kernel) --------------------------------------------------


def records(**by_id):
    return [grade.CellRecord(k.replace("_", "-"), **v) for k, v in by_id.items()]


def test_verdicts_map_cells_to_exercises(toy):
    graded, origin = grade.build_graded(nbs.read(toy[0]), nbs.read(toy[0]))
    ok = {"passed": True}
    recs = records(
        imports=ok, ex90_1_answer=ok, ex90_1_check={"passed": False, "message": "summary differs: first: got 6.5, expected 6.25"},
        ex90_2_answer={"passed": False, "message": "SyntaxError: invalid syntax"}, ex90_2_answer_b=ok, ex90_2_check=ok,
        ex90_3_answer=ok, ex90_3_check=ok,
    )
    results, errors = grade.verdicts(graded, origin, recs, "")
    assert [(r.exercise, r.points, r.passed) for r in results] == [("90.1", 1, False), ("90.2", 2, False), ("90.3", 1, True)]
    assert results[0].message == "wrong result: first: got 6.5, expected 6.25"
    assert results[1].message == "answer cell ex90-2-answer failed: SyntaxError: invalid syntax"
    assert errors == []


def test_a_failing_plain_cell_is_a_notebook_error(toy):
    graded, origin = grade.build_graded(nbs.read(toy[0]), nbs.read(toy[0]))
    recs = records(imports={"passed": False, "message": "ModuleNotFoundError: No module named 'kaibert'"})
    results, errors = grade.verdicts(graded, origin, recs, "grading stopped after 10 s")
    assert errors == ["plain cell imports failed: ModuleNotFoundError: No module named 'kaibert'", "grading stopped after 10 s"]
    assert all(not r.passed and "not run (grading stopped after 10 s)" in r.message for r in results)


def test_table_is_readable(toy):
    result = grade.Grade("me.ipynb", "solutions/90_toy.ipynb", "90", [
        grade.ExerciseResult("90.1", 1, True), grade.ExerciseResult("90.2", 2, False, "wrong result: x: got 1, expected 2"),
        grade.ExerciseResult("90.3", 1, True, "", "zero", "no points: the answer rebinds 'check', which the check cells rely on"),
        grade.ExerciseResult("90.4", 1, True, "", "review", "for review: the answer uses torch.nn.functional.gelu"),
    ])
    assert grade.table(result).splitlines() == [
        "Chapter 90: me.ipynb graded against solutions/90_toy.ipynb",
        "",
        "exercise  points  result  flag    message",
        "90.1      1/1     pass    -",
        "90.2      0/2     FAIL    -       wrong result: x: got 1, expected 2",
        "90.3      0/1     ZERO    zero    no points: the answer rebinds 'check', which the check cells rely on",
        "90.4      1/1     pass    review  for review: the answer uses torch.nn.functional.gelu",
        "",
        "score: 2/5 points; 2 of 4 exercises pass",
    ]


# --- real grading runs (a kernel each) -------------------------------------------------------


@pytest.mark.slow
def test_the_solution_passes_and_the_exercise_fails(toy, capsys):
    solution_path, exercise_path = toy
    assert grade.main([str(solution_path), "--solution", str(solution_path)]) == 0
    out = capsys.readouterr().out
    assert "score: 4/4 points; 3 of 3 exercises pass" in out
    assert grade.main([str(exercise_path), "--solution", str(solution_path)]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL    -     not answered yet (the exercise stub still raises NotImplementedError)") == 3
    assert "score: 0/4 points" in out


NOISY_SQUARE = '''import sys
def square(x):
    """x squared, written differently, printing noise on every call."""
    print("working on", object(), file=sys.stderr)
    print("\\r 50%|#####     | 1/2 [00:00<00:00, 9.90it/s]")
    print("debug:", object())
    return x ** 2'''


@pytest.mark.slow
def test_noise_edits_and_deletions(toy, tmp_path):
    solution_path, exercise_path = toy
    student = student_from(
        exercise_path,
        answers={
            "ex90-1-answer": NOISY_SQUARE,
            "ex90-2-answer": "def mean(xs):\n    return sum(xs) / len(xs)",
            # the classic mistake: sample variance instead of population variance
            "ex90-2-answer-b": "def variance(xs):\n    m = mean(xs)\n    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)",
        },
        # the student prints the expected lines in the check cell and deletes 90.3's answer
        edit={"ex90-2-check": 'print("[90.2] mean: 0.9453")\nprint("[90.2] variance: 2.5461")'},
        drop=("ex90-3-answer",),
        folder=tmp_path,
    )
    result = grade.grade(student, solution_path)
    verdict = {r.exercise: (r.passed, r.message) for r in result.exercises}
    assert verdict["90.1"] == (True, "")
    assert verdict["90.2"] == (False, "wrong result: variance: got 2.829, expected 2.5461; small: got 2.3333, expected 1.5556")
    assert verdict["90.3"][0] is False and "no answer cell ex90-3-answer in the notebook" in verdict["90.3"][1]
    assert result.errors == [] and result.score == 1


def test_cli_refuses_a_broken_file_with_status_2(tmp_path, capsys):
    path = tmp_path / "03_attention.ipynb"
    path.write_text("not json")
    assert grade.main([str(path)]) == 2
    assert "cannot grade: " in capsys.readouterr().err


@pytest.mark.slow
def test_self_check_without_solutions(toy, tmp_path, monkeypatch):
    """A student with only the course package: graded against the outputs stored in the notebook."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(grade, "reference_folders", lambda: [])
    student = student_from(toy[1], answers={"ex90-1-answer": "def square(x):\n    return x * x"}, folder=tmp_path)
    result = grade.grade(student)
    assert [r.passed for r in result.exercises] == [True, False, False]
    assert result.notes and result.notes[0].startswith("self-check:")


def test_a_cell_that_kills_the_kernel_costs_only_its_exercise(toy, tmp_path, monkeypatch):
    """After the kernel had to be stopped in 90.2, the rest is graded again without 90.2's answers."""
    solution = nbs.read(toy[0])
    graded, origin = grade.build_graded(solution, solution)
    runs = []

    def fake_run(nb, work, timeout, sandbox, limits, kernel_name=None, deadline=None):
        runs.append({c.id: c.source for c in nbs.answer_cells(nb)})
        recs = []
        for cell in (c for c in nb.cells if c.cell_type == "code"):
            if cell.id == "ex90-2-answer" and "NotImplementedError" not in cell.source:
                recs.append(grade.CellRecord(cell.id, False, "ran longer than the time limit of 5 s per cell "
                                                             "(an endless loop, or far too slow)"))
                break  # the kernel had to be stopped: nothing after it ran
            recs.append(grade.CellRecord(cell.id, True))
        return recs, ""

    monkeypatch.setattr(grade, "run_once", fake_run)
    records, stopped = grade.run_with_reruns(graded, None, 5)
    assert len(runs) == 2 and "NotImplementedError" in runs[1]["ex90-2-answer"]
    assert "NotImplementedError" not in runs[1]["ex90-3-answer"]  # the other answers are kept
    results, errors = grade.verdicts(graded, origin, records, stopped)
    assert [(r.exercise, r.passed) for r in results] == [("90.1", True), ("90.2", False), ("90.3", True)]
    assert "time limit of 5 s" in results[1].message and errors == []


# --- an answer cell cannot fake a pass -------------------------------------------------------

FAKE_CHECK = '''import json
from importlib import resources
REFS = json.loads(resources.files("kaibert.course").joinpath("references.json").read_text())
def check(exercise, **values):
    print("\\n".join(REFS.get(exercise, [])))
def square(x):
    return x + x'''
FAKE_PRINT = '''import builtins
_print = builtins.print
def mean(xs):
    return sum(xs) / len(xs)
def variance(xs):
    return 0.0
builtins.print = lambda *a, **k: _print(*(str(x).replace("variance: 0.0", "variance: 2.5461") for x in a), **k)'''
FAKE_STDOUT = '''import io, sys
class Rewrite(io.TextIOBase):
    def write(self, s):
        return sys.__stdout__.write(s.replace("hidden: []", "hidden: [('a', 4)]"))
sys.stdout = Rewrite()
def count_words(text):
    return {}'''


@pytest.mark.slow
def test_rebinding_check_print_or_stdout_fakes_nothing(toy, tmp_path):
    """Each trick fails its exercise at run time as well as getting zero points from the audit."""
    student = student_from(toy[1], answers={
        "ex90-1-answer": FAKE_CHECK, "ex90-2-answer": FAKE_PRINT,
        "ex90-2-answer-b": "", "ex90-3-answer": FAKE_STDOUT,
    }, folder=tmp_path)
    result = grade.grade(student, toy[0])
    by_ex = {r.exercise: r for r in result.exercises}
    assert [(r.exercise, r.passed, r.flag, r.earned) for r in result.exercises] == [
        ("90.1", False, "zero", 0), ("90.2", False, "zero", 0), ("90.3", False, "zero", 0)]
    assert "first: got 5.0, expected 6.25" in by_ex["90.1"].message
    assert "rebinds 'check'" in by_ex["90.1"].flag_message and "references.json" in by_ex["90.1"].flag_message
    assert "variance: got 0.0, expected 2.5461" in by_ex["90.2"].message
    assert "builtins" in by_ex["90.2"].flag_message
    assert "patches sys.stdout" in by_ex["90.3"].flag_message
    assert result.score == 0 and not result.passed


# --- the machinery's failures are never the student's ----------------------------------------


def dead_kernel(tmp_path, monkeypatch) -> str:
    """A Jupyter kernel spec whose kernel exits at once, on JUPYTER_PATH for this test."""
    import sys

    spec = tmp_path / "jupyter" / "kernels" / "dies-at-once"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", "import sys; sys.exit(3)", "-f", "{connection_file}"],
        "display_name": "dies at once", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setattr(grade, "KERNEL_STARTUP", 5.0)
    monkeypatch.setattr(grade.time, "sleep", lambda s: None)
    return "dies-at-once"


@pytest.mark.slow
def test_a_kernel_that_never_starts_is_retried_then_reported_as_a_grading_error(toy, tmp_path, monkeypatch, capsys):
    kernel = dead_kernel(tmp_path, monkeypatch)
    tries = []
    real = grade.run_once
    monkeypatch.setattr(grade, "run_once", lambda *a, **k: tries.append(1) or real(*a, **k))
    result = grade.grade(toy[0], toy[0], kernel=kernel)
    assert len(tries) == grade.KERNEL_ATTEMPTS
    assert result.status == grade.GRADING_ERROR and not result.passed
    assert result.errors[0].startswith("grading error: the kernel did not start")
    assert all("not your answer's fault" in r.message and r.earned == 0 for r in result.exercises)
    assert grade.main([str(toy[0]), "--solution", str(toy[0]), "--kernel", kernel]) == 3
    assert "GRADING ERROR" in capsys.readouterr().out


@pytest.mark.slow
def test_a_kernel_killed_by_an_answer_is_said_to_have_died(toy, tmp_path):
    student = student_from(toy[1], answers={"ex90-1-answer": "import os\nos._exit(3)"}, folder=tmp_path)
    started = __import__("time").monotonic()
    result = grade.grade(student, toy[0], timeout=30)
    assert "the kernel died during this cell" in result.exercises[0].message
    assert __import__("time").monotonic() - started < 60  # noticed at once, not after the 30 s limit
    assert result.status == grade.GRADED


@pytest.mark.slow
def test_keep_takes_a_relative_folder(toy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = grade.grade(toy[0], toy[0], keep=Path("keeprel"))
    assert result.passed, [r.message for r in result.exercises]
    ran = nbs.read(tmp_path / "keeprel" / "graded.ipynb")  # the notebook as it ran, outputs and all
    assert "[90.1] first: 6.25" in "".join(o.get("text", "") for c in nbs.check_cells(ran) for o in c.outputs)


@pytest.mark.slow
def test_a_notebook_stops_at_its_own_time_limit(toy, tmp_path):
    """Per-cell limits alone let a notebook of many slow cells run for ever; the notebook has one too."""
    from kaibert.course import sandbox

    student = student_from(toy[1], answers={"ex90-1-answer": "import time\ntime.sleep(600)"}, folder=tmp_path)
    started = __import__("time").monotonic()
    result = grade.grade(student, toy[0], timeout=500, limits=sandbox.Limits(notebook_seconds=40))
    assert __import__("time").monotonic() - started < 120
    assert "the notebook ran past its limit of 40 s" in result.errors
    assert not any(r.passed for r in result.exercises) and result.status == grade.GRADED
    assert "stopped: the notebook ran past its time limit during this cell" in result.exercises[0].message


def test_reference_folders_come_from_the_one_course_root_finder(tmp_path, monkeypatch):
    from kaibert.course import paths

    repo = paths.PACKAGE_REPO
    tmp_path = tmp_path.resolve()
    clone = tmp_path / "clone"
    (clone / "kaibert").mkdir(parents=True)
    (clone / "exercises").mkdir()
    (clone / "notes" / "week1").mkdir(parents=True)
    monkeypatch.chdir(clone / "notes" / "week1")
    assert grade.reference_folders() == [clone / "exercises", repo / "exercises"]  # this clone's first
    monkeypatch.chdir(repo)
    assert grade.reference_folders() == [repo / "exercises"]  # named once
    (tmp_path / "loose" / "exercises").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "loose")  # exercises/ alone is not a clone of the course (paths.is_course_root)
    assert grade.reference_folders() == [repo / "exercises"]
    monkeypatch.setattr(paths, "PACKAGE_REPO", tmp_path / "site-packages")  # installed outside any clone
    assert grade.reference_folders() == []


def test_a_limit_that_is_not_positive_is_a_message_and_status_2(tmp_path, capsys):
    with pytest.raises(ValueError, match="memory_mb must be positive"):  # the library raises ...
        grade.limits_from(grade.argparse.Namespace(memory=0, processes=1, timeout=1, notebook_timeout=1,
                                                   output=1, file_size=1))
    assert grade.main([str(tmp_path / "90_toy.ipynb"), "--memory", "0"]) == 2  # ... the command says so
    assert capsys.readouterr().err == "kaibert: the limit memory_mb must be positive, got 0\n"
