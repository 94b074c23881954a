"""Grading knows the course version (issue 26): a class with notebooks handed out at two commits,
whose exercises differ, grades each against its own version's exercise notebook; a version the
clone lacks stops the run before anything is graded."""

import csv
from pathlib import Path

import pytest

from course_clone import change_points, git, make_course
from kaibert.course import assign, gradebook, versions
from kaibert.course import notebooks as nbs


def answered(bundle_notebook, solution, out):
    """The handed-out notebook with the reference answers typed in, as a student hands it in."""
    nb = nbs.read(bundle_notebook)
    answers = {c.get("id"): c.source for c in nbs.read(solution).cells if nbs.is_answer(c)}
    for cell in nb.cells:
        if nbs.is_answer(cell):
            cell.source = answers[cell.get("id")]
    out.parent.mkdir(parents=True, exist_ok=True)
    nbs.write(nb, out)
    return out


@pytest.fixture
def two_versions(tmp_path, monkeypatch):
    root = tmp_path / "course"
    first = make_course(root)
    assign.make_bundle(root, ["90"], "week 2", tmp_path / "week2")
    solution = root / "solutions" / "90_toy.ipynb"
    week2_answers = nbs.read(solution)
    second = change_points(root, "90.1", 5)  # the course moves on: 90.1 is worth 5 now
    assign.make_bundle(root, ["90"], "week 5", tmp_path / "week5")
    subs = tmp_path / "submissions"
    nbs.write(week2_answers, tmp_path / "solution_week2.ipynb")
    answered(tmp_path / "week2" / "90_toy.ipynb", tmp_path / "solution_week2.ipynb", subs / "ada" / "90_toy.ipynb")
    answered(tmp_path / "week5" / "90_toy.ipynb", solution, subs / "ben" / "90_toy.ipynb")
    monkeypatch.chdir(root)
    return root, subs, first, second


EXPORT = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Toy exercises (77)\n"
    "    Points Possible,,,,,8.00\n"
    '"Lovelace, Ada",11,S1,ada,A,\n'
    '"Babbage, Ben",12,S2,ben,A,\n'
)


@pytest.mark.slow
def test_a_class_of_two_versions_grades_each_against_its_own(two_versions, tmp_path, capsys):
    """Through the command, with the Canvas export and the similarity report of the same run."""
    root, subs, first, second = two_versions
    (tmp_path / "export.csv").write_text(EXPORT)
    out = tmp_path / "gradebook.csv"
    status = gradebook.main([str(subs), "--out", str(out), "--chapters", "90", "--no-sandbox",
                             "--canvas", str(tmp_path / "export.csv"), "--similarity"])
    assert status == 0, capsys.readouterr().out
    table = list(csv.DictReader(out.open()))
    by = {(r["student"], r["exercise"]): r for r in table}
    assert (by[("ada", "90.1")]["max_points"], by[("ben", "90.1")]["max_points"]) == ("1", "5")
    assert all(r["passed"] == "yes" for r in table if r["exercise"].startswith("90."))
    assert {r["version"] for r in table if r["student"] == "ada"} == {f"commit {first[:12]}"}
    assert {r["version"] for r in table if r["student"] == "ben"} == {f"commit {second[:12]}"}
    assert git(root, "status", "--porcelain") == ""  # the working tree was never touched
    canvas_rows = list(csv.reader((tmp_path / "gradebook_canvas.csv").open()))
    assert canvas_rows[2:] == [["Lovelace, Ada", "11", "S1", "ada", "A", "4"], ["Babbage, Ben", "12", "S2", "ben", "A", "8"]]
    similar = list(csv.reader((tmp_path / "gradebook_similarity.csv").open()))
    assert similar == [["student_a", "student_b", "exercises", "coinciding", "compared", "mean_similarity"]]  # toy answers are short


def test_a_version_the_clone_lacks_stops_before_grading(two_versions):
    root, subs, _, _ = two_versions
    path = subs / "ada" / "90_toy.ipynb"
    nb = nbs.read(path)
    versions.stamp_notebook(nb, versions.Version("f" * 40))
    nbs.write(nb, path)
    said = []
    with pytest.raises(gradebook.GradebookError, match=r"1 notebook\(s\) were handed out from a course version that cannot be "
                                         r"had, so nothing was graded:\n  ada \(90_toy.ipynb\): .*git fetch --tags"):
        gradebook.grade_class(subs, ["90"], sandbox="none", log=said.append)
    assert not any(line.startswith("  ben") for line in said)  # nobody was graded


@pytest.mark.slow
def test_one_notebook_is_graded_against_its_own_version(two_versions):
    from kaibert.course import grade as grading

    root, subs, first, _ = two_versions
    result = grading.grade(subs / "ada" / "90_toy.ipynb", sandbox="none")
    assert ".git" in Path(result.solution).parts  # the week-2 exercise notebook, from history
    assert result.version == f"commit {first[:12]}"
    assert (result.score, result.total) == (4, 4)
    assert f"course version commit {first[:12]}" in grading.table(result)
