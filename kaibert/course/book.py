"""Build the course's book site: every chapter executed, cached, and checked.

    python -m kaibert.course.book build            # make book: the site in _build/html
    python -m kaibert.course.book build --all      # rebuild every page (executed cells stay cached)
    python -m kaibert.course.book build --output /tmp/site

Jupyter Book 1 does the work. Around it this command adds what a course needs:

- it stops before building when a file named in ``_toc.yml`` is missing, and names it;
- notebooks are executed through a jupyter-cache (``_build/.jupyter_cache`` by default), so a
  chapter runs again only when its code changed; a failing cell fails the build;
- one build at a time uses a cache: a second build started meanwhile waits for the first (two
  writers at once would corrupt the cache);
- every warning is shown, and the build fails on those that mean a broken page (a missing
  document, image, reference or citation, bad math...); only the cosmetic ones in
  ``HARMLESS`` are let through;
- the built pages must not load anything from the network (scripts, styles, images, fonts);
- it prints how long each notebook took and the whole build's time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kaibert.course.paths import CourseRootError, course_root

HARMLESS = ("[myst.header]",)  # heading levels that skip one: reported, not fatal
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Tags and attributes through which a page loads something (links to other sites are fine).
LOADS = re.compile(
    r"<(script|img|iframe|source|video|audio|embed|input)\b[^>]*?\bsrc\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)"
    r"|<link\b(?=[^>]*\brel\s*=\s*[\"']?(?:stylesheet|preload|modulepreload|icon|manifest))[^>]*?"
    r"\bhref\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)"
    r"|url\(\s*[\"']?((?:https?:)?//[^)\"']+)",
    re.I,
)


class BookError(RuntimeError):
    """The book cannot be built as it stands; the message says what to fix."""


def repo_root() -> Path:
    """The book to build: the current folder when it holds the book's two files (a copy of the
    book, as the tests make), otherwise the course repository (``paths.course_root``)."""
    here = Path.cwd()
    if (here / "_config.yml").is_file() and (here / "_toc.yml").is_file():
        return here.resolve()
    try:
        root = course_root()
    except CourseRootError as err:
        raise BookError(str(err)) from None
    for name in ("_config.yml", "_toc.yml"):
        if not (root / name).is_file():
            raise BookError(f"The course repository {root} has no {name}: the book needs _config.yml and _toc.yml.")
    return root


def toc_files(root: Path) -> list[str]:
    """Every document named in ``_toc.yml``, as written there (no suffix)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    found.append(str(toc["root"]))
    walk(toc)
    return found


def missing_toc_files(root: Path) -> list[str]:
    suffixes = (".md", ".ipynb", ".rst")
    return [f for f in toc_files(root) if not any((root / (f + s)).is_file() for s in suffixes)]


EXERCISE_HEADING = re.compile(
    r"^#+\s*(?:Exercise\s+)?(?:\d{2}\.\d+)?\s*[:·.\u2014-]?\s*(?P<title>.*?)\s*(?:\(\s*[\d.]+\s+points?\s*\))?\s*$",
    re.I,
)


def chapter_exercises(root: Path, chapter: str) -> list[dict] | None:
    """The exercises of one chapter as its solutions notebook defines them, or None if it has none yet.

    Each is ``{"exercise": "03.1", "title": "...", "points": 1}``; the title is the heading of the
    markdown cell just above the exercise's first answer cell.
    """
    from kaibert.course import notebooks as nbs

    found = sorted((root / "solutions").glob(f"{chapter}_*.ipynb"))
    if not found:
        return None
    nb = nbs.read(found[0])
    points = nbs.points(nb)
    result, heading = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            heading = first if first.startswith("#") else heading
        elif nbs.is_answer(cell):
            ex = nbs.exercise_of(cell)
            if ex and ex not in [r["exercise"] for r in result]:
                m = EXERCISE_HEADING.match(heading)
                title = m.group("title") if m and m.group("title") else ""
                meta = nbs.info(cell)
                result.append({"exercise": ex, "title": title, "points": points.get(ex, 1),
                               "kind": meta.get("kind", ""), "difficulty": meta.get("difficulty"),
                               "minutes": meta.get("minutes")})
    return result


