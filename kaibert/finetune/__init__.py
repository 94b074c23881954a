"""Chapter 10: fine-tuning. Task heads (``heads``), the Shakespeare tasks (``tasks``), and the
configuration-driven fine-tuning command (``python -m kaibert.finetune --config ...``)."""

from kaibert.finetune.heads import (
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertForSequenceClassification,
)

__all__ = ["BertForSequenceClassification", "BertForNextSentencePrediction", "BertForPreTraining"]
