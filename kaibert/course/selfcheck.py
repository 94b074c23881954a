"""The *Self-check* at the end of each chapter: a few questions answered in the page.

One source per chapter, ``kaibert/course/selfchecks/NN.yaml``, feeds both places a reader meets
it: the chapter's last cell calls ``show("NN")``, which draws the questions as HTML with a small
script of the course's own (``assets/selfcheck.js``). The same cell output works in Jupyter, in
Colab and on the book's pages, with no kernel behind it and no network.

    from kaibert.course import selfcheck
    selfcheck.show("03")

A question is either multiple choice or a number::

    questions:
      - ask: Which axis does the softmax normalise?
        choices:
          - answer: the keys (each row sums to 1)
            correct: true
            why: Each query spreads one unit of attention over the keys.
          - answer: the queries
            why: A column sums to whatever the queries give it, not to 1.
      - ask: How many weights are in BERT-base's W^Q?
        number: 589824
        why: 768 x 768 weights (its 768 biases are a separate vector).
        hint: W^Q maps a 768-wide hidden state to a 768-wide query.
        mistakes:                      # optional: common wrong numbers and what went wrong
          - number: 590592
            why: That counts the bias as well.
        compute: |                     # run by the test suite: the number must match kaibert
          from kaibert import BertConfig
          c = BertConfig()
          answer = c.hidden_size * c.hidden_size

Every number question carries ``compute``, Python that sets ``answer`` from the course's own
code; ``tests/test_site_selfcheck.py`` runs it, so a quiz cannot state a wrong number.
A multiple-choice question may carry one too: its ``answer`` must then be the correct choice's text.

    python -m kaibert.course.selfcheck add chapters/11_modernbert.ipynb   # append the two cells
    python -m kaibert.course.selfcheck check                              # every chapter has both
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from IPython.display import HTML

HEADING = "## Self-check"
HEADING_ID = "self-check-heading"
CELL_ID = "self-check"
CHAPTER = re.compile(r"^\d{2}$")


class SelfCheckError(ValueError):
    """A self-check source file is missing or malformed; the message says what to fix."""


@dataclass
class Choice:
    answer: str
    why: str
    correct: bool = False


@dataclass
class Mistake:
    number: float
    why: str


@dataclass
class Question:
    ask: str
    why: str = ""
    choices: list[Choice] = field(default_factory=list)
    number: float | None = None
    tolerance: float = 0.0
    hint: str = ""
    mistakes: list[Mistake] = field(default_factory=list)
    compute: str = ""

    @property
    def kind(self) -> str:
        return "number" if self.number is not None else "choice"


def source_path(chapter: str) -> Path:
    """Where chapter ``NN``'s questions live (inside the package, so Colab has them too)."""
    if not isinstance(chapter, str) or not CHAPTER.match(chapter):
        raise SelfCheckError(f"chapter must be two digits as a string, e.g. '03'; got {chapter!r}.")
    return Path(str(resources.files("kaibert.course").joinpath("selfchecks", f"{chapter}.yaml")))


def chapters() -> list[str]:
    """The chapters that have a self-check source, in order."""
    folder = Path(str(resources.files("kaibert.course").joinpath("selfchecks")))
    return sorted(p.stem for p in folder.glob("[0-9][0-9].yaml"))


