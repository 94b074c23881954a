"""Sphinx additions for the KAI-BERT book.

- The notebooks' "Open in Colab" badge is an image on colab.research.google.com. On GitHub and
  in Colab that is what it should be; on the book site it would be the one thing a page fetches
  from elsewhere, so the site shows a copy drawn for the book instead (same link, local image).
- ``{kaibert-exercises} 03`` renders chapter 03's exercises and points, read from
  ``solutions/03_*.ipynb`` at build time, so the instructors' guide never falls out of date.
- The bibliography style ``authoryear`` labels entries the way the text cites them
  ("Devlin et al., 2019") and sorts them by author, instead of pybtex's "[DCLT19]".
- Attention views (``kaibert.course.viz``) carry their own copy of d3 and jQuery, which a notebook
  in Colab needs; on the site each page drops those copies and loads ``_static/kaibert-viz.js``
  once instead, so a page with three views does not weigh three copies.
- Executed notebooks leave no trace of the machine that built them: absolute paths of this
  machine (its virtual environment, the course folder, the home folder) are replaced in every
  output, on the pages and in the downloadable notebooks, whose consecutive stream outputs are
  merged (``kaibert.course.site``).
- Every figure a notebook draws needs alt text (cell metadata ``mystnb: image: alt:``); a figure
  without it is a warning, which fails ``make book``.
- At the end it lists every page's size, and warns (failing ``make book``) about any page of
  1 MB or more.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from kaibert.course import site, viz

logger = logging.getLogger(__name__)
VIZ_SCRIPT = "kaibert-viz.js"
_LIBRARIES = re.compile(re.escape(viz.LIBRARIES_TAG) + r".*?</script>\n?", re.S)

REMOTE_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "/book/_static/colab-badge.svg"  # "/" = relative to the book's root folder


def use_local_badge(app, doctree) -> None:
    for image in doctree.findall(nodes.image):
        if image.get("uri") == REMOTE_BADGE:
            image["uri"] = LOCAL_BADGE
            image["candidates"] = {"*": LOCAL_BADGE.lstrip("/")}


def is_notebook(env, docname: str) -> bool:
    return str(env.doc2path(docname)).endswith(".ipynb")


def clean_doctree(app, doctree) -> None:
    """On a notebook's page: scrub machine paths from outputs, drop inlined viz libraries, demand alt text."""
    env = app.env
    if not is_notebook(env, env.docname):
        return
    paths = site.machine_paths(app.srcdir)
    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        stripped, n = _LIBRARIES.subn("", text)
        if n:  # a view cached before the data was compacted is compacted here
            stripped = viz.compact(stripped)
        if n:
            env.kaibert_viz_pages = getattr(env, "kaibert_viz_pages", set()) | {env.docname}
        cleaned = site.scrub(stripped, paths)
        if cleaned != text:
            node.children = [nodes.Text(cleaned)]
            node.rawsource = cleaned
    for node in list(doctree.findall(nodes.literal_block)):
        text = node.astext()
        cleaned = site.scrub(text, paths)
        if cleaned != text:
            node.children = [nodes.Text(cleaned)]
            node.rawsource = cleaned
    for image in doctree.findall(nodes.image):
        uri = image.get("uri", "")
        if image.get("uri") == LOCAL_BADGE or uri.startswith(("http:", "https:")):
            continue
        if not str(image.get("alt", "")).strip():
            logger.warning(
                f"a figure without alt text ({Path(uri).name}); give its cell the metadata "
                '{"mystnb": {"image": {"alt": "what the figure shows"}}}',
                location=(env.docname, image.line),
            )


def purge_viz_page(app, env, docname) -> None:
    getattr(env, "kaibert_viz_pages", set()).discard(docname)


def merge_viz_pages(app, env, docnames, other) -> None:
    env.kaibert_viz_pages = getattr(env, "kaibert_viz_pages", set()) | getattr(other, "kaibert_viz_pages", set())


def write_viz_script(app) -> None:
    """Write the attention views' libraries into the site's _static folder (from the vendored copies)."""
    if app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / VIZ_SCRIPT
    target.parent.mkdir(parents=True, exist_ok=True)
    text = viz.library_script()
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def add_viz_script(app, pagename, templatename, context, doctree) -> None:
    if pagename in getattr(app.env, "kaibert_viz_pages", set()):
        app.add_js_file(VIZ_SCRIPT)  # called here, it goes on this page only


def finish(app, exception) -> None:
    """Clean the downloadable notebooks, then list the pages' sizes (and warn about heavy ones)."""
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    html = Path(app.outdir)
    paths = site.machine_paths(app.srcdir)
    for folder in (html / "_sources", html.parent / "jupyter_execute"):
        for path in folder.rglob("*.ipynb") if folder.is_dir() else []:
            text = path.read_text(encoding="utf-8")
            try:
                nb = nbformat.reads(text, as_version=4)
            except Exception:  # not a notebook after all; leave it
                continue
            cleaned = nbformat.writes(site.clean_notebook(nb, paths)) + "\n"
            if cleaned != text:
                path.write_text(cleaned, encoding="utf-8")
    sizes = site.page_sizes(html)
    logger.info("book: page sizes (HTML, largest first; the limit is %d kB)" % (site.PAGE_LIMIT // 1000))
    for page, size in sizes:
        logger.info(f"book:   {size / 1000:8.1f} kB  {page}")
    for page, size in sizes:
        if size >= site.PAGE_LIMIT:
            logger.warning(f"{page} weighs {size / 1e6:.2f} MB, over the {site.PAGE_LIMIT / 1e6:.0f} MB a page may weigh")


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
    app.connect("doctree-read", clean_doctree)
    app.connect("env-purge-doc", purge_viz_page)
    app.connect("env-merge-info", merge_viz_pages)
    app.connect("builder-inited", write_viz_script)
    app.connect("html-page-context", add_viz_script)
    app.connect("build-finished", finish)
    app.add_directive("kaibert-exercises", ExercisesTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
