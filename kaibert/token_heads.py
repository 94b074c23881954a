"""Chapter 10: BERT's token-level heads, one score per token instead of one per input.

Figure 4 (c, d) of the BERT paper: the final vector of *every* token goes through one small
linear layer, the same for all positions.

- ``BertForTokenClassification``: a label per token (named-entity tagging, part of speech).
  Positions labelled -100 (padding, the [CLS] and [SEP] tokens, the second and later word pieces
  of a word) are left out of the loss.
- ``BertForQuestionAnswering``: SQuAD-style span extraction. Two scores per token, "the answer
  starts here" and "the answer ends here"; the loss is the mean of the two cross-entropies over
  positions. A start or end position outside the input (an answer cut off by truncation) is
  clamped to T and ignored, as transformers does.

Neither reads the pooler: a token head needs every position, not a summary, so the encoder is
built without one (transformers does the same, and its checkpoints of these heads have no pooler
weights). Weight names are transformers' (``classifier``, ``qa_outputs``), so checkpoints go
both ways.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from kaibert.config import BertConfig
from kaibert.heads import classifier_dropout
from kaibert.model import BertModel, init_weights
from kaibert.outputs import QuestionAnsweringOutput, TokenClassifierOutput
from kaibert.pretrained import PretrainedMixin


def token_classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy over the labelled positions of (B, T, n) scores; -100 marks the rest."""
    B, T, n = logits.shape
    if tuple(labels.shape) != (B, T):
        raise ValueError(f"Token classification needs one label per token, labels of shape {(B, T)}, "
                         f"got {tuple(labels.shape)}. Use -100 where a token has no label.")
    if labels.is_floating_point():
        raise ValueError(f"Token labels must be integer class ids, got {labels.dtype}; pass labels.long().")
    kept = labels[labels != -100]
    if kept.numel() and (kept.min() < 0 or kept.max() >= n):
        bad = int(kept.min()) if kept.min() < 0 else int(kept.max())
        raise ValueError(f"Token label {bad} is outside [0, {n}) (num_labels={n}); use -100 for "
                         "tokens without a label.")
    return F.cross_entropy(logits.view(-1, n), labels.reshape(-1).long(), ignore_index=-100)


class BertForTokenClassification(PretrainedMixin, nn.Module):
    """BERT with one linear layer on every token's final vector: a score per label per token."""

    hf_architecture = "BertForTokenClassification"
    base_prefix = "bert."
    new_head_weights = ("classifier.",)

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooler=False)
        self.dropout = classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        init_weights(self.classifier, config.initializer_range)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> TokenClassifierOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        logits = self.classifier(self.dropout(out.last_hidden_state))  # (B, T, H) -> (B, T, num_labels)
        loss = None if labels is None else token_classification_loss(logits, labels)
        return TokenClassifierOutput(logits=logits, loss=loss, hidden_states=out.hidden_states,
                                     attentions=out.attentions)


def span_loss(start_logits: Tensor, end_logits: Tensor, start_positions: Tensor, end_positions: Tensor) -> Tensor:
    """The mean of the start and end cross-entropies; positions past the input are ignored."""
    B, T = start_logits.shape
    for name, pos in (("start_positions", start_positions), ("end_positions", end_positions)):
        if pos.numel() != B or pos.is_floating_point():
            raise ValueError(f"{name} needs one integer token index per example ({B}), got "
                             f"{pos.dtype} of shape {tuple(pos.shape)}.")
    # An answer cut off by truncation points past the end: index T, which the loss ignores.
    start = start_positions.reshape(-1).long().clamp(0, T)
    end = end_positions.reshape(-1).long().clamp(0, T)
    start_loss = F.cross_entropy(start_logits, start, ignore_index=T)
    end_loss = F.cross_entropy(end_logits, end, ignore_index=T)
    return (start_loss + end_loss) / 2


class BertForQuestionAnswering(PretrainedMixin, nn.Module):
    """BERT with a 2-way linear layer on every token: where the answer starts, where it ends."""

    hf_architecture = "BertForQuestionAnswering"
    base_prefix = "bert."
    new_head_weights = ("qa_outputs.",)

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooler=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)  # transformers reads num_labels here; always 2
        init_weights(self.qa_outputs, config.initializer_range)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        start_positions: Tensor | None = None,
        end_positions: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> QuestionAnsweringOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        logits = self.qa_outputs(out.last_hidden_state)  # (B, T, 2)
        start_logits, end_logits = logits[..., 0].contiguous(), logits[..., 1].contiguous()  # (B, T) each
        loss = None
        if (start_positions is None) != (end_positions is None):
            raise ValueError("The span loss needs both start_positions and end_positions, or neither.")
        if start_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringOutput(start_logits=start_logits, end_logits=end_logits, loss=loss,
                                       hidden_states=out.hidden_states, attentions=out.attentions)