def _text(value, where: str, name: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise SelfCheckError(f"{where}: '{name}' must be non-empty text.")
    return value.strip()


def _number(value, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SelfCheckError(f"{where}: '{name}' must be a number (write 0.125, not '1/8'); got {value!r}.")
    return float(value)


def parse(data, origin: str = "self-check") -> list[Question]:
    """Check a loaded YAML document and return its questions; errors name the question and the fix."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise SelfCheckError(f"{origin}: expected a mapping with a 'questions' list.")
    raw = data["questions"]
    if not 3 <= len(raw) <= 5:
        raise SelfCheckError(f"{origin}: a self-check has 3 to 5 questions; this one has {len(raw)}.")
    known = {"ask", "why", "choices", "number", "tolerance", "hint", "mistakes", "compute"}
    questions = []
    for i, q in enumerate(raw, 1):
        where = f"{origin}, question {i}"
        if not isinstance(q, dict):
            raise SelfCheckError(f"{where}: expected a mapping with 'ask' and 'choices' or 'number'.")
        unknown = set(q) - known
        if unknown:
            raise SelfCheckError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(known)}.")
        ask = _text(q.get("ask"), where, "ask")
        if ("choices" in q) == ("number" in q):
            raise SelfCheckError(f"{where}: give either 'choices' (multiple choice) or 'number', not both or neither.")
        compute = _text(q.get("compute"), where, "compute", required=False)
        if "choices" in q:
            if not isinstance(q["choices"], list) or not 2 <= len(q["choices"]) <= 6:
                raise SelfCheckError(f"{where}: 'choices' must list 2 to 6 answers.")
            choices = []
            for j, c in enumerate(q["choices"], 1):
                if not isinstance(c, dict) or set(c) - {"answer", "why", "correct"}:
                    raise SelfCheckError(f"{where}, choice {j}: expected 'answer', 'why' and optionally 'correct: true'.")
                if not isinstance(c.get("correct", False), bool):
                    raise SelfCheckError(f"{where}, choice {j}: 'correct' must be true or false.")
                choices.append(Choice(_text(c.get("answer"), f"{where}, choice {j}", "answer"),
                                      _text(c.get("why"), f"{where}, choice {j}", "why"),
                                      c.get("correct", False)))
            if sum(c.correct for c in choices) != 1:
                raise SelfCheckError(f"{where}: exactly one choice must have 'correct: true'.")
            if len({c.answer for c in choices}) != len(choices):
                raise SelfCheckError(f"{where}: two choices have the same text.")
            for name in ("tolerance", "hint", "mistakes"):
                if name in q:
                    raise SelfCheckError(f"{where}: '{name}' belongs to number questions only.")
            questions.append(Question(ask=ask, why=_text(q.get("why"), where, "why", required=False),
                                      choices=choices, compute=compute))
        else:
            number = _number(q["number"], where, "number")
            tolerance = _number(q.get("tolerance", 0), where, "tolerance")
            if tolerance < 0:
                raise SelfCheckError(f"{where}: 'tolerance' must be 0 or more.")
            if not compute:
                raise SelfCheckError(
                    f"{where}: a number question needs 'compute', Python that sets `answer` from the "
                    "course's code, so the test suite can prove the number right."
                )
            mistakes = []
            for j, m in enumerate(q.get("mistakes") or [], 1):
                if not isinstance(m, dict) or set(m) != {"number", "why"}:
                    raise SelfCheckError(f"{where}, mistake {j}: expected 'number' and 'why'.")
                wrong = _number(m["number"], f"{where}, mistake {j}", "number")
                if abs(wrong - number) <= tolerance:
                    raise SelfCheckError(f"{where}, mistake {j}: {wrong:g} would count as right (tolerance {tolerance:g}).")
                mistakes.append(Mistake(wrong, _text(m["why"], f"{where}, mistake {j}", "why")))
            questions.append(Question(ask=ask, why=_text(q.get("why"), where, "why"), number=number,
                                      tolerance=tolerance, hint=_text(q.get("hint"), where, "hint"),
                                      mistakes=mistakes, compute=compute))
    return questions


def load(chapter: str) -> list[Question]:
    """Chapter ``NN``'s questions, checked."""
    import yaml

    path = source_path(chapter)
    if not path.is_file():
        raise SelfCheckError(
            f"Chapter {chapter} has no self-check: write kaibert/course/selfchecks/{chapter}.yaml "
            "(3 to 5 questions; see the docstring of kaibert.course.selfcheck)."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SelfCheckError(f"{path.name}: not valid YAML: {err}") from err
    return parse(data, path.name)


def _inline(text: str) -> str:
    """Escape text for HTML, then render `code`, **bold** and *emphasis* (all the markup allowed)."""
    out = []
    for k, part in enumerate(re.split(r"(`[^`]+`)", text)):
        if k % 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            part = html.escape(part)
            part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
            part = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", part)
            out.append(part)
    return "".join(out)


def _number_text(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("kaibert.course").joinpath("assets", name).read_text(encoding="utf-8")


def _attr(value) -> str:
    return html.escape(value if isinstance(value, str) else json.dumps(value), quote=True)


def render(chapter: str, questions: list[Question] | None = None) -> str:
    """The self-check as one self-contained block of HTML (markup, style and script)."""
    questions = load(chapter) if questions is None else questions
    items = []
    for i, q in enumerate(questions, 1):
        qid = f"ks-{chapter}-{i}"
        if q.kind == "choice":
            buttons = "".join(
                f'<button type="button" class="ks-choice" data-correct="{int(c.correct)}" '
                f'data-why="{_attr(_inline(c.why))}">{_inline(c.answer)}</button>'
                for c in q.choices
            )
            body = f'<div class="ks-choices" role="group" aria-labelledby="{qid}">{buttons}</div>'
        else:
            mistakes = [[m.number, _inline(m.why)] for m in q.mistakes]
            body = (
                f'<div class="ks-number" data-answer="{_attr(q.number)}" data-tolerance="{_attr(q.tolerance)}" '
                f'data-shown="{_attr(_number_text(q.number))}" data-why="{_attr(_inline(q.why))}" '
                f'data-hint="{_attr(_inline(q.hint))}" data-mistakes="{_attr(mistakes)}">'
                f'<input type="text" inputmode="decimal" class="ks-input" aria-labelledby="{qid}" autocomplete="off">'
                '<button type="button" class="ks-check">Check</button>'
                '<button type="button" class="ks-reveal" hidden>Show the answer</button></div>'
            )
        items.append(
            f'<li class="ks-question" data-kind="{q.kind}"><p class="ks-ask" id="{qid}">{_inline(q.ask)}</p>'
            f'{body}<p class="ks-feedback" role="status" aria-live="polite"></p></li>'
        )
    return (
        f'<div class="kaibert-selfcheck" data-chapter="{chapter}">\n<style>{_asset("selfcheck.css")}</style>\n'
        '<p class="ks-intro">Answer in the page: nothing is sent anywhere, and every answer says why.</p>\n'
        f'<ol class="ks-questions">{"".join(items)}</ol>\n'
        f'<script type="text/javascript">\n{_asset("selfcheck.js")}\n</script>\n</div>\n'
    )


class SelfCheck(HTML):
    """A chapter's self-check; displays itself in Jupyter, Colab and on the book's pages."""

    def __init__(self, chapter: str):
        self.chapter = chapter
        super().__init__(render(chapter))

    def save(self, path: str | Path) -> Path:
        """Write the self-check as a standalone HTML page (works in a browser with no network)."""
        path = Path(path)
        path.write_text(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>Self-check, chapter {self.chapter}</title><link rel="icon" href="data:,"></head>\n'
            f"<body>\n{self.data}</body></html>\n",
            encoding="utf-8",
        )
        return path


def show(chapter: str) -> SelfCheck:
    """Chapter ``NN``'s self-check, to display as a cell's output: ``selfcheck.show("03")``."""
    return SelfCheck(chapter)


# --- the two cells at the end of a chapter ---------------------------------------------------


def chapter_of(notebook: Path) -> str:
    m = re.match(r"(\d{2})_", Path(notebook).name)
    if not m:
        raise SelfCheckError(f"{notebook}: a chapter notebook's name starts with its number, e.g. 03_attention.ipynb.")
    return m.group(1)


def cells(chapter: str):
    """The markdown heading and the code cell that end every chapter."""
    import nbformat

    heading = nbformat.v4.new_markdown_cell(
        f"{HEADING}\n\nA few questions on this chapter, answered right here: pick an answer or type a "
        "number, and the page says whether it is right and why."
    )
    heading.id = HEADING_ID
    code = nbformat.v4.new_code_cell(f'from kaibert.course import selfcheck\n\nselfcheck.show("{chapter}")')
    code.id = CELL_ID
    code.metadata = {"tags": ["remove-input"]}  # the site shows the questions, not the call
    return heading, code


def problems(notebook: Path) -> list[str]:
    """What is wrong with a chapter's self-check cells (empty when nothing)."""
    import nbformat

    chapter = chapter_of(notebook)
    nb = nbformat.read(notebook, as_version=4)
    found = []
    if not source_path(chapter).is_file():
        found.append(f"no kaibert/course/selfchecks/{chapter}.yaml")
    heading, code = cells(chapter)
    last = nb.cells[-2:] if len(nb.cells) >= 2 else []
    if [c.get("id") for c in last] != [HEADING_ID, CELL_ID]:
        found.append(f"the last two cells are not '{HEADING_ID}' and '{CELL_ID}' (run: python -m kaibert.course.selfcheck add {notebook})")
    else:
        if not last[0].source.startswith(HEADING + "\n"):
            found.append(f"cell '{HEADING_ID}' does not start with '{HEADING}'")
        if f'selfcheck.show("{chapter}")' not in last[1].source:
            found.append(f"cell '{CELL_ID}' does not call selfcheck.show(\"{chapter}\")")
    return found


def add(notebook: Path) -> bool:
    """Append the self-check cells to a chapter notebook unless it has them; True if it changed."""
    import nbformat

    chapter = chapter_of(notebook)
    nb = nbformat.read(notebook, as_version=4)
    if any(c.get("id") in (HEADING_ID, CELL_ID) for c in nb.cells):
        return False
    nb.cells.extend(cells(chapter))
    nbformat.write(nb, notebook)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kaibert.course.selfcheck", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="append the Self-check heading and cell to chapter notebooks")
    a.add_argument("notebooks", nargs="+", type=Path)
    c = sub.add_parser("check", help="every chapter ends with its self-check, and every source file loads")
    c.add_argument("--root", type=Path, default=Path("."))
    s = sub.add_parser("save", help="write one chapter's self-check as a standalone HTML page")
    s.add_argument("chapter")
    s.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            for nb in args.notebooks:
                print(f"{nb}: {'self-check appended' if add(nb) else 'already has its self-check'}")
            return 0
        if args.command == "save":
            print(show(args.chapter).save(args.path))
            return 0
        bad = []
        for nb in sorted((args.root / "chapters").glob("[0-9][0-9]_*.ipynb")):
            bad += [f"{nb}: {p}" for p in problems(nb)]
            if source_path(chapter_of(nb)).is_file():
                load(chapter_of(nb))
        for line in bad:
            print(line, file=sys.stderr)
        return 1 if bad else 0
    except SelfCheckError as err:
        print(f"selfcheck: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
