"""The floor lock says what `make test-oldest` tests: every range of pyproject.toml at its floor.

These checks read files only (fast); the floor run itself is `make test-oldest`
(tools/test_oldest.py), which builds the environment and executes the chapters there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-oldest.txt"
# torch's floor (2.3) cannot be installed here: only the 2.13.0 CPU build is on this machine's disk,
# other builds are several GB. The lock keeps 2.13.0, and pyproject.toml says why.
NOT_AT_FLOOR = {"torch": "2.13.0"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, set[str]]:
    """package -> the floors ``>=X`` that pyproject.toml declares for it (dependencies and extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    floors: dict[str, set[str]] = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)", requirement.strip())
        assert match, f"{requirement!r}: kaibert's requirements are plain floors, 'name>=version'"
        floors.setdefault(canonical(match[1]), set()).add(match[2])
    return floors


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.+!]*)", line)
        assert match, f"requirements-oldest.txt: {line!r} is not an exact pin 'name==version'"
        name = canonical(match[1])
        assert name not in pins, f"requirements-oldest.txt pins {name} twice"
        pins[name] = match[2]
    return pins


def release(version: str) -> tuple[int, ...]:
    """'0.19.1' -> (0, 19, 1); '2' -> (2, 0, 0): so that '2' and '2.0.0' compare equal."""
    parts = [int(p) for p in re.match(r"[0-9]+(?:\.[0-9]+)*", version)[0].split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_each_package_has_one_floor():
    for name, floors in declared().items():
        assert len({release(f) for f in floors}) == 1, f"{name} has different floors in pyproject.toml: {floors}"


@pytest.mark.parametrize("name", sorted(declared()))
def test_the_lock_pins_every_declared_package_at_its_floor(name):
    floor = release(next(iter(declared()[name])))
    pins = locked()
    assert name in pins, f"requirements-oldest.txt does not pin {name}, which pyproject.toml requires"
    if name in NOT_AT_FLOOR:
        assert pins[name] == NOT_AT_FLOOR[name] and release(pins[name]) >= floor
    else:
        assert release(pins[name]) == floor, (
            f"pyproject.toml says {name}>={'.'.join(map(str, floor))} but the floor run tests {pins[name]}: "
            "move the floor or the pin, and run `make test-oldest`")


def test_the_lock_pins_exact_versions_of_everything_it_installs():
    pins = locked()
    assert len(pins) > 40  # the whole environment, not only kaibert's own requirements
    assert "kaibert" not in pins


def test_the_floor_check_catches_a_moved_floor(tmp_path, monkeypatch):
    """A floor raised in pyproject.toml without the lock following it fails the check above."""
    text = (ROOT / "pyproject.toml").read_text()
    moved = re.sub(r'"transformers>=[0-9.]+"', '"transformers>=99.0"', text)
    assert moved != text
    (tmp_path / "pyproject.toml").write_text(moved)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "LOCK", LOCK)
    with pytest.raises(AssertionError, match="transformers>=99.0"):
        test_the_lock_pins_every_declared_package_at_its_floor("transformers")


def test_make_test_oldest_runs_the_floor_script():
    make = subprocess.run(["make", "-n", "test-oldest"], cwd=ROOT, capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    assert "tools/test_oldest.py" in make.stdout


@pytest.mark.slow
def test_the_colab_cell_refuses_a_torch_older_than_the_floor_and_names_the_range(tmp_path):
    """An environment older than a floor stops at pip with the range, not mid-chapter.

    A fresh venv plays a Colab with torch 2.2.2 (its metadata only: nothing here imports torch).
    The setup cell, as `make stamp` writes it (with this checkout for GitHub), pins that torch and
    asks for the course: pip must refuse, and the error the student sees must name kaibert's range.
    """
    from kaibert.course import stamp

    venv = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    info = Path(site) / "torch-2.2.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.2.2\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")

    location = stamp.github_location(ROOT)
    cell = stamp.setup_cell(*location).source
    github = stamp.git_source(*location)
    assert github in cell
    cell = cell.replace(f"kaibert[{stamp.EXTRAS}] @ {github}", f"kaibert[{stamp.EXTRAS}] @ file://{ROOT}")
    script = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n" + cell
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600)
    assert done.returncode != 0, done.stdout
    assert "RuntimeError: pip install kaibert" in done.stderr
    assert "kaibert[course,train] 0.1.0 depends on torch>=2.3" in done.stderr, done.stderr[-3000:]
    assert re.search(r"\(constraint\) torch\S*==2\.2\.2", done.stderr)  # the cell pinned Colab's torch
