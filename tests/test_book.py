"""The book site: its configuration, its build command, and the built site itself.

The slow tests build the whole book once per test run (``built_site``), executing every
chapter through the same jupyter-cache that ``make book`` fills (``_build/.jupyter_cache``), so
after ``make book`` the build here takes seconds. tests/test_browser.py opens the same build.
"""

from __future__ import annotations

import fcntl
import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from kaibert.course import book

ROOT = Path(__file__).resolve().parents[1]
TOPICS = [
    "01_tokenization",
    "02_embeddings",
    "03_attention",
    "04_multi_head_attention",
    "05_encoder_layer",
    "06_bert_model",
    "07_masked_language_modelling",
    "08_optimisation",
    "09_training",
    "10_fine_tuning",
    "11_modernbert",
]


def config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


# --- configuration -------------------------------------------------------------------------


def test_toc_lists_every_chapter_and_exercise_in_order_and_no_solution():
    files = book.toc_files(ROOT)
    chapters = [f for f in files if f.startswith("chapters/")]
    assert chapters == [f"chapters/{t}" for t in TOPICS]
    for topic in TOPICS:  # each exercise notebook right after its chapter
        assert files[files.index(f"chapters/{topic}") + 1] == f"exercises/{topic}"
    assert not [f for f in files if f.startswith("solutions/")]
    for page in ("book/intro", "book/running", "book/grading", "book/instructors", "book/glossary", "book/references"):
        assert page in files


def test_config_executes_chapters_only_and_never_publishes_solutions():
    cfg = config()
    assert cfg["execute"]["execute_notebooks"] == "cache"
    assert set(cfg["execute"]["exclude_patterns"]) >= {"exercises/*", "solutions/*"}
    assert "solutions/**" in cfg["exclude_patterns"] and "solutions" in cfg["exclude_patterns"]
    # The environments inside the clone hold packages' own Markdown (templates Sphinx cannot read).
    for venv in (".venv", ".venv-oldest", ".venv-colab"):
        for path in (venv, f"{venv}/lib/python3.11/site-packages/huggingface_hub/templates/modelcard_template.md"):
            assert any(fnmatch.fnmatch(path, pattern) for pattern in cfg["exclude_patterns"]), path
    assert cfg["only_build_toc_files"] is True
    sphinx = cfg["sphinx"]["config"]
    assert sphinx["nb_execution_raise_on_error"] is True
    assert not sphinx["mathjax_path"].startswith(("http:", "https:", "//"))
    assert (ROOT / "book" / "_static" / sphinx["mathjax_path"]).is_file()
    assert cfg["repository"]["url"] == "https://github.com/kai-bert/kai-bert"
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    for bib in cfg["bibtex_bibfiles"]:
        assert (ROOT / bib).is_file()


def test_bibliography_has_the_papers_the_course_needs():
    from pybtex.database import parse_file  # what sphinxcontrib-bibtex parses it with

    text = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"@\w+\{([^,]+),", text)
    assert len(keys) == len(set(keys))
    assert len(parse_file(ROOT / "book" / "references.bib").entries) == len(keys)  # a lost brace fails here, not mid-build
    for key in (
        "devlin2019bert",
        "vaswani2017attention",
        "liu2019roberta",
        "geiping2023cramming",
        "izsak2021academic",
        "hendrycks2016gelu",
        "kingma2015adam",
        "loshchilov2019decoupled",
        "ba2016layernorm",
    ):
        assert key in keys


def test_missing_toc_files_are_named(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: chapters/01_a\n    sections:\n      - file: exercises/01_a\n"
    )
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "chapters").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "chapters" / "01_a.ipynb")
    assert book.toc_files(tmp_path) == ["intro", "chapters/01_a", "exercises/01_a"]
    assert book.missing_toc_files(tmp_path) == ["exercises/01_a"]
    with pytest.raises(book.BookError, match="exercises/01_a"):
        book.build(tmp_path)


def test_network_loads_finds_what_a_page_fetches(tmp_path):
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.example/x.js"></script><img src="//img.example/i.png">'
        '<link rel="stylesheet" href="https://fonts.example/f.css"><div style="background: url(https://bg.example/b.png)">'
        '<a href="https://colab.research.google.com/github/x">a link is not a load</a>'
        '<link rel="canonical" href="https://example.org/page.html"><script src="_static/local.js"></script>'
    )
    found = [url for _, url in book.network_loads(tmp_path)]
    assert found == ["https://cdn.example/x.js", "//img.example/i.png", "https://fonts.example/f.css", "https://bg.example/b.png"]


