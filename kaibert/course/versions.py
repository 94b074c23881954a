"""Course versions: which commit a bundle was made from, which one is installed, and the old ones.

A course version is a git commit of the course repository, named by a release tag when one points
at it (``course-2026.1``, made by ``make release VERSION=2026.1``). ``kaibert-assign`` stamps it into
every handed-out notebook (``metadata.kaibert.course_version``) and pins the install lines and the
Colab links to it, so a bundle made in week 2 still installs and opens week 2's course in week 5.

The grader reads the stamp back and takes that version's exercise notebooks out of the clone's git
history (``git archive`` into a cache inside ``.git``), never touching the working tree. The
student's ``check()`` compares the stamp with the installed kaibert, which knows its own commit
from pip's record of a ``git+https://...@ref`` install (``direct_url.json``, PEP 610) or, for a
clone installed in place (``make setup``), from ``git`` in that clone.

    python -m kaibert.course.versions                 # the version of this clone, and of the installed kaibert
    python -m kaibert.course.versions release 2026.1  # tag a release (what `make release VERSION=2026.1` runs)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kaibert.course import paths

TAG_PREFIX = "course-"  # release tags: course-2026.1, course-2026.2, ...
STAMP_KEY = "course_version"  # in notebook.metadata["kaibert"]
ENV = "KAIBERT_NOTEBOOK_VERSION"  # set by a handed-out notebook's first cell, read by check()
# What a course version is made of: a change anywhere else (README, benchmarks) changes no exercise.
COURSE_PATHS = ("kaibert", "exercises", "solutions", "pyproject.toml", "requirements.txt")
ARCHIVED = ("exercises", "solutions")  # what the grader takes from an old version


class VersionError(ValueError):
    """A version that cannot be found or made; the message says what to do."""


@dataclass(frozen=True)
class Version:
    """One course version: a commit, and the release tag that points at it, if any."""

    commit: str | None
    tag: str | None = None
    dirty: bool = False  # a working tree with uncommitted changes to the course

    @property
    def ref(self) -> str:
        """What pip and Colab are pointed at: the tag when there is one, else the commit."""
        return self.tag or self.commit or "unknown"

    @property
    def name(self) -> str:
        """For people: ``course-2026.1 (3f2a9c1d4e5b)`` or ``commit 3f2a9c1d4e5b``."""
        short = (self.commit or "")[:12]
        if self.tag:
            return f"{self.tag} ({short})" if short else self.tag
        text = f"commit {short}" if short else "an unknown version"
        return text + (" with uncommitted changes" if self.dirty else "")

    def to_stamp(self, repository: str | None = None) -> dict:
        stamp = {"commit": self.commit, "tag": self.tag}
        if repository:
            stamp["repository"] = repository
        if self.dirty:
            stamp["dirty"] = True
        return stamp

    @classmethod
    def from_stamp(cls, stamp) -> "Version | None":
        if not isinstance(stamp, dict) or not (stamp.get("commit") or stamp.get("tag")):
            return None
        return cls(stamp.get("commit") or None, stamp.get("tag") or None, bool(stamp.get("dirty")))

    def same_as(self, other: "Version") -> bool:
        """The same commit (a short hash matches its long form); tags alone when no commit is known."""
        if self.commit and other.commit:
            a, b = self.commit.lower(), other.commit.lower()
            return a.startswith(b) or b.startswith(a)
        return bool(self.tag) and self.tag == other.tag


# --- git -----------------------------------------------------------------------------------------


def git(root: Path, *args: str, binary: bool = False) -> str | bytes:
    """Run git in ``root``; a failure becomes a VersionError with git's own message."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=120)
    except FileNotFoundError:
        raise VersionError("git is not installed; course versions need it (apt-get install git)") from None
    if done.returncode:
        raise VersionError(f"git {' '.join(args)} failed in {root}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout if binary else done.stdout.decode().strip()


def is_clone(root: Path) -> bool:
    try:
        return git(root, "rev-parse", "--is-inside-work-tree") == "true"
    except VersionError:
        return False


def release_tag(name: str) -> str:
    """``2026.1`` -> ``course-2026.1`` (a name that already has the prefix stays as it is)."""
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise VersionError(f"release name {name!r}: use letters, digits, dots and dashes, e.g. 2026.1 or spring-2026")
    return name if name.startswith(TAG_PREFIX) else TAG_PREFIX + name


def tags_at(root: Path, commit: str) -> list[str]:
    """Tags pointing at ``commit``, release tags (``course-*``) first."""
    tags = git(root, "tag", "--points-at", commit).split()
    return sorted(tags, key=lambda t: (not t.startswith(TAG_PREFIX), t))


def dirty_paths(root: Path) -> list[str]:
    """Uncommitted changes to the course (untracked files included), as ``git status`` names them."""
    out = git(root, "status", "--porcelain", "--", *COURSE_PATHS, binary=True).decode()  # unstripped: "XY path"
    return [line[3:] for line in out.splitlines() if line.strip()]


def course_version(root: Path) -> Version:
    """The version of a clone's working tree: its commit, the release tag there, and whether it is dirty."""
    root = Path(root)
    if not is_clone(root):
        raise VersionError(f"{root} is not a git clone, so it has no course version; clone the course with git")
    commit = git(root, "rev-parse", "HEAD")
    tags = tags_at(root, commit)
    return Version(commit, tags[0] if tags else None, bool(dirty_paths(root)))


def resolve(root: Path, ref: str) -> Version:
    """A tag, branch or (short) commit of this clone as a Version."""
    try:
        commit = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except VersionError:
        raise VersionError(
            f"this clone ({root}) has no course version {ref!r}; fetch it (`git fetch --tags origin`) "
            "or name one that `git tag` or `git log` shows"
        ) from None
    tags = tags_at(root, commit)
    tag = ref if ref in tags else (tags[0] if tags else None)
    return Version(commit, tag)


# --- notebooks -----------------------------------------------------------------------------------


def notebook_version(nb) -> Version | None:
    """The version a handed-out notebook was made from (its stamp), or None for an unstamped one."""
    meta = nb.get("metadata", {}).get("kaibert", {})
    return Version.from_stamp(meta.get(STAMP_KEY)) if isinstance(meta, dict) else None


def stamp_notebook(nb, version: Version, repository: str | None = None) -> None:
    nb.metadata.setdefault("kaibert", {})[STAMP_KEY] = version.to_stamp(repository)


def env_value(version: Version, repository: str | None = None) -> str:
    """What a handed-out notebook's first cell puts into ``KAIBERT_NOTEBOOK_VERSION`` for check()."""
    return json.dumps(version.to_stamp(repository), sort_keys=True)


def from_env(environ=None) -> tuple[Version, str | None] | None:
    """(version, repository) that the running notebook declared, or None."""
    text = (os.environ if environ is None else environ).get(ENV)
    if not text:
        return None
    try:
        stamp = json.loads(text)
    except json.JSONDecodeError:
        return None
    version = Version.from_stamp(stamp)
    return (version, stamp.get("repository")) if version else None


# --- the installed kaibert -----------------------------------------------------------------------


def _direct_url() -> dict | None:
    """pip's record of where kaibert was installed from (PEP 610 ``direct_url.json``), if any."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        text = distribution("kaibert").read_text("direct_url.json")
    except (PackageNotFoundError, OSError, ImportError):
        return None
    try:
        data = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def installed_version(direct_url: dict | None = None, package_dir: Path | None = None) -> Version | None:
    """The course version of the kaibert that is running, or None when nothing records it.

    A ``pip install "kaibert @ git+https://...@REF"`` (Colab, a student's laptop) leaves the
    resolved commit in ``direct_url.json`` (``vcs_info.commit_id``) and the ref asked for in
    ``vcs_info.requested_revision``. A clone installed in place (``make setup``: editable) is
    asked with git, dirty tree included. A wheel from elsewhere records no commit: None.
    """
    data = _direct_url() if direct_url is None else direct_url
    if data and isinstance(data.get("vcs_info"), dict) and data["vcs_info"].get("commit_id"):
        info = data["vcs_info"]
        requested = info.get("requested_revision") or ""
        return Version(info["commit_id"], requested if requested.startswith(TAG_PREFIX) else None)
    here = package_dir if package_dir is not None else paths.PACKAGE_REPO
    if (here / "kaibert").is_dir() and is_clone(here):
        try:
            return course_version(here)
        except VersionError:
            return None
    return None


# --- old versions, from git history --------------------------------------------------------------


def cache_dir(root: Path) -> Path:
    """Where old versions are unpacked: inside the clone's .git, so the working tree never changes."""
    common = Path(git(root, "rev-parse", "--git-common-dir"))
    if not common.is_absolute():
        common = (Path(root) / common).resolve()
    return common / "kaibert-versions"


def checkout(root: Path, version: Version) -> Path:
    """A folder holding ``exercises/`` and ``solutions/`` as they were at ``version``.

    Unpacked once with ``git archive`` into the cache and reused; raises VersionError with the fix
    when the clone does not have that version.
    """
    root = Path(root)
    commit = version.commit
    if commit is None or not _has_commit(root, commit):
        if version.tag:
            commit = resolve(root, version.tag).commit
        else:
            raise VersionError(
                f"this clone ({root}) does not have course version {version.name}, which the notebook "
                "was handed out from; fetch it (`git fetch --tags origin`) and grade again. Grading against "
                "other exercises would give wrong grades, so nothing was graded."
            )
    commit = git(root, "rev-parse", "--verify", f"{commit}^{{commit}}")
    folder = cache_dir(root) / commit
    if folder.is_dir():
        return folder
    present = [p for p in ARCHIVED if git(root, "ls-tree", "--name-only", commit, p)]
    if not present:
        raise VersionError(f"commit {commit[:12]} has no exercises/ or solutions/ folder: not a course version")
    data = git(root, "archive", "--format=tar", commit, *present, binary=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=folder.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
        os.replace(tmp, folder)  # atomic: a half-unpacked version is never used
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():
            raise
    return folder


def _has_commit(root: Path, commit: str) -> bool:
    try:
        git(root, "cat-file", "-e", f"{commit}^{{commit}}")
        return True
    except VersionError:
        return False


def notebook_at(root: Path, version: Version, chapter: str, folder: str = "exercises") -> Path:
    """The ``exercises/`` (or ``solutions/``) notebook of ``chapter`` at ``version``."""
    found = sorted((checkout(root, version) / folder).glob(f"{chapter}_*.ipynb"))
    if not found:
        raise VersionError(f"course version {version.name} has no {folder}/ notebook for chapter {chapter}")
    return found[0]


def reference_for(nb, chapter: str, root: Path | None, folder: str = "exercises") -> tuple[Path | None, Version | None]:
    """The ``folder`` notebook of ``chapter`` at the version a submission ``nb`` was handed out from.

    An unstamped notebook gives (None, None): the caller grades it as it always did. A stamped one
    gives that version's notebook: the working tree's when the clone is at that version and clean,
    else one taken from git history. Raises VersionError when that version cannot be had, so that
    nothing is ever graded against another version's exercises without saying so.
    """
    version = notebook_version(nb)
    if version is None:
        return None, None
    if root is None or not is_clone(Path(root)):
        raise VersionError(
            f"this notebook was handed out from course version {version.name}; grading it needs a git clone of "
            "the course that has that version (run inside it, or name it with --root)"
        )
    root = Path(root)
    here = course_version(root)
    if version.same_as(here) and not here.dirty:
        found = sorted((root / folder).glob(f"{chapter}_*.ipynb"))
        if found:
            return found[0], version
    return notebook_at(root, version, chapter, folder), version


# --- releases ------------------------------------------------------------------------------------


def pinned_config(text: str, ref: str) -> str:
    """_config.yml's text with ``repository.branch`` set to ``ref`` (added when missing)."""
    block = re.search(r"^repository:[ \t]*\n((?:[ \t]+.*\n?)*)", text, flags=re.MULTILINE)
    if not block:
        raise VersionError("_config.yml has no repository section; a release pins its notebooks to it")
    body = block.group(1)
    if re.search(r"^[ \t]+branch:", body, flags=re.MULTILINE):
        body = re.sub(r"^([ \t]+branch:[ \t]*).*$", lambda m: m.group(1) + ref, body, count=1, flags=re.MULTILINE)
    else:
        indent = re.match(r"[ \t]+", body).group(0)
        body = body.rstrip("\n") + f"\n{indent}branch: {ref}\n"
    return text[: block.start(1)] + body + text[block.end(1):]


def release(root: Path, name: str, message: str | None = None) -> str:
    """Tag a release of the clean clone's HEAD as ``course-NAME``; returns the tag.

    The tag points at a release commit made on top of HEAD in a temporary worktree (the working
    tree and the branch stay as they are): in it, ``_config.yml``'s branch is the tag and every
    notebook's Colab badge and install cell were stamped again, so a notebook opened from the tag
    in Colab installs the tag, not whatever the branch holds by then.
    """
    root = Path(root)
    tag = release_tag(name)
    version = course_version(root)
    if version.dirty:
        raise VersionError(
            f"uncommitted changes to the course ({', '.join(dirty_paths(root)[:5])}); commit them first: "
            "a release names a commit, and these changes are in none"
        )
    if git(root, "tag", "--list", tag):
        raise VersionError(f"the tag {tag} exists already (on {git(root, 'rev-list', '-n1', tag)[:12]}); pick a new name")
    target = version.commit
    if (root / "_config.yml").is_file():
        from kaibert.course import stamp

        with tempfile.TemporaryDirectory(prefix="kaibert-release-") as tmp:
            tree = Path(tmp) / "release"
            git(root, "worktree", "add", "--detach", "-q", str(tree), version.commit)
            try:
                config = tree / "_config.yml"
                config.write_text(pinned_config(config.read_text(encoding="utf-8"), tag), encoding="utf-8")
                stamp.run(tree)
                git(tree, "add", "-A")
                git(tree, "commit", "-q", "-m", f"Release {tag}: the notebooks install and open {tag}")
                target = git(tree, "rev-parse", "HEAD")
            finally:
                git(root, "worktree", "remove", "--force", str(tree))
    git(root, "tag", "-a", tag, "-m", message or f"KAI-BERT course release {tag}", target)
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kaibert.course.versions", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    rel = sub.add_parser("release", help="tag this commit as a course release: course-NAME")
    rel.add_argument("name", help="the release name, e.g. 2026.1 (the tag becomes course-2026.1)")
    rel.add_argument("--root", type=Path, default=Path("."), help="the course clone (default: here)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the course clone (default: here)")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            tag = release(args.root, args.name)
            print(f"tagged {tag}: a release commit ({git(args.root, 'rev-list', '-n1', tag)[:12]}) on top of "
                  f"{git(args.root, 'rev-parse', 'HEAD')[:12]} whose notebooks install and open {tag}")
            print(f"publish it with `git push origin {tag}`; then `kaibert-assign ... --version {tag}` pins bundles to it")
            return 0
        print(f"this clone: {course_version(args.root).name}")
        installed = installed_version()
        print(f"installed kaibert: {installed.name if installed else 'no recorded commit'}")
        return 0
    except VersionError as err:
        print(f"versions: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