def exercises_markdown(root: Path, chapter: str) -> str:
    """A Markdown table of a chapter's exercises, for the instructors' guide.

    Kind, difficulty (1-3) and minutes come from each answer cell's metadata, as do the points.
    """
    rows = chapter_exercises(root, chapter)
    if rows is None:
        return f"*The exercises of chapter {chapter} are listed here once `solutions/{chapter}_*.ipynb` exists.*"
    lines = ["| exercise | task | kind | difficulty | minutes | points |", "|---|---|---|---|---|---|"]
    for r in rows:
        title = r["title"].replace("|", "\\|")  # a bar would end the table cell
        difficulty = "★" * r["difficulty"] if r["difficulty"] else ""
        minutes = f"{r['minutes']}" if r["minutes"] else ""
        lines.append(f"| {r['exercise']} | {title} | {r['kind']} | {difficulty} | {minutes} | {r['points']:g} |")
    minutes = sum(r["minutes"] or 0 for r in rows)
    lines.append(f"| | **total** | | | **{minutes}** | **{sum(r['points'] for r in rows):g}** |")
    return "\n".join(lines)


def course_exercises_markdown(root: Path) -> str:
    """The whole course's exercises counted by kind: how many, points and minutes of each."""
    counts: dict[str, list[float]] = {}
    for path in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        for r in chapter_exercises(root, path.name[:2]) or []:
            kind = r["kind"] or "(no kind)"
            c = counts.setdefault(kind, [0, 0, 0])
            c[0] += 1
            c[1] += r["points"]
            c[2] += r["minutes"] or 0
    lines = ["| kind | what it asks | exercises | points | minutes |", "|---|---|---|---|---|"]
    asks = {"build": "write a component", "transfer": "use the chapter's idea where the chapter did not",
            "debug": "find and fix one realistic bug", "concept": "predict a shape, a count or a value"}
    for kind in [*asks, *sorted(k for k in counts if k not in asks)]:
        if kind in counts:
            n, points, minutes = counts[kind]
            lines.append(f"| {kind} | {asks.get(kind, '')} | {n} | {points:g} | {minutes:g} |")
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    lines.append(f"| **all** | | **{total[0]}** | **{total[1]:g}** | **{total[2]:g}** |")
    return "\n".join(lines)


def network_loads(html_dir: Path) -> list[tuple[str, str]]:
    """(page, url) for everything a built page would fetch from outside the site."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        for m in LOADS.finditer(page.read_text(encoding="utf-8", errors="replace")):
            url = next(g for g in m.groups()[1:] if g)
            found.append((page.relative_to(html_dir).as_posix(), url))
    return found


@dataclass
class BuildLog:
    """Reads Sphinx's output as it streams past: warnings, and how long each notebook ran."""

    warnings: list[str] = field(default_factory=list)
    executed: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    current: str = ""

    def line(self, text: str) -> None:
        text = ANSI.sub("", text).strip()
        m = re.search(r"reading sources\.\.\. \[\s*\d+%\]\s+(\S+)", text)
        if m:
            self.current = m.group(1)
        m = re.search(r"Executed notebook in ([\d.]+) seconds", text)
        if m:
            self.executed[self.current] = float(m.group(1))
        if "Using cached notebook" in text:
            self.cached.append(self.current)
        if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b:", text):
            self.warnings.append(text)

    def fatal(self) -> list[str]:
        return [w for w in self.warnings if not any(h in w for h in HARMLESS)]


