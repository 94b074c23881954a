"""Grading a class: every kind of broken submission gets a clear row, never a crash or a hang."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from kaibert.course import exercises, gradebook, notebooks as nbs

FIXTURES = Path(__file__).parent / "fixtures" / "course"
TOY = FIXTURES / "solutions" / "90_toy.ipynb"

LOOP_FOREVER = """import time
while True:
    try:
        time.sleep(0.2)
    except KeyboardInterrupt:
        pass"""
WRONG_VARIANCE = "def variance(xs):\n    m = mean(xs)\n    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)"


def answered(exercise_nb, answers, chapter=None):
    nb = nbs.read(exercise_nb)
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.get("id")]
    if chapter:
        nb.metadata["kaibert"]["chapter"] = chapter
    return nb


def make_class(root: Path) -> Path:
    """A class of toy submissions: two good ones and every broken kind there is."""
    (root / "solutions").mkdir()
    shutil.copy(TOY, root / "solutions" / TOY.name)
    exercises.generate(root)
    exercise_nb = root / "exercises" / TOY.name
    solution = nbs.read(root / "solutions" / TOY.name)
    subs = root / "submissions"
    subs.mkdir()
    # alice: the reference answers, in a folder with a stray PDF
    nbs.write(solution, subs / "alice" / "90_toy.ipynb")
    (subs / "alice" / "notes.pdf").write_bytes(b"%PDF-1.4")
    # bob: hands in the untouched exercise notebook, as a single file under his own name
    shutil.copy(exercise_nb, subs / "bob.ipynb")
    # carol: a cell that loops forever and even swallows the interrupt (the kernel has to be
    # stopped, so the rest is graded in a second run), a cell that raises, a right answer
    nbs.write(answered(exercise_nb, {
        "ex90-1-answer": LOOP_FOREVER,
        "ex90-2-answer": "def mean(xs):\n    return 1 / 0",
        "ex90-3-answer": "def count_words(text):\n    return {w: text.lower().split().count(w) for w in text.lower().split()}",
    }), subs / "carol" / "my work" / "Copy of 90_toy.ipynb")
    # dave: not a notebook at all
    (subs / "dave.txt").write_text("I could not open the notebook, sorry")
    # erin: a notebook file with broken JSON
    (subs / "erin").mkdir()
    (subs / "erin" / "90_toy.ipynb").write_text('{"cells": [')
    # frank: a notebook from another chapter
    nbs.write(answered(exercise_nb, {}, chapter="04"), subs / "frank" / "04_multi_head_attention.ipynb")
    # gina: an empty folder
    (subs / "gina").mkdir()
    # harry: a classic mistake in 90.2
    nbs.write(answered(exercise_nb, {
        "ex90-1-answer": "def square(x):\n    return x ** 2",
        "ex90-2-answer": "def mean(xs):\n    return sum(xs) / len(xs)",
        "ex90-2-answer-b": WRONG_VARIANCE,
        "ex90-3-answer": "from collections import Counter\ndef count_words(text):\n    return dict(Counter(text.lower().split()))",
    }), subs / "harry" / "90_toy.ipynb")
    return subs


def test_assigned_chapters_follow_the_majority(tmp_path):
    found = {
        "a": [gradebook.Found(Path("a.ipynb"), "03")],
        "b": [gradebook.Found(Path("b.ipynb"), "03"), gradebook.Found(Path("c.ipynb"), "04")],
        "c": [gradebook.Found(Path("d.ipynb"), "05")],
        "d": [gradebook.Found(Path("e.ipynb"), None, "not a notebook")],
    }
    assert gradebook.assigned_chapters(found, {"03", "04", "05"}) == ["03"]  # 2 of 4 students
    found["d"] = [gradebook.Found(Path("f.ipynb"), "04")]
    assert gradebook.assigned_chapters(found, {"03", "04", "05"}) == ["03", "04"]
    assert gradebook.assigned_chapters(found, {"04", "05"}) == ["04"]  # only chapters with a solution


def test_summary_and_feedback_format():
    rows = [
        gradebook.Row("ann", "90.1", True, 1, 1, ""),
        gradebook.Row("ann", "90.2", False, 0, 2, "wrong result: got 'a', expected 'b'"),
        gradebook.Row("ben", "90.1", False, 0, 1, "no notebook for chapter 90 submitted"),
        gradebook.Row("ben", "90.2", False, 0, 2, "no notebook for chapter 90 submitted"),
    ]
    assert gradebook.summary(rows).splitlines() == [
        "student  90.1  90.2  total  notes",
        "ann      1/1   0/2   1/3",
        "ben      0/1   0/2   0/3    no notebook for chapter 90 submitted",
    ]
    md = gradebook.feedback_markdown("ann", rows)
    assert "Score: **1 / 3 points**." in md
    assert "| 90.2 | not passed | 0/2 | wrong result: got 'a', expected 'b' |" in md


@pytest.mark.slow
def test_a_class_with_every_kind_of_broken_submission(tmp_path, capsys):
    subs = make_class(tmp_path)
    out, feedback = tmp_path / "gradebook.csv", tmp_path / "feedback"
    code = gradebook.main([str(subs), "--out", str(out), "--feedback-dir", str(feedback),
                           "--exercises", str(tmp_path / "exercises"), "--timeout", "40", "--jobs", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student", "exercise", "status", "passed", "points", "max_points", "flag", "message",
                             "sandbox", "version"]
    assert {r["sandbox"] for r in rows} == {"bwrap"}
    got = {(r["student"], r["exercise"]): (r["passed"], r["points"], r["message"]) for r in rows}

    for ex, pts in (("90.1", "1"), ("90.2", "2"), ("90.3", "1")):
        assert got[("alice", ex)] == ("yes", pts, "")
        assert got[("bob", ex)][:2] == ("no", "0") and "not answered yet" in got[("bob", ex)][2]
        assert got[("dave.txt", ex)][2].startswith("not graded: dave.txt: not a notebook")
        assert got[("erin", ex)][2].startswith("not graded: erin/90_toy.ipynb: not a notebook (invalid JSON")
        assert got[("frank", ex)][2] == "no notebook for chapter 90 submitted"
        assert got[("gina", ex)][2] == "no notebook submitted (an empty folder)"
    assert got[("carol", "90.1")][:2] == ("no", "0") and "time limit of 40 s" in got[("carol", "90.1")][2]
    assert got[("carol", "90.2")] == ("no", "0", "check cell failed: ZeroDivisionError: division by zero")
    assert got[("carol", "90.3")] == ("yes", "1", "")
    assert got[("harry", "90.2")][2] == "wrong result: variance: got 2.829, expected 2.5461; small: got 2.3333, expected 1.5556"
    assert {r["status"] for r in rows if r["student"] in ("alice", "harry")} == {"graded"}
    assert {r["status"] for r in rows if r["student"] in ("dave.txt", "gina")} == {"not graded"}
    assert {r["flag"] for r in rows} == {""}  # honest answers (Counter, x ** 2) are never flagged
    # the per-student CSV a learning platform imports
    with open(tmp_path / "gradebook_students.csv", newline="") as f:
        totals = {r["student"]: r for r in csv.DictReader(f)}
    assert list(totals["alice"]) == ["student", "points", "max_points", "90.1", "90.2", "90.3", "status"]
    assert [totals["alice"][k] for k in ("points", "max_points", "90.2")] == ["4", "4", "2"]
    assert [totals["harry"][k] for k in ("points", "max_points", "90.2")] == ["2", "4", "0"]
    assert sorted(totals) == sorted({r["student"] for r in rows})
    # a problem of the whole notebook is said once in the feedback, not on every exercise
    erin = (feedback / "erin.md").read_text()
    assert erin.count("not a notebook (invalid JSON") == 1 and erin.count("see above") == 3
    assert got[("harry", "90.1")][0] == got[("harry", "90.3")][0] == "yes"
    assert "is a chapter 04 notebook, not part of this assignment" in got[("frank", "04 notebook")][2]
    # sorted, complete, and a feedback file per student
    assert rows == sorted(rows, key=lambda r: (r["student"], nbs.natural_key(r["exercise"]), r["message"]))
    students = ["alice", "bob", "carol", "dave.txt", "erin", "frank", "gina", "harry"]
    assert sorted({r["student"] for r in rows}) == students
    assert sorted(p.name for p in feedback.iterdir()) == sorted(f"{gradebook.safe_name(s)}.md" for s in students)
    table = {line.split()[0]: line.split()[1:5] for line in printed.splitlines() if line.split()[:1] in (["student"], ["alice"], ["harry"])}
    assert table == {"student": ["90.1", "90.2", "90.3", "total"], "alice": ["1/1", "2/2", "1/1", "4/4"],
                     "harry": ["1/1", "0/2", "1/1", "2/4"]}


@pytest.mark.slow
def test_a_grading_error_is_never_counted_against_the_student(tmp_path, monkeypatch, capsys):
    """A kernel that never starts: its own status, a feedback that says so, exit status 3."""
    import json
    import sys

    from kaibert.course import grade

    subs = make_class(tmp_path)
    for name in ("bob.ipynb", "carol", "dave.txt", "erin", "frank", "gina", "harry"):
        path = subs / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    spec = tmp_path / "jupyter" / "kernels" / "dies-at-once"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", "import sys; sys.exit(3)", "-f", "{connection_file}"],
        "display_name": "dies at once", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setattr(grade, "KERNEL_STARTUP", 5.0)
    out = tmp_path / "gradebook.csv"
    monkeypatch.setattr(grade.time, "sleep", lambda s: None)
    code = gradebook.main([str(subs), "--out", str(out), "--exercises", str(tmp_path / "exercises"),
                           "--kernel", "dies-at-once"])
    printed = capsys.readouterr().out
    assert code == 3
    assert "GRADING ERRORS: the machinery failed on the notebooks of alice" in printed
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["status"] for r in rows} == {"grading error"}
    assert all(r["points"] == "0" for r in rows)
    with open(tmp_path / "gradebook_students.csv", newline="") as f:
        assert next(csv.DictReader(f))["status"] == "grading error"
    feedback = (tmp_path / "feedback" / "alice.md").read_text()
    assert "not because of your answers" in feedback
    assert "wrong result" not in feedback and "not answered" not in feedback


# --- a class run that loses nothing (no kernel: grading is replaced by a recorder) -----------


def toy_class(root: Path, names=("ann", "ben", "cat")) -> Path:
    (root / "solutions").mkdir()
    shutil.copy(TOY, root / "solutions" / TOY.name)
    exercises.generate(root)
    subs = root / "submissions"
    for name in names:
        nbs.write(nbs.read(root / "exercises" / TOY.name), subs / name / "90_toy.ipynb")
    return subs


def recorder(monkeypatch, crash_on=(), fail_on=()):
    """grade.grade replaced: records who was graded, dies like a killed run on ``crash_on``."""
    from kaibert.course import grade

    graded = []

    def fake(path, reference, **kwargs):
        name = Path(path).parent.name
        if name in crash_on:
            raise KeyboardInterrupt  # the run is killed while this notebook is graded
        if name in fail_on:
            raise RuntimeError("the sandbox crashed")
        graded.append(name)
        points = nbs.points(nbs.read(reference))
        return grade.Grade(str(path), str(reference), "90",
                           [grade.ExerciseResult(ex, p, True) for ex, p in points.items()],
                           sandbox=kwargs["sandbox"])

    monkeypatch.setattr(gradebook.grading, "grade", fake)
    monkeypatch.setattr(gradebook.sb, "problem", lambda: None)
    return graded


def test_a_killed_run_keeps_what_was_graded_and_the_same_command_continues(tmp_path, monkeypatch, capsys):
    subs = toy_class(tmp_path)
    out = tmp_path / "gb.csv"
    args = [str(subs), "--out", str(out), "--exercises", str(tmp_path / "exercises")]
    graded = recorder(monkeypatch, crash_on=("ben",))
    with pytest.raises(KeyboardInterrupt):
        gradebook.main(args)
    assert "ben" not in graded and not out.exists()
    journal = [json.loads(line) for line in (tmp_path / "gb_journal.jsonl").read_text().splitlines()]
    assert journal[0]["settings"]["sandbox"] == "bwrap" and [e["student"] for e in journal[1:]] == graded

    graded = recorder(monkeypatch)
    assert gradebook.main(args) == 0
    assert graded == ["ben"]  # the others come from the journal
    assert "ann: from the journal" in capsys.readouterr().out
    with open(out, newline="") as f:
        assert {r["student"] for r in csv.DictReader(f) if r["points"] != "0"} == {"ann", "ben", "cat"}

    graded = recorder(monkeypatch)
    assert gradebook.main(args) == 0 and graded == []  # all done: nothing graded again
    nb = nbs.read(subs / "cat" / "90_toy.ipynb")
    nb.cells[0].source += "\n"
    nbs.write(nb, subs / "cat" / "90_toy.ipynb")
    assert gradebook.main(args) == 0 and graded == ["cat"]  # a changed file is graded again
    assert gradebook.main(args + ["--restart"]) == 0 and sorted(graded) == ["ann", "ben", "cat", "cat"]
    with pytest.raises(gradebook.GradebookError, match="other settings .*timeout.*--restart"):
        gradebook.Journal(tmp_path / "gb_journal.jsonl", {"timeout": 5})  # the library raises ...
    capsys.readouterr()
    assert gradebook.main(args + ["--timeout", "5"]) == 2  # ... the command says why and exits 2
    assert "other settings (limits, timeout); run with the same options" in capsys.readouterr().err


def test_the_command_turns_bad_input_into_a_message_and_status_2(tmp_path, capsys):
    with pytest.raises(gradebook.GradebookError, match="is not a folder; pass the folder"):
        gradebook.students(tmp_path / "nowhere")
    assert gradebook.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "gb.csv"), "--no-sandbox"]) == 2
    assert f"{tmp_path / 'nowhere'} is not a folder; pass the folder" in capsys.readouterr().err
    (tmp_path / "subs").mkdir()
    assert gradebook.main([str(tmp_path / "subs"), "--out", str(tmp_path / "gb.csv"), "--no-sandbox",
                           "--memory", "0"]) == 2
    assert capsys.readouterr().err == "kaibert: the limit memory_mb must be positive, got 0\n"
    assert not (tmp_path / "gb.csv").exists()


def test_a_crashed_sandbox_is_a_grading_error_on_its_rows_only(tmp_path, monkeypatch, capsys):
    subs = toy_class(tmp_path)
    recorder(monkeypatch, fail_on=("ben",))
    out = tmp_path / "gb.csv"
    assert gradebook.main([str(subs), "--out", str(out), "--exercises", str(tmp_path / "exercises"),
                           "--no-sandbox"]) == 3
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["student"]: r["status"] for r in rows} == {"ann": "graded", "ben": "grading error", "cat": "graded"}
    assert all("the sandbox crashed" in r["message"] for r in rows if r["student"] == "ben")
    assert {r["sandbox"] for r in rows} == {"none"}  # --no-sandbox is recorded on every row
    assert "WITHOUT a sandbox" in capsys.readouterr().out


def test_the_csv_is_written_whole_or_not_at_all(tmp_path):
    out = tmp_path / "gb.csv"
    good = [gradebook.Row("ann", "90.1", True, 1, 1, "")]
    gradebook.write_csv(good, out)
    before = out.read_text()

    class Broken(gradebook.Row):
        def csv(self):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        gradebook.write_csv(good + [Broken("ben", "90.1", True, 1, 1, "")], out)
    assert out.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["gb.csv"] or all(not p.name.endswith(".tmp") for p in tmp_path.iterdir())
