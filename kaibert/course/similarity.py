"""Which students' answers are unusually alike: a prompt for the instructor to look, never a verdict.

    kaibert-grade-class submissions/ --out gradebook.csv --similarity   # writes gradebook_similarity.csv
    python -m kaibert.course.similarity submissions/ --out similarity.csv

Every answer cell is read (never run) and reduced to its syntax tree with what a copier changes
cheaply taken out: names the cell defines become ``v1, v2, ...`` in order of first use, strings and
docstrings become one placeholder, comments and formatting vanish with the parse. Names the cell
only uses (``torch``, ``math``, a function of an earlier cell) and attributes (``.transpose``) stay,
since they are what the answer does. Two students' answers to an exercise *coincide* when those
token sequences are at least ``THRESHOLD`` alike.

Short exercises have one natural answer that many honest students write the same way, so a
coincidence counts only where the answer is long enough to differ (``MIN_TOKENS``) and the pair's
shared form is rare in the class (no more than ``max(3, 10%)`` of the students wrote it). The
stub, an untouched debug exercise and the given code of a debug exercise are left out: only what a
student changed there is compared. A pair is reported when it coincides in at least
``MIN_EXERCISES`` exercises of the whole assignment.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import difflib
import sys
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from kaibert.course import notebooks as nbs
from kaibert.course.gradebook import write_atomic

THRESHOLD = 0.9  # difflib ratio of the normalised token sequences
MIN_TOKENS = 40  # shorter answers coincide by chance
MIN_EXERCISES = 2  # coinciding exercises that make a pair worth a look
COMMON_SHARE = 0.10  # a form written by more than this share of the class is the natural answer
COLUMNS = ["student_a", "student_b", "exercises", "coinciding", "compared", "mean_similarity"]
STRING = "<str>"


# --- normalising one answer ----------------------------------------------------------------------


class _Normaliser(ast.NodeTransformer):
    """Rename what the cell binds, blank strings and drop docstrings."""

    def __init__(self, bound: set[str]):
        self.bound = bound
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.names.setdefault(name, f"v{len(self.names) + 1}")

    def visit_Name(self, node):
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def _body(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    def visit_FunctionDef(self, node):
        node.name = self._name(node.name)
        node.returns = None
        self._body(node)
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.name = self._name(node.name)
        self._body(node)
        self.generic_visit(node)
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, (str, bytes)):
            return ast.Constant(STRING)
        return node

    def visit_JoinedStr(self, node):
        return ast.Constant(STRING)

    def visit_alias(self, node):
        if node.asname:
            node.asname = self._name(node.asname)
        return node

    def visit_keyword(self, node):
        self.generic_visit(node)  # keyword names are the callee's API: kept
        return node


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the cell itself binds: definitions, parameters, assignment and loop targets, aliases."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.alias) and node.asname:
            bound.add(node.asname)
    return bound - set(dir(builtins))


def _source(text: str) -> str:
    """Cell text as Python: IPython magics and shell lines dropped."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def tokens(source: str) -> list[str] | None:
    """The normalised token sequence of an answer cell; None when it does not parse."""
    try:
        tree = ast.parse(_source(source))
    except (SyntaxError, ValueError):
        return None
    tree = _Normaliser(_bound_names(tree)).visit(tree)
    out: list[str] = []
    for node in ast.walk(tree):
        out.append(type(node).__name__)
        for field in ("id", "arg", "attr", "name", "asname", "module"):
            value = getattr(node, field, None)
            if isinstance(value, str):
                out.append(value)
        if isinstance(node, ast.Constant):
            out.append(repr(node.value))
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.AugAssign)):
            out.append(type(node.op).__name__)
        if isinstance(node, ast.Compare):
            out += [type(op).__name__ for op in node.ops]
    return out


def changed_tokens(answer: list[str], given: list[str]) -> list[str]:
    """The tokens of ``answer`` that are not in ``given`` (what a student added to the given code)."""
    matcher = difflib.SequenceMatcher(None, given, answer, autojunk=False)
    out: list[str] = []
    for op, _, _, j1, j2 in matcher.get_opcodes():
        if op in ("replace", "insert"):
            out += answer[j1:j2]
    return out


