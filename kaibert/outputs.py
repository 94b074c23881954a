"""What the models return: named fields, the Hugging Face way (`out.logits` or `out["logits"]`)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


class _Output:
    def __getitem__(self, name: str):
        if not isinstance(name, str):
            raise TypeError("Index outputs by field name, e.g. out['last_hidden_state'].")
        return getattr(self, name)

    def keys(self) -> list[str]:
        return [k for k, v in vars(self).items() if v is not None]


@dataclass
class BertModelOutput(_Output):
    last_hidden_state: Tensor  # (B, T, H)
    pooler_output: Tensor | None = None  # (B, H): tanh(dense(h_[CLS]))
    hidden_states: tuple[Tensor, ...] | None = None  # L + 1 tensors (B, T, H), embeddings first
    attentions: tuple[Tensor, ...] | None = None  # L tensors (B, heads, T, T): bertviz's format


@dataclass
class MaskedLMOutput(_Output):
    logits: Tensor  # (B, T, V); with labels and config.sparse_prediction, (M, V): labelled positions only
    loss: Tensor | None = None  # scalar: cross-entropy over positions whose label is not -100
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class SequenceClassifierOutput(_Output):
    logits: Tensor  # (B, num_labels)
    loss: Tensor | None = None  # scalar
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class NextSentencePredictorOutput(_Output):
    logits: Tensor  # (B, 2): column 0 "B follows A", column 1 "B is random"
    loss: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class PreTrainingOutput(_Output):
    prediction_logits: Tensor  # (B, T, V): MLM scores
    seq_relationship_logits: Tensor  # (B, 2): NSP scores
    loss: Tensor | None = None  # MLM loss + NSP loss
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class TokenClassifierOutput(_Output):
    logits: Tensor  # (B, T, num_labels): a score per label for every token
    loss: Tensor | None = None  # scalar: cross-entropy over tokens whose label is not -100
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class QuestionAnsweringOutput(_Output):
    start_logits: Tensor  # (B, T): how likely the answer starts at each token
    end_logits: Tensor  # (B, T): how likely it ends there
    loss: Tensor | None = None  # scalar: mean of the start and end cross-entropies
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
