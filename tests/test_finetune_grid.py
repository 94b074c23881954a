"""The shipped pre-training grid (benchmarks/finetune_grid.py) is what its command produces: checked for
consistency, budget by budget, and its scores recomputed from its confusion matrices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaibert.course.paths import benchmark_file
from kaibert.finetune import engine

GRID = Path(__file__).resolve().parents[1] / "benchmarks" / "pretraining_grid.json"


@pytest.fixture(scope="module")
def grid():
    assert benchmark_file("pretraining_grid.json") == GRID  # what chapter 10 reads
    return json.loads(GRID.read_text())


def test_every_start_gets_the_same_budget(grid):
    assert grid["command"].startswith("python benchmarks/finetune_grid.py")
    assert grid["seconds_total"] >= sum(r["seconds"] for r in grid["runs"]) * 0.99
    budgets = {key: value["steps"] for key, value in grid["budgets"].items()}
    train_size = max(r["labels"] for r in grid["runs"])
    for run in grid["runs"]:
        key = "all" if run["labels"] == train_size and str(run["labels"]) not in budgets else str(run["labels"])
        assert run["steps"] == budgets[key], run
        assert run["start"] in ("random", "shakespeare-mini", "minilm")
        assert run["seed"] in grid["budgets"][key]["seeds"]


def test_scores_follow_from_the_confusion_matrices(grid):
    import torch

    for run in grid["runs"]:
        matrix = torch.tensor(run["test"]["confusion_matrix"])
        assert matrix.sum() == grid["settings"]["test_examples"]
        scores = engine.metrics_from_confusion(matrix)
        assert abs(scores["accuracy"] - run["test"]["accuracy"]) < 1e-9
        assert abs(scores["macro_f1"] - run["test"]["macro_f1"]) < 1e-9
        comedy = matrix[0].sum().item() / matrix.sum().item()
        assert abs(comedy - run["majority_baseline_test"]) < 1e-3


def test_names_grid_runs_three_seeds_per_start_with_consistent_scores():
    """benchmarks/names_grid.json (finetune_grid.py --task names): the seed-to-seed spread is measured."""
    names = json.loads((GRID.parent / "names_grid.json").read_text())
    assert names["settings"]["task"] == "names" and "--task names" in names["command"]
    for key, budget in names["budgets"].items():
        for start in ("random", "shakespeare-mini"):
            runs = [r for r in names["runs"] if r["start"] == start and str(r["labels"]) == key]
            assert sorted(r["seed"] for r in runs) == budget["seeds"] and len(budget["seeds"]) >= 3
            for r in runs:
                assert r["steps"] == budget["steps"]
                p, rec, f1 = (r["test"][k] for k in ("precision", "recall", "f1"))
                assert abs(f1 - (2 * p * rec / (p + rec) if p + rec else 0.0)) < 1e-9
                assert 0.5 < r["majority_baseline_test"] < 1 and 0 < r["word_list_baseline_test"] < 1
