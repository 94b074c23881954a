"""kaibert: BERT built from scratch, one module per chapter of the KAI-BERT course."""

from kaibert.config import BertConfig
from kaibert.heads import (
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertForSequenceClassification,
)
from kaibert.mlm import BertForMaskedLM, MaskingCollator
from kaibert.model import BertModel
from kaibert.token_heads import BertForQuestionAnswering, BertForTokenClassification
from kaibert.modernbert import ModernBertForMaskedLM, ModernBertModel
from kaibert.modernbert_config import ModernBertConfig

__all__ = ["BertConfig", "BertModel", "BertForMaskedLM", "BertForSequenceClassification",
           "BertForNextSentencePrediction", "BertForPreTraining", "BertForTokenClassification",
           "BertForQuestionAnswering", "BertTokenizer", "MaskingCollator",
           "ModernBertConfig", "ModernBertModel", "ModernBertForMaskedLM"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The tokenizer is imported on first use, so importing the model does not pay for it.
    if name == "BertTokenizer":
        from kaibert.tokenization import BertTokenizer

        return BertTokenizer
    raise AttributeError(f"module 'kaibert' has no attribute {name!r}")
