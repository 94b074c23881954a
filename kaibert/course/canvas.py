"""Fill the gradebook CSV that Canvas exports with each student's points, for Canvas to import.

    kaibert-grade-class submissions/ --out gradebook.csv --canvas canvas_export.csv
    # writes gradebook_canvas.csv: import it in Canvas (Grades > Import)

Canvas exports a gradebook (Grades > Export > Export Entire Gradebook) with the columns
``Student, ID, SIS User ID, SIS Login ID, Section`` and one column per assignment, named
``Assignment name (id)``, and a second row ``Points Possible``. The file written keeps the
student columns and the ``Points Possible`` row, and one assignment column: the one that
``--canvas-assignment`` names (part of its name is enough), or the only assignment column.

Rows match submissions by their names, in this order:

1. the Canvas user id inside a name from Canvas's *Download Submissions* zip, which names every
   file ``namesurname[_LATE]_USERID_SUBMISSIONID_filename`` (``doejane_4567_890123_03_attention.ipynb``);
2. a submission named exactly as the student's ``ID``, ``SIS User ID`` or ``SIS Login ID``;
3. a submission named as the student, letters only, in either order (``Jane Doe``, ``doe_jane``).

Several submissions of one student (one file per chapter in a flat download) add up, taking the
better of two notebooks for the same exercise. Students with no submission keep what the export
had; submissions that match no student are listed, never guessed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from kaibert.course.gradebook import write_atomic

STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
POINTS_POSSIBLE = "Points Possible"
CANVAS_DOWNLOAD = re.compile(r"^[a-z]*?(?:_late)?_(\d+)_(\d+)_", re.IGNORECASE)
ASSIGNMENT = re.compile(r"^.+\(\d+\)$")  # "Chapter 3 exercises (123456)"


class CanvasError(ValueError):
    """An export that cannot be filled; the message says what to do."""


@dataclass
class Filled:
    path: Path
    column: str
    matched: dict[str, str] = field(default_factory=dict)  # submission name -> Canvas student
    unmatched_submissions: list[str] = field(default_factory=list)
    without_submission: list[str] = field(default_factory=list)
    points_possible: str = ""
    max_points: float = 0.0

    def summary(self) -> str:
        lines = [f"wrote {self.path}: {len(set(self.matched.values()))} students' points in column {self.column!r}"]
        if self.unmatched_submissions:
            lines.append("submissions that match no Canvas student (not written): " + ", ".join(self.unmatched_submissions))
        if self.without_submission:
            lines.append(f"{len(self.without_submission)} Canvas students have no graded submission (left as exported): "
                         + ", ".join(self.without_submission[:10]) + (" ..." if len(self.without_submission) > 10 else ""))
        try:
            possible = float(self.points_possible)
        except ValueError:
            possible = None
        if possible is not None and possible != self.max_points:
            lines.append(f"note: Canvas says the assignment is out of {possible:g} points, the exercises are out of "
                         f"{self.max_points:g}; the points are written as graded. Change Points Possible in Canvas if "
                         "that is not what you mean")
        return "\n".join(lines)


def letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def read_export(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # Canvas writes a byte-order mark
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise CanvasError(f"{path}: no such file; export the gradebook from Canvas (Grades > Export)") from None
    if not rows or "Student" not in rows[0] or "ID" not in rows[0]:
        raise CanvasError(f"{path}: not a Canvas gradebook export (its first row needs the columns Student and ID)")
    return rows[0], rows[1:]


def assignment_column(header: list[str], wanted: str | None) -> str:
    """The assignment column to fill: the one ``wanted`` names (part of it will do), or the only one."""
    candidates = [h for h in header if h not in STUDENT_COLUMNS and ASSIGNMENT.match(h)]
    if wanted:
        exact = [h for h in header if h == wanted]
        found = exact or [h for h in candidates if wanted.lower() in h.lower()]
        if len(found) == 1:
            return found[0]
        what = "matches none" if not found else f"matches {len(found)}: {', '.join(found)}"
        raise CanvasError(f"--canvas-assignment {wanted!r} {what} of the assignment columns "
                          f"({', '.join(candidates) or 'none'}); give more of its name")
    if len(candidates) == 1:
        return candidates[0]
    raise CanvasError("the export has " + (f"{len(candidates)} assignment columns ({', '.join(candidates)})"
                                           if candidates else "no assignment column")
                      + "; name the one to fill with --canvas-assignment NAME (create the assignment in Canvas first)")


def is_student_row(row: dict[str, str]) -> bool:
    """Not the Points Possible row (nor an old export's Muted row): a row with a student id."""
    return bool(row.get("ID", "").strip()) and POINTS_POSSIBLE not in row.get("Student", "")


def match(submission: str, students: list[dict[str, str]]) -> dict[str, str] | None:
    """The Canvas row a submission name belongs to, or None."""
    m = CANVAS_DOWNLOAD.match(submission)
    if m:
        for row in students:
            if row["ID"].strip() == m.group(1):
                return row
    key = submission.strip().lower()
    for column in ("ID", "SIS User ID", "SIS Login ID"):
        hits = [row for row in students if row.get(column, "").strip() and row[column].strip().lower() == key]
        if len(hits) == 1:
            return hits[0]
    name = letters(submission)
    hits = []
    for row in students:
        parts = [p.strip() for p in row["Student"].split(",")]
        forms = {letters(row["Student"]), letters("".join(reversed(parts)))}
        if name and name in forms:
            hits.append(row)
    return hits[0] if len(hits) == 1 else None


def fill(export: Path, points: dict[str, dict[str, float]], max_points: float, out: Path,
         assignment: str | None = None) -> Filled:
    """Write ``out``: the export's student columns and one assignment column, filled from ``points``.

    ``points`` maps each submission name to its points per exercise.
    """
    header, body = read_export(export)
    column = assignment_column(header, assignment)
    keep = [h for h in header if h in STUDENT_COLUMNS] + [column]
    rows = [dict(zip(header, r + [""] * (len(header) - len(r)))) for r in body]
    students = [r for r in rows if is_student_row(r)]
    result = Filled(out, column, max_points=max_points)
    best: dict[str, dict[str, float]] = {}  # Canvas ID -> exercise -> points
    for submission in sorted(points):
        row = match(submission, students)
        if row is None:
            result.unmatched_submissions.append(submission)
            continue
        result.matched[submission] = row["Student"]
        mine = best.setdefault(row["ID"], {})
        for ex, p in points[submission].items():
            mine[ex] = max(p, mine.get(ex, 0.0))
    for row in rows:
        if not is_student_row(row):
            if POINTS_POSSIBLE in row.get("Student", ""):
                result.points_possible = row.get(column, "").strip()
            continue
        if row["ID"] in best:
            row[column] = f"{sum(best[row['ID']].values()):g}"
        else:
            result.without_submission.append(row["Student"])
    write_atomic(out, [keep, *([row.get(h, "") for h in keep] for row in rows)])
    return result


def points_from_rows(rows) -> tuple[dict[str, dict[str, float]], float]:
    """Gradebook rows (``kaibert.course.gradebook.Row``) -> submission -> exercise -> points, and the max."""
    from kaibert.course import notebooks as nbs

    points: dict[str, dict[str, float]] = {}
    maxima: dict[str, float] = {}
    for r in rows:
        if nbs.EXERCISE_ID.match(r.exercise):
            points.setdefault(r.student, {})[r.exercise] = r.points
            maxima[r.exercise] = max(r.max_points, maxima.get(r.exercise, 0.0))
    return points, sum(maxima.values())
