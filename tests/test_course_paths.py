"""kaibert.course.paths: one rule for the course root, one reader of _config.yml, and the results
files that chapters read from benchmarks/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaibert.course import paths

ROOT = Path(__file__).resolve().parents[1]


def test_a_chapter_reads_benchmark_results_from_the_clone():
    assert paths.benchmark_file("pretraining_grid.json") == ROOT / "benchmarks" / "pretraining_grid.json"


def test_without_a_clone_the_results_come_from_the_installed_commit(tmp_path, monkeypatch):
    def no_clone(*args, **kwargs):
        raise paths.CourseRootError("no clone")

    fetched = []

    def fake_fetch(url, path):  # what Colab would download, written without a network
        fetched.append(url)
        Path(path).write_text('{"runs": []}')

    monkeypatch.setattr(paths, "course_root", no_clone)
    monkeypatch.setattr(paths, "installed_from_github", lambda: ("someone/kai-bert-fork", "0123abc"))
    monkeypatch.setattr(paths.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(paths.urllib.request, "urlretrieve", fake_fetch)
    first = paths.benchmark_file("pretraining_grid.json")
    again = paths.benchmark_file("pretraining_grid.json")  # fetched once, then read from the cache
    assert fetched == ["https://raw.githubusercontent.com/someone/kai-bert-fork/0123abc/benchmarks/pretraining_grid.json"]
    assert first == again and json.loads(first.read_text()) == {"runs": []}

    monkeypatch.setattr(paths, "installed_from_github", lambda: None)  # a wheel, no clone: say where it is
    with pytest.raises(FileNotFoundError, match="benchmarks/x.json not found.*clone of the course"):
        paths.benchmark_file("x.json")


@pytest.mark.parametrize("record, expected", [
    ({"url": "https://github.com/someone/kai-bert.git", "vcs_info": {"vcs": "git", "commit_id": "abc"}},
     ("someone/kai-bert", "abc")),
    ({"url": "file:///home/me/kai-bert", "dir_info": {"editable": True}}, None),  # make setup's install
])
def test_pip_records_where_kaibert_came_from(monkeypatch, record, expected):
    class Distribution:
        def read_text(self, name):
            assert name == "direct_url.json"
            return json.dumps(record)

    from importlib import metadata

    monkeypatch.setattr(metadata, "distribution", lambda name: Distribution())
    assert paths.installed_from_github() == expected


def test_the_github_location_is_read_from_config_yml(tmp_path):
    assert paths.github_location(ROOT)[2]  # the clone's own _config.yml names a branch
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b.git\n  branch: dev\n")
    assert paths.github_location(tmp_path) == ("a", "b", "dev")
    (tmp_path / "_config.yml").write_text("title: no repository\n")
    with pytest.raises(paths.CourseConfigError, match="repository.url must be a GitHub address"):
        paths.github_location(tmp_path)


def test_a_missing_course_is_an_exception_not_an_exit(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PACKAGE_REPO", tmp_path / "site-packages")
    with pytest.raises(paths.CourseRootError) as caught:
        paths.course_root(start=tmp_path)
    assert not isinstance(caught.value, SystemExit)


def test_colab_reads_googles_bert_and_elsewhere_minilm(monkeypatch):
    """Online in Colab the chapters default to bert-base-uncased; offline to the shipped MiniLM."""
    import sys
    import types

    from kaibert.course import paths

    monkeypatch.delenv("KAIBERT_MODEL", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    offline = paths.pretrained_bert_path()
    assert offline == str(paths.minilm_path()) and (paths.minilm_path() / "vocab.txt").is_file()
    assert paths.model_in_use().startswith("Pretrained BERT in use: MiniLM (all-MiniLM-L6-v2's")
    assert paths.model_name(offline) == "MiniLM" and paths.model_name("bert-base-uncased") == "bert-base-uncased"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert paths.pretrained_bert_path() == "bert-base-uncased"
    assert paths.model_in_use().startswith("Pretrained BERT in use: bert-base-uncased (Google's BERT-base")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a Colab told to stay off the hub falls back to MiniLM
    assert paths.pretrained_bert_path() == str(paths.minilm_path())
    monkeypatch.setenv("KAIBERT_MODEL", "/models/mine")
    assert paths.pretrained_bert_path() == "/models/mine"
    assert "chosen by KAIBERT_MODEL" in paths.model_in_use()


def test_the_finetune_short_name_minilm_stays_offline_in_colab(monkeypatch):
    import sys
    import types

    from kaibert.course import paths
    from kaibert.finetune import engine

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert engine.resolve_model("minilm") == paths.minilm_path()


def test_a_missing_model_that_is_no_hub_model_is_a_config_error(monkeypatch, tmp_path):
    import pytest

    from kaibert.finetune import engine

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: nothing to find offline
    with pytest.raises(engine.ConfigError, match="'init_from' = 'no-such-model' is no local folder"):
        engine.resolve_model("no-such-model")
