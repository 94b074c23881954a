"""Filling Canvas's exported gradebook: rows matched by the names Canvas gives downloaded
submissions, by ids, or by the student's name; Points Possible kept; nothing guessed."""

import csv

import pytest

from kaibert.course import canvas

EXPORT = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Chapter 3 exercises (501),Chapter 4 exercises (502),"
    "Current Points,Final Score\n"
    "    Points Possible,,,,,16.00,10.00,(read only),(read only)\n"
    '"Doe, Jane",4567,S001,jdoe,Section A,,,0,0\n'
    '"Lovelace, Ada",4568,S002,alovelace,Section A,,,0,0\n'
    '"Turing, Alan",4569,S003,aturing,Section B,3.00,,0,0\n'
    '"Hopper, Grace",4570,S004,ghopper,Section B,,,0,0\n'
)


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def read(path):
    return list(csv.reader(path.open(encoding="utf-8")))


def test_rows_are_matched_and_one_assignment_column_is_filled(export, tmp_path):
    points = {
        "doejane_4567_890123_03_attention": {"03.1": 2, "03.2": 3},          # Canvas's download name
        "doejane_LATE_4567_890124_03_attention-1": {"03.1": 1, "03.3": 4},  # a second file: the better per exercise
        "S002": {"03.1": 5},                                                # named by SIS User ID
        "Grace Hopper": {"03.1": 1.5},                                      # named by the student, first name first
        "someone_else": {"03.1": 1},
    }
    out = tmp_path / "canvas.csv"
    filled = canvas.fill(export, points, 16, out, assignment="Chapter 3")
    rows = read(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Chapter 3 exercises (501)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "16.00"]
    by_name = {r[0]: r[-1] for r in rows[2:]}
    assert by_name == {"Doe, Jane": "9", "Lovelace, Ada": "5", "Turing, Alan": "3.00", "Hopper, Grace": "1.5"}
    assert filled.unmatched_submissions == ["someone_else"]
    assert filled.without_submission == ["Turing, Alan"]  # keeps what the export had
    text = filled.summary()
    assert "someone_else" in text and "out of" not in text  # 16 possible, 16 graded


def test_the_column_must_be_named_when_there_are_several(export, tmp_path):
    with pytest.raises(canvas.CanvasError, match=r"2 assignment columns .*--canvas-assignment"):
        canvas.fill(export, {}, 4, tmp_path / "x.csv")
    with pytest.raises(canvas.CanvasError, match="matches 2"):
        canvas.fill(export, {}, 4, tmp_path / "x.csv", assignment="exercises")


def test_a_points_possible_mismatch_is_said(export, tmp_path):
    filled = canvas.fill(export, {"S002": {"04.1": 2}}, 10, tmp_path / "x.csv", assignment="Chapter 4")
    assert "Canvas says the assignment is out of" not in filled.summary()
    filled = canvas.fill(export, {"S002": {"03.1": 2}}, 8, tmp_path / "x.csv", assignment="Chapter 3")
    assert "Canvas says the assignment is out of 16 points, the exercises are out of 8" in filled.summary()


def test_not_an_export_is_said(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("name,points\nada,3\n")
    with pytest.raises(canvas.CanvasError, match="not a Canvas gradebook export"):
        canvas.fill(path, {}, 1, tmp_path / "x.csv")
    with pytest.raises(canvas.CanvasError, match="no such file"):
        canvas.fill(tmp_path / "missing.csv", {}, 1, tmp_path / "x.csv")