class _Tee(io.TextIOBase):
    """A stream that writes through to ``target`` and hands each full line to ``log``."""

    def __init__(self, target, log: BuildLog):
        self.target, self.log, self.pending = target, log, ""

    def write(self, text: str) -> int:
        self.target.write(text)
        self.pending += text
        *lines, self.pending = re.split(r"[\r\n]", self.pending)
        for line in lines:
            self.log.line(line)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def cache_lock(cache: Path):
    """Hold ``<cache>.lock`` while building: a second build on the same cache waits here.

    jupyter-cache keeps one folder per executed notebook; two builds executing the same chapter
    at once both try to create it, and the second crashes with FileExistsError.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; builds there must not overlap
        yield
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / (cache.name + ".lock"), "w") as handle:  # closing it releases the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"book: another build is using {cache}; waiting for it to finish", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build(
    root: Path,
    output: Path | None = None,
    cache: Path | None = None,
    force_all: bool = False,
) -> tuple[Path, BuildLog]:
    """Build the site into ``output/html``; raises BookError when it must not be published."""
    from jupyter_book.sphinx import build_sphinx

    missing = missing_toc_files(root)
    if missing:
        raise BookError(
            "_toc.yml names files that do not exist: "
            + ", ".join(missing)
            + ". Add them, or take them out of _toc.yml."
        )
    output = (output or root / "_build").resolve()
    cache = (cache or root / "_build" / ".jupyter_cache").resolve()
    html = output / "html"
    log = BuildLog()
    # Kernels inherit the environment: MPLBACKEND=Agg (set by test runners and CI) would stop
    # them from showing figures inline, and the pages would have none.
    backend = os.environ.pop("MPLBACKEND", None)
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
    old_cwd = Path.cwd()
    try:
        os.chdir(root)
        with cache_lock(cache):
            result = build_sphinx(
                str(root),
                str(html),
                path_config=str(root / "_config.yml"),
                confoverrides={
                    "external_toc_path": "_toc.yml",
                    "latex_individualpages": False,  # what the jupyter-book CLI passes too
                    "nb_execution_cache_path": str(cache),
                    "show_warning_types": True,
                },
                noconfig=True,
                force_all=force_all,
                freshenv=force_all,
                keep_going=True,
            )
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
        os.chdir(old_cwd)
        sys.stdout.flush(), sys.stderr.flush()
        sys.stdout, sys.stderr = out, err
    if isinstance(result, BaseException) or result:
        detail = f" ({type(result).__name__}: {result})" if isinstance(result, BaseException) else ""
        raise BookError(f"The book build failed{detail}; the messages above say where.")
    if log.fatal():
        raise BookError(
            f"{len(log.fatal())} warning(s) mean broken pages:\n  " + "\n  ".join(log.fatal())
        )
    loads = network_loads(html)
    if loads:
        listed = "\n  ".join(f"{page}: {url}" for page, url in loads[:20])
        raise BookError(f"Pages load {len(loads)} resource(s) from the network; ship them with the book:\n  {listed}")
    return html, log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kaibert.course.book", description="Build the KAI-BERT book.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute the notebooks (cached) and build the HTML site")
    b.add_argument("--output", type=Path, help="build folder (default: _build); the site goes to OUTPUT/html")
    b.add_argument("--cache", type=Path, help="jupyter-cache folder (default: _build/.jupyter_cache)")
    b.add_argument("--all", action="store_true", help="rebuild every page (cached executions are reused)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        root = repo_root()
        print(f"book: building {root} (notebooks execute once, then come from the cache)", flush=True)
        html, log = build(root, args.output, args.cache, force_all=args.all)
    except BookError as err:
        print(f"\nbook: FAILED after {time.perf_counter() - start:.0f} s: {err}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    print()
    for name, seconds in log.executed.items():
        print(f"book: executed {name:<45} {seconds:7.1f} s")
    harmless = len(log.warnings) - len(log.fatal())
    print(
        f"book: done in {elapsed:.0f} s ({elapsed / 60:.1f} min), {len(log.executed)} notebook(s) executed, "
        f"{len(log.cached)} from the cache, {harmless} harmless warning(s). Open {html / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