def similarity(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


# --- a class -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    student_a: str
    student_b: str
    exercises: tuple[str, ...]
    compared: int
    mean_similarity: float

    def csv(self) -> list:
        return [self.student_a, self.student_b, " ".join(self.exercises), len(self.exercises), self.compared,
                f"{self.mean_similarity:.2f}"]


def given_code(exercise_nb) -> dict[str, str]:
    """Per exercise, what the exercise notebook already holds in its answer cells (stubs, debug code)."""
    given: dict[str, list[str]] = {}
    for cell in exercise_nb.cells:
        if nbs.is_answer(cell):
            given.setdefault(nbs.exercise_of(cell), []).append(cell.source)
    return {ex: "\n".join(parts) for ex, parts in given.items()}


def answers_of(nb) -> dict[str, str]:
    """Per exercise, the student's answer cells joined (matched by their metadata or cell id)."""
    found: dict[str, list[str]] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        ex = nbs.exercise_of(cell) if nbs.is_answer(cell) else None
        if ex is None:
            m = nbs.CELL_ID.match(str(cell.get("id", "")))
            if m and m.group(3) == nbs.ANSWER:
                ex = f"{m.group(1)}.{int(m.group(2))}"
        if ex:
            found.setdefault(ex, []).append(cell.source)
    return {ex: "\n".join(parts) for ex, parts in found.items()}


def answer_tokens(students: dict[str, dict[str, str]], given: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """Exercise -> student -> the tokens worth comparing (stubs, given code and short answers left out)."""
    out: dict[str, dict[str, list[str]]] = {}
    for student, answers in students.items():
        for ex, source in answers.items():
            mine = tokens(source)
            if not mine:
                continue
            start = tokens(given[ex]) if ex in given else None
            if start is not None:
                if mine == start:
                    continue  # the stub, or the debug code untouched
                mine = changed_tokens(mine, start)
            if len(mine) >= MIN_TOKENS:
                out.setdefault(ex, {})[student] = mine
    return out


def pairs(students: dict[str, dict[str, str]], given: dict[str, str], min_exercises: int = MIN_EXERCISES,
          threshold: float = THRESHOLD) -> list[Pair]:
    """Pairs of students whose answers coincide in at least ``min_exercises`` exercises, most first."""
    by_exercise = answer_tokens(students, given)
    common_limit = max(3, int(COMMON_SHARE * len(students)))
    coincide: dict[tuple[str, str], list[tuple[str, float]]] = {}
    compared: dict[tuple[str, str], int] = {}
    for ex, answers in by_exercise.items():
        names = sorted(answers)
        alike: dict[tuple[str, str], float] = {}
        for a, b in combinations(names, 2):
            compared[(a, b)] = compared.get((a, b), 0) + 1
            score = similarity(answers[a], answers[b])
            if score >= threshold:
                alike[(a, b)] = score
        for (a, b), score in alike.items():
            # how many students wrote this form: a, b and everyone alike to either
            group = {a, b} | {x for pair in alike if a in pair or b in pair for x in pair}
            if len(group) <= common_limit:
                coincide.setdefault((a, b), []).append((ex, score))
    found = []
    for (a, b), hits in coincide.items():
        if len(hits) >= min_exercises:
            exercises = tuple(sorted((ex for ex, _ in hits), key=nbs.natural_key))
            found.append(Pair(a, b, exercises, compared[(a, b)], sum(s for _, s in hits) / len(hits)))
    return sorted(found, key=lambda p: (-len(p.exercises), -p.mean_similarity, p.student_a, p.student_b))


def write_csv(found: list[Pair], path: Path) -> None:
    write_atomic(path, [COLUMNS, *(pair.csv() for pair in found)])


def report(notebooks: dict[str, list[Path]], exercise_notebooks: list[Path], out: Path,
           min_exercises: int = MIN_EXERCISES) -> list[Pair]:
    """Read every student's notebooks, compare, write ``out``; unreadable notebooks are skipped."""
    given: dict[str, str] = {}
    for path in exercise_notebooks:
        given.update(given_code(nbs.read(path)))
    students: dict[str, dict[str, str]] = {}
    for student, paths in notebooks.items():
        answers: dict[str, str] = {}
        for path in paths:
            try:
                answers.update(answers_of(nbs.read(path)))
            except nbs.NotebookError:
                continue
        students[student] = answers
    found = pairs(students, given, min_exercises)
    write_csv(found, out)
    return found


def main(argv: list[str] | None = None) -> int:
    from kaibert.course import gradebook

    parser = argparse.ArgumentParser(prog="python -m kaibert.course.similarity", description=__doc__.split("\n")[0])
    parser.add_argument("submissions", type=Path, help="folder with one entry per student")
    parser.add_argument("--out", type=Path, default=Path("similarity.csv"))
    parser.add_argument("--exercises", type=Path, default=None,
                        help="folder of the exercise notebooks handed out (default: the course's exercises/)")
    parser.add_argument("--min-exercises", type=int, default=MIN_EXERCISES,
                        help=f"coinciding exercises that make a pair worth a look (default {MIN_EXERCISES})")
    parser.add_argument("--root", type=Path, default=None,
                        help="the course repository (default: the clone at or above this folder, else the one "
                             "kaibert is installed from)")
    args = parser.parse_args(argv)
    from kaibert.course.paths import CourseRootError, course_root

    try:
        folder = args.exercises or course_root(args.root) / "exercises"
        entries = gradebook.students(args.submissions)
    except (CourseRootError, gradebook.GradebookError) as err:
        parser.exit(2, f"{parser.prog}: {err}\n")
    notebooks = {name: [f.path for f in gradebook.survey(entry) if not f.problem] for name, entry in entries.items()}
    found = report(notebooks, list(nbs.iter_notebooks(folder)), args.out, args.min_exercises)
    print(f"wrote {args.out}: {len(found)} pairs of {len(entries)} students to look at (a prompt, not a verdict)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
