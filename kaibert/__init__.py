"""kaibert: BERT built from scratch, one module per chapter of the KAI-BERT course."""

from importlib import import_module

# Name -> the module that defines it. Each is imported on first use, so that the course's tools
# (the grader, kaibert-assign) start without loading PyTorch; ``from kaibert import BertModel``
# and ``kaibert.BertModel`` work as usual.
_EXPORTS = {
    "BertConfig": "kaibert.config",
    "BertModel": "kaibert.model",
    "BertForMaskedLM": "kaibert.mlm",
    "MaskingCollator": "kaibert.mlm",
    "BertForSequenceClassification": "kaibert.heads",
    "BertForNextSentencePrediction": "kaibert.heads",
    "BertForPreTraining": "kaibert.heads",
    "BertForTokenClassification": "kaibert.token_heads",
    "BertForQuestionAnswering": "kaibert.token_heads",
    "BertTokenizer": "kaibert.tokenization",
    "ModernBertConfig": "kaibert.modernbert_config",
    "ModernBertModel": "kaibert.modernbert",
    "ModernBertForMaskedLM": "kaibert.modernbert",
}
__all__ = list(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kaibert' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # found once, then a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