def test_build_log_reads_warnings_and_timings():
    log = book.BuildLog()
    for line in [
        "\x1b[01mreading sources... \x1b[39;49;00m[ 50%] \x1b[35mchapters/03_attention\x1b[39;49;00m",
        "/r/chapters/03_attention.ipynb: Executing notebook using local CWD [mystnb]",
        "/r/chapters/03_attention.ipynb: Executed notebook in 12.5 seconds [mystnb]",
        "reading sources... [ 60%] chapters/04_multi_head_attention",
        "/r/chapters/04_multi_head_attention.ipynb: Using cached notebook: ID=4 [mystnb]",
        "/r/chapters/03_attention.ipynb:5: WARNING: Non-consecutive header level increase; H1 to H3 [myst.header]",
        "/r/book/intro.md:3: WARNING: unknown document: 'nowhere' [ref.doc]",
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption.",
    ]:
        log.line(line)
    assert log.executed == {"chapters/03_attention": 12.5}
    assert log.cached == ["chapters/04_multi_head_attention"]
    assert len(log.warnings) == 2
    assert log.fatal() == ["/r/book/intro.md:3: WARNING: unknown document: 'nowhere' [ref.doc]"]


def test_instructors_table_reads_points_from_solutions(tmp_path):
    nb = nbformat.v4.new_notebook()
    task = nbformat.v4.new_markdown_cell("## Exercise 42.1: split the heads (2 points)\n\nDo it.")
    answer = nbformat.v4.new_code_cell("x = 1")
    answer.metadata = {"tags": ["solution"], "kaibert": {"exercise": "42.1", "role": "answer", "points": 2,
                                                         "kind": "debug", "difficulty": 2, "minutes": 15}}
    task2 = nbformat.v4.new_markdown_cell("## Exercise 42.2 · merge | them\n")
    answer2 = nbformat.v4.new_code_cell("y = 2")
    answer2.metadata = {"kaibert": {"exercise": "42.2", "role": "answer"}}
    nb.cells = [task, answer, task2, answer2]
    (tmp_path / "solutions").mkdir()
    nbformat.write(nb, tmp_path / "solutions" / "42_heads.ipynb")
    assert book.chapter_exercises(tmp_path, "42") == [
        {"exercise": "42.1", "title": "split the heads", "points": 2, "kind": "debug", "difficulty": 2, "minutes": 15},
        {"exercise": "42.2", "title": "merge | them", "points": 1, "kind": "", "difficulty": None, "minutes": None},
    ]
    table = book.exercises_markdown(tmp_path, "42")
    assert "| 42.1 | split the heads | debug | ★★ | 15 | 2 |" in table and "merge \\| them" in table
    assert "| | **total** | | | **15** | **3** |" in table
    by_kind = book.course_exercises_markdown(tmp_path)
    assert "| debug | find and fix one realistic bug | 1 | 2 | 15 |" in by_kind
    assert "| (no kind) |  | 1 | 1 | 0 |" in by_kind and "| **all** | | **2** | **3** | **15** |" in by_kind
    assert "once `solutions/43_*.ipynb` exists" in book.exercises_markdown(tmp_path, "43")


# --- building ------------------------------------------------------------------------------


def mini_book(tmp_path: Path, notebook: nbformat.NotebookNode | None = None, page: str | None = None) -> Path:
    """A copy of the course's configuration and book/ pages around a chapter or page of our own."""
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_build"))
    grading = tmp_path / "book" / "grading.md"
    if not grading.exists():
        grading.write_text("# How exercises are graded\n\nThe grading page of the course.\n")
    (tmp_path / "chapters").mkdir()
    chapters = []
    if notebook is not None:
        nbformat.write(notebook, tmp_path / "chapters" / "01_extra.ipynb")
        chapters.append("chapters/01_extra")
    if page is not None:
        (tmp_path / "book" / "extra.md").write_text(page)
        chapters.append("book/extra")
    toc = {
        "format": "jb-book",
        "root": "book/intro",
        "chapters": [{"file": f} for f in ["book/running", *chapters, "book/grading", "book/instructors",
                                              "book/glossary", "book/references"]],
    }
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    subprocess.run([sys.executable, "-m", "kaibert.course.stamp", "--root", str(tmp_path)], check=True)
    return tmp_path


