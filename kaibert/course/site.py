"""What the book's build does to executed notebooks before readers see them, and how it is checked.

An executed chapter can carry traces of the machine that built it: a path into its virtual
environment in a printed checkpoint folder or a warning, its user's home folder. And a cell that
prints in several steps leaves several stream outputs, which a downloaded notebook shows as
separate chunks. ``clean_outputs`` fixes both in one cell's outputs; the book's Sphinx extension
(``book/_ext/kaibert_site.py``) applies it to every executed notebook it renders or publishes,
and the tests look for what must not be there with ``traces``.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import sysconfig
from pathlib import Path

PAGE_LIMIT = 1_000_000  # bytes: every page of the site stays under it


def machine_paths(root: Path | str | None = None) -> dict[str, str]:
    """Absolute folders of this machine that must not appear on a page, each with what replaces it.

    Longest first, so that the virtual environment's site-packages is replaced before the course
    folder that holds it.
    """
    found = {}
    for key in ("purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            found[path] = "site-packages"
    for path in {sys.prefix, sys.exec_prefix, sys.base_prefix}:
        found.setdefault(path, "<python>")
    if root is not None:
        found[str(Path(root).resolve())] = "."
    found[str(Path.cwd().resolve())] = "."
    home = os.path.expanduser("~")
    if home not in ("/", "~"):
        found.setdefault(home, "~")
    found = {p: r for p, r in found.items() if len(p) > 1}  # never "/" itself
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def user_patterns() -> list[re.Pattern]:
    """The user's name where it would give the machine away: in a home folder path."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name at all (some containers)
        return []
    name = re.escape(user)
    patterns = [re.compile(rf"(?:/home/|/Users/|\\Users\\){name}\b", re.I)]
    if user == "root":  # root's home is /root
        patterns.append(re.compile(r"(?<![\w.-])/root(?:/|\b)"))
    return patterns


def scrub(text: str, paths: dict[str, str]) -> str:
    """``text`` with every machine path replaced (``/x/.venv/lib/python3.11/site-packages/y`` -> ``site-packages/y``)."""
    for path, replacement in paths.items():
        if path in text:
            text = re.sub(re.escape(path) + r"(?=[/\\]|\b|$)", lambda _: replacement, text)
    return text


def merge_streams(outputs: list) -> list:
    """Consecutive stream outputs of one stream (stdout or stderr) joined into one."""
    merged: list = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == out.get("name")):
            last["text"] = _joined(last["text"]) + _joined(out["text"])
        else:
            merged.append(out)
    return merged


def _joined(text) -> str:
    return "".join(text) if isinstance(text, list) else text


def _scrub_value(value, paths):
    if isinstance(value, str):
        return scrub(value, paths)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [scrub(v, paths) for v in value]
    return value


def clean_outputs(outputs: list, paths: dict[str, str]) -> list:
    """One cell's outputs with streams merged and machine paths scrubbed (images left alone)."""
    outputs = merge_streams([dict(o) if not hasattr(o, "copy") else o.copy() for o in outputs])
    for out in outputs:
        if out.get("output_type") == "stream":
            out["text"] = scrub(_joined(out["text"]), paths)
        elif out.get("output_type") == "error":
            out["traceback"] = [scrub(line, paths) for line in out.get("traceback", [])]
            out["evalue"] = scrub(out.get("evalue", ""), paths)
        elif "data" in out:
            data = dict(out["data"])
            for mime in data:
                if mime.startswith("text/") or mime in ("application/javascript", "application/json"):
                    data[mime] = _scrub_value(data[mime], paths)
            out["data"] = type(out["data"])(data) if not isinstance(out["data"], dict) else data
    return outputs


def clean_notebook(nb, paths: dict[str, str]):
    """Every code cell's outputs cleaned in place; returns the notebook."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and cell.get("outputs"):
            cell["outputs"] = clean_outputs(cell["outputs"], paths)
    return nb


def traces(text: str, paths: dict[str, str] | None = None) -> list[str]:
    """The machine paths and user-name paths found in ``text`` (empty when it is clean)."""
    paths = machine_paths() if paths is None else paths
    found = [p for p in paths if p in text]
    for pattern in user_patterns():
        found += [m.group(0) for m in pattern.finditer(text)]
    return found


def repeated_streams(nb) -> list[str]:
    """Cells (by id) whose outputs hold two stream outputs of one stream in a row."""
    bad = []
    for i, cell in enumerate(nb.get("cells", [])):
        outs = cell.get("outputs", []) if cell.get("cell_type") == "code" else []
        for a, b in zip(outs, outs[1:]):
            if a.get("output_type") == b.get("output_type") == "stream" and a.get("name") == b.get("name"):
                bad.append(str(cell.get("id", i)))
                break
    return bad


def page_sizes(html_dir: Path) -> list[tuple[str, int]]:
    """(page, bytes) for every HTML page of a built site, largest first."""
    pages = [(p.relative_to(html_dir).as_posix(), p.stat().st_size) for p in Path(html_dir).rglob("*.html")]
    return sorted(pages, key=lambda item: (-item[1], item[0]))
