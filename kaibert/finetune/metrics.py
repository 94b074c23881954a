"""Scores of a sequence classifier: loss, accuracy, macro-F1 and the confusion matrix."""

from __future__ import annotations

import torch


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """Row i, column j: how many examples of class i were predicted as class j."""
    index = labels.long() * num_labels + predictions.long()
    return torch.bincount(index, minlength=num_labels * num_labels).view(num_labels, num_labels)


def metrics_from_confusion(matrix: torch.Tensor) -> dict[str, float]:
    """Accuracy, and macro-F1: the F1 of every class, averaged with equal weight.

    Macro-F1 does not let a model score well by favouring the largest class: a class it never
    predicts has F1 = 0 and pulls the average down.
    """
    matrix = matrix.double()
    true_pos = matrix.diag()
    precision = true_pos / matrix.sum(0).clamp(min=1)  # of the predicted class j, how many were j
    recall = true_pos / matrix.sum(1).clamp(min=1)  # of the true class i, how many were found
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall), torch.zeros_like(precision))
    return {"accuracy": (true_pos.sum() / matrix.sum().clamp(min=1)).item(), "macro_f1": f1.mean().item()}


@torch.no_grad()
def evaluate(model, batches, num_labels: int) -> dict:
    """Loss, accuracy, macro-F1 and the confusion matrix of a model on fixed batches."""
    was_training = model.training
    model.eval()
    total_loss, count = 0.0, 0
    matrix = torch.zeros(num_labels, num_labels, dtype=torch.long)
    for batch in batches:
        out = model(**batch)
        total_loss += out.loss.item() * len(batch["labels"])
        count += len(batch["labels"])
        matrix += confusion_matrix(out.logits.argmax(-1).cpu(), batch["labels"].cpu(), num_labels)
    model.train(was_training)
    return {"loss": total_loss / max(count, 1), **metrics_from_confusion(matrix),
            "confusion_matrix": matrix.tolist(), "examples": count}