def one_cell_notebook(title: str, code: str) -> nbformat.NotebookNode:
    """A chapter with a heading and one code cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), nbformat.v4.new_code_cell(code)]
    return nb


def run_book(root: Path, *args: str) -> subprocess.CompletedProcess:
    # The whole book from a fresh cache takes about 11 minutes on two busy cores (chapter 10 alone
    # about 6); the limit only stops a build that hangs.
    return subprocess.run(
        [sys.executable, "-m", "kaibert.course.book", "build", *args],
        cwd=root, capture_output=True, text=True, timeout=2400,
    )


@pytest.mark.slow
def test_a_failing_cell_fails_the_build(tmp_path):
    result = run_book(mini_book(tmp_path, notebook=one_cell_notebook("Broken", "1 / 0")))
    assert result.returncode == 1, result.stdout[-3000:]
    assert "ZeroDivisionError" in result.stdout + result.stderr
    assert "book: FAILED" in result.stderr


@pytest.mark.slow
def test_a_broken_reference_fails_the_build(tmp_path):
    result = run_book(mini_book(tmp_path, page="# Extra\n\nSee {doc}`no_such_page`.\n"))
    assert result.returncode == 1, result.stdout[-3000:]
    assert "warning(s) mean broken pages" in result.stderr and "no_such_page" in result.stderr


@pytest.mark.slow
def test_two_builds_on_one_cache_take_turns(tmp_path):
    (tmp_path / "course").mkdir()
    root = mini_book(tmp_path / "course", notebook=one_cell_notebook("Slow", "import time\ntime.sleep(5)\n6 * 7"))
    cache = tmp_path / "cache"
    runs = [subprocess.Popen([sys.executable, "-m", "kaibert.course.book", "build", "--output", str(tmp_path / f"site{i}"),
                              "--cache", str(cache)], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in (1, 2)]
    outputs = [run.communicate(timeout=900) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, (out + err)[-3000:]
    waited = ["waiting for it to finish" in err for _, err in outputs]
    assert sorted(waited) == [False, True], "the second build should have waited for the first"
    for i in (1, 2):
        assert "42" in (tmp_path / f"site{i}" / "html" / "chapters" / "01_extra.html").read_text()


def build_site(output: Path) -> tuple[Path, str]:
    """Build the course's book into ``output`` (reusing make book's executed notebooks)."""
    result = run_book(ROOT, "--output", str(output), "--cache", str(ROOT / "_build" / ".jupyter_cache"))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    return output / "html", log


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, worker_id) -> Path:
    """The whole book, built once per test run; every test and every xdist worker opens it.

    The first worker to get here builds it, holding a lock; the others wait and read what it
    left: the site, or the build's error (the book is not built twice when it fails).
    """
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # the folder all workers' temporary folders sit in
    out, result = shared / "book", shared / "book-result.txt"
    with open(shared / "book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            try:
                _, log = build_site(out)
                result.write_text("ok\n" + log[-1500:])  # the build's timing table
            except BaseException as err:
                result.write_text(f"failed\n{err}")
    status, _, text = result.read_text().partition("\n")
    if status != "ok":
        pytest.fail(f"The book build failed:\n{text}", pytrace=False)
    print(text)  # shown with -s or on failure
    return out / "html"


@pytest.mark.slow
def test_the_book_builds_with_every_chapter_executed(built_site):
    for doc in book.toc_files(ROOT):
        assert (built_site / f"{doc}.html").is_file(), doc
    for topic in TOPICS:
        page = (built_site / "chapters" / f"{topic}.html").read_text()
        assert "cell_output" in page, f"chapter {topic} shows no executed output"
        assert "google.colab" not in page  # the Colab install cell is hidden on the site
    assert book.network_loads(built_site) == []


@pytest.mark.slow
def test_solutions_are_not_published(built_site):
    for folder in ("solutions", "_sources/solutions"):
        assert not (built_site / folder).exists()
    assert not [p for p in built_site.rglob("*") if "solutions" in p.name]
    for topic in TOPICS:  # the exercise pages show the stubs, not the answers
        page = (built_site / "exercises" / f"{topic}.html").read_text()
        assert "NotImplementedError" in page, topic
