"""Sphinx additions for the KAI-BERT book.

- The notebooks' "Open in Colab" badge is an image on colab.research.google.com. On GitHub and
  in Colab that is what it should be; on the book site it would be the one thing a page fetches
  from elsewhere, so the site shows a copy drawn for the book instead (same link, local image).
- ``{kaibert-exercises} 03`` renders chapter 03's exercises and points, read from
  ``solutions/03_*.ipynb`` at build time, so the instructors' guide never falls out of date.
- The bibliography style ``authoryear`` labels entries the way the text cites them
  ("Devlin et al., 2019") and sorts them by author, instead of pybtex's "[DCLT19]".
"""

from __future__ import annotations

from pathlib import Path

import re

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.util.docutils import SphinxDirective

REMOTE_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "/book/_static/colab-badge.svg"  # "/" = relative to the book's root folder


def use_local_badge(app, doctree) -> None:
    for image in doctree.findall(nodes.image):
        if image.get("uri") == REMOTE_BADGE:
            image["uri"] = LOCAL_BADGE
            image["candidates"] = {"*": LOCAL_BADGE.lstrip("/")}


class ExercisesTable(SphinxDirective):
    """A table of one chapter's exercises (id, task, kind, difficulty, minutes, points), or with
    the argument ``all``, the whole course's exercises counted by kind."""

    required_arguments = 1

    def run(self):
        from kaibert.course.book import course_exercises_markdown, exercises_markdown

        chapter = self.arguments[0].strip()
        root = Path(self.env.srcdir)
        pattern = "[0-9][0-9]_*.ipynb" if chapter == "all" else f"{chapter}_*.ipynb"
        for solution in sorted((root / "solutions").glob(pattern)):
            self.env.note_dependency(str(solution))  # re-read this page when the solution changes
        text = course_exercises_markdown(root) if chapter == "all" else exercises_markdown(root, chapter)
        return self.parse_text_to_nodes(text)


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            people = entry.persons.get("author", [])
            names = [re.sub(r"[{}\\]", "", " ".join(p.last_names)) for p in people]
            year = entry.fields.get("year", "")
            if len(names) == 1:
                yield f"{names[0]}, {year}"
            elif len(names) == 2:
                yield f"{names[0]} and {names[1]}, {year}"
            else:
                yield f"{names[0]} et al., {year}"


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    # Runs before Sphinx collects a page's images (priority 500), so the copy is shipped.
    app.connect("doctree-read", use_local_badge, priority=100)
    app.add_directive("kaibert-exercises", ExercisesTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
