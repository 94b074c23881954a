"""The commands the README and the book's pages give work as written: every `kaibert-*` command is
an installed script, every `make` target exists, and a page says to activate .venv before it names
a command that only an activated environment finds."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "book/running.md", "book/grading.md", "book/instructors.md"]
ACTIVATE = "source .venv/bin/activate"
# Found only on the PATH of an activated environment (python: the course's, not the system's). A
# `pip install` line is the student's own environment's, as an assignment README says.
NEEDS_ACTIVATION = re.compile(r"^(kaibert-[\w-]+|jupyter|python)\b")


def command_lines(text: str) -> list[tuple[int, str]]:
    """(offset in the page, command) for every line of the page's ```bash blocks, comments removed."""
    found = []
    for block in re.finditer(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        offset = block.start(1)
        for line in block.group(1).splitlines(keepends=True):
            command = line.split("  #")[0].strip()
            if command and not command.startswith("#"):
                found.append((offset, command))
            offset += len(line)
    return found


def scripts() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))


@pytest.mark.parametrize("page", PAGES)
def test_commands_exist_and_activation_comes_first(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    problems = []
    for offset, command in command_lines(text):
        first = command.split()[0]
        if first.startswith("kaibert-"):
            if first not in scripts():
                problems.append(f"{command!r}: no script {first} in pyproject.toml")
            elif not (Path(sys.executable).parent / first).exists():
                problems.append(f"{command!r}: {first} is not installed next to {sys.executable} (run make setup)")
        if first == "make":
            target = next((w for w in command.split()[1:] if not w.startswith("-") and "=" not in w), None)
            if target and target not in make_targets():
                problems.append(f"{command!r}: no target {target} in the Makefile")
        if NEEDS_ACTIVATION.match(command) and ACTIVATE not in text[:offset]:
            problems.append(f"{command!r}: needs `{ACTIVATE}` earlier on the page (or a make target)")
    assert not problems, f"{page}:\n" + "\n".join(problems)
