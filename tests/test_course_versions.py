"""Course versions: a clone's commit and release tag, dirty trees, old exercises out of git history
without touching the working tree, releases, and what the installed kaibert knows of itself."""

import pytest

from course_clone import IDENTITY, TOY, change_points, git, make_course
from kaibert.course import notebooks as nbs
from kaibert.course import versions


@pytest.fixture
def course(tmp_path, monkeypatch):
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "course"
    first = make_course(root)
    return root, first


def test_version_of_a_clone_is_its_commit_then_its_release_tag(course):
    root, first = course
    v = versions.course_version(root)
    assert (v.commit, v.tag, v.dirty) == (first, None, False)
    assert v.ref == first and v.name == f"commit {first[:12]}"
    git(root, "tag", "unrelated")
    git(root, "tag", "course-2026.1")
    v = versions.course_version(root)
    assert v.tag == "course-2026.1" and v.ref == "course-2026.1"  # a release tag before any other


def test_uncommitted_changes_to_the_course_make_it_dirty_others_do_not(course):
    root, _ = course
    (root / "README.md").write_text("notes\n")
    assert not versions.course_version(root).dirty  # not part of the course
    (root / "exercises" / TOY.name).write_text((root / "exercises" / TOY.name).read_text() + " ")
    v = versions.course_version(root)
    assert v.dirty and "with uncommitted changes" in v.name
    assert versions.dirty_paths(root) == [f"exercises/{TOY.name}"]


def test_not_a_clone_is_said(tmp_path):
    with pytest.raises(versions.VersionError, match="is not a git clone"):
        versions.course_version(tmp_path)


def test_old_exercises_come_from_history_and_the_working_tree_is_untouched(course):
    root, first = course
    second = change_points(root, "90.1", 5)
    before = {p: p.read_bytes() for p in (root / "exercises").iterdir()}
    old = versions.notebook_at(root, versions.Version(first), "90")
    new = versions.notebook_at(root, versions.Version(second), "90")
    assert nbs.points(nbs.read(old))["90.1"] == 1
    assert nbs.points(nbs.read(new))["90.1"] == 5
    assert (old.parent.parent / "solutions" / TOY.name).is_file()
    assert {p: p.read_bytes() for p in (root / "exercises").iterdir()} == before
    assert git(root, "status", "--porcelain") == ""  # the cache lives inside .git
    assert ".git" in old.parts
    assert versions.checkout(root, versions.Version(first[:10])) == old.parent.parent  # a short hash, cached


def test_a_submission_is_given_the_reference_of_its_own_version(course, tmp_path):
    root, first = course
    stamped = nbs.read(root / "exercises" / TOY.name)
    versions.stamp_notebook(stamped, versions.Version(first), "someone/kai-bert-fork")
    path, version = versions.reference_for(stamped, "90", root)
    assert path == root / "exercises" / TOY.name and version == versions.Version(first)  # HEAD: the working tree
    change_points(root, "90.1", 5)
    path, _ = versions.reference_for(stamped, "90", root)
    assert ".git" in path.parts and nbs.points(nbs.read(path))["90.1"] == 1  # from history
    unstamped = nbs.read(root / "exercises" / TOY.name)
    assert versions.reference_for(unstamped, "90", root) == (None, None)
    with pytest.raises(versions.VersionError, match="needs a git clone of the course that has that version"):
        versions.reference_for(stamped, "90", tmp_path / "nowhere")
    versions.stamp_notebook(stamped, versions.Version("f" * 40))
    with pytest.raises(versions.VersionError, match="does not have course version"):
        versions.reference_for(stamped, "90", root)


def test_a_version_the_clone_lacks_stops_with_the_fix(course):
    root, _ = course
    with pytest.raises(versions.VersionError, match=r"does not have course version commit 0123456789ab.*git fetch --tags"):
        versions.checkout(root, versions.Version("0123456789abcdef0123456789abcdef01234567"))
    with pytest.raises(versions.VersionError, match=r"no course version 'course-1999'.*git fetch --tags"):
        versions.checkout(root, versions.Version(None, "course-1999"))


def test_release_tags_a_commit_whose_notebooks_install_and_open_the_tag(course):
    root, first = course
    assert versions.main(["release", "2026.1", "--root", str(root)]) == 0
    tagged = git(root, "rev-list", "-n1", "course-2026.1")
    assert git(root, "rev-parse", f"{tagged}^") == first  # on top of HEAD
    assert git(root, "rev-parse", "HEAD") == first and git(root, "status", "--porcelain") == ""  # nothing moved here
    assert len(git(root, "worktree", "list").splitlines()) == 1  # the temporary worktree is gone
    assert "branch: course-2026.1" in git(root, "show", "course-2026.1:_config.yml")
    released = git(root, "show", f"course-2026.1:exercises/{TOY.name}")
    assert "git+https://github.com/someone/kai-bert-fork@course-2026.1" in released
    assert f"someone/kai-bert-fork/blob/course-2026.1/exercises/{TOY.name}" in released
    assert versions.resolve(root, "course-2026.1") == versions.Version(tagged, "course-2026.1")
    with pytest.raises(versions.VersionError, match="exists already"):
        versions.release(root, "course-2026.1")
    (root / "kaibert" / "__init__.py").write_text("x = 1\n")
    with pytest.raises(versions.VersionError, match=r"uncommitted changes to the course \(kaibert/__init__.py\)"):
        versions.release(root, "2026.2")
    with pytest.raises(versions.VersionError, match="release name"):
        versions.release_tag("spring 2026")


def test_installed_kaibert_knows_its_commit_from_pip_or_from_its_clone(course, tmp_path):
    root, first = course
    pip_git = {"url": "https://github.com/someone/kai-bert-fork",
               "vcs_info": {"vcs": "git", "requested_revision": "course-2026.1", "commit_id": "a" * 40}}
    assert versions.installed_version(pip_git) == versions.Version("a" * 40, "course-2026.1")
    pip_branch = {"url": "https://github.com/x/y", "vcs_info": {"vcs": "git", "requested_revision": "main",
                                                                 "commit_id": "b" * 40}}
    assert versions.installed_version(pip_branch) == versions.Version("b" * 40)
    editable = {"url": f"file://{root}", "dir_info": {"editable": True}}
    assert versions.installed_version(editable, package_dir=root) == versions.Version(first)
    assert versions.installed_version(editable, package_dir=tmp_path / "wheel") is None  # nothing records it


def test_the_config_branch_is_pinned_or_added():
    text = 'title: x\nrepository:\n  url: https://github.com/a/b\n  branch: main\nexecute:\n  cache: ""\n'
    assert versions.pinned_config(text, "course-1") == text.replace("branch: main", "branch: course-1")
    added = versions.pinned_config("repository:\n  url: https://github.com/a/b\n", "course-1")
    assert added == "repository:\n  url: https://github.com/a/b\n  branch: course-1\n"
    with pytest.raises(versions.VersionError, match="no repository section"):
        versions.pinned_config("title: x\n", "course-1")


def test_stamps_compare_by_commit_and_survive_the_round_trip():
    v = versions.Version("abcdef1234567890", "course-1")
    assert versions.Version.from_stamp(v.to_stamp("o/r")) == v
    assert v.same_as(versions.Version("abcdef123456")) and not v.same_as(versions.Version("abcdef9"))
    assert versions.Version.from_stamp({"commit": None, "tag": None}) is None
    assert versions.from_env({versions.ENV: versions.env_value(v, "o/r")}) == (v, "o/r")
    assert versions.from_env({versions.ENV: "not json"}) is None
