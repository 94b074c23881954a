"""The student bundle: exercise notebooks, never solutions, and a README with the due date."""

import shutil
import zipfile
from pathlib import Path

import pytest

from kaibert.course import assign, exercises

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
