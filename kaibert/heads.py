"""The heads: BERT's encoder plus a small layer that turns its vectors into an answer.

All of the package's task models but the masked LM (chapter 07 builds it, in ``mlm.py``) live
here, with transformers' weight names so that checkpoints go both ways; what they return is
defined in ``outputs.py``:

- ``BertForPreTraining``: BERT's two pre-training objectives at once, MLM + NSP;
- ``BertForNextSentencePrediction``: the pooler -> a 2-way linear (is B the sentence after A?);
- ``BertForSequenceClassification`` (chapter 10): pooler -> dropout -> linear, one score per label.

The sentence-level heads read the pooler output: tanh(dense(h_[CLS])). [CLS] attends to every
token in every layer, so its final vector can summarise the input; the pooler is the layer that
NSP trained to make that summary useful for a sentence-level decision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kaibert.config import BertConfig
from kaibert.mlm import MLMHead
from kaibert.model import BertModel, init_weights
from kaibert.outputs import NextSentencePredictorOutput, PreTrainingOutput, SequenceClassifierOutput
from kaibert.pretrained import PretrainedMixin


def problem_type_of(config: BertConfig, labels: Tensor) -> str:
    """The loss to use, decided as transformers decides it when the config does not say."""
    if config.problem_type is not None:
        return config.problem_type
    if config.num_labels == 1:
        return "regression"
    if labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


def check_class_labels(labels: Tensor, num_labels: int, batch_size: int, task: str = "this task") -> None:
    """Integer labels in [0, num_labels), one per example: anything else gets a message, not a crash."""
    if labels.is_floating_point():
        raise ValueError(
            f"{task} is single-label classification, so labels must be integer class ids, got "
            f"{labels.dtype} labels. Pass labels.long(); for several labels per example (multi-hot "
            "floats) set problem_type='multi_label_classification'."
        )
    if labels.numel() != batch_size:
        raise ValueError(f"Expected one label per example ({batch_size}), got labels of shape {tuple(labels.shape)}.")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_labels):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise ValueError(
            f"Label {bad} is outside [0, {num_labels}): this head has num_labels={num_labels}. "
            "Number the classes 0 .. num_labels - 1, or build the model with more labels."
        )


def classification_loss(config: BertConfig, logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy, binary cross-entropy per label, or mean squared error."""
    B, n = logits.shape  # (B, num_labels)
    kind = problem_type_of(config, labels)
    if kind == "single_label_classification":
        check_class_labels(labels, n, B)
        return F.cross_entropy(logits.view(-1, n), labels.view(-1).long())  # int32 ids too
    if kind == "multi_label_classification":
        if tuple(labels.shape) != (B, n):
            raise ValueError(
                f"Multi-label classification needs labels of shape (batch, num_labels) = {(B, n)}, "
                f"one 0/1 per label, got {tuple(labels.shape)}."
            )
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    if labels.numel() != logits.numel():  # regression
        raise ValueError(f"Regression needs {logits.numel()} target values (batch x num_labels), "
                         f"got labels of shape {tuple(labels.shape)}.")
    labels = labels.to(logits.dtype)
    if n == 1:
        return F.mse_loss(logits.squeeze(), labels.squeeze())
    return F.mse_loss(logits, labels.view(B, n))


def classifier_dropout(config: BertConfig) -> nn.Dropout:
    """The dropout before a classifier: ``classifier_dropout`` when the config sets it, else the
    hidden dropout, as in transformers."""
    p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    return nn.Dropout(p)


class BertForSequenceClassification(PretrainedMixin, nn.Module):
    """BERT with one linear layer on the pooled [CLS] vector: a score per label."""

    hf_architecture = "BertForSequenceClassification"
    base_prefix = "bert."
    # An encoder-only or MLM checkpoint has no classifier (and an MLM one no pooler): both are
    # new, trained by fine-tuning.
    new_head_weights = ("classifier.", "bert.pooler.")

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
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
    ) -> SequenceClassifierOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        logits = self.classifier(self.dropout(out.pooler_output))  # (B, H) -> (B, num_labels)
        loss = None
        if labels is not None:
            if self.config.problem_type is None:  # remembered, and saved, as transformers does
                self.config.problem_type = problem_type_of(self.config, labels)
            loss = classification_loss(self.config, logits, labels)
        return SequenceClassifierOutput(logits=logits, loss=loss, hidden_states=out.hidden_states,
                                        attentions=out.attentions)


def nsp_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy on (B, 2) scores; label 0 means B follows A, 1 means B is random (BERT's order)."""
    check_class_labels(labels, 2, logits.size(0), task="Next-sentence prediction")
    return F.cross_entropy(logits.view(-1, 2), labels.view(-1).long())


class BertForNextSentencePrediction(PretrainedMixin, nn.Module):
    """BERT with the NSP head: does segment B follow segment A?"""

    hf_architecture = "BertForNextSentencePrediction"
    base_prefix = "bert."
    new_head_weights = ("nsp_head.", "bert.pooler.")

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.nsp_head = nn.Linear(config.hidden_size, 2)  # two scores from the pooled [CLS] vector
        init_weights(self.nsp_head, config.initializer_range)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> NextSentencePredictorOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        logits = self.nsp_head(out.pooler_output)  # (B, 2)
        loss = None if labels is None else nsp_loss(logits, labels)
        return NextSentencePredictorOutput(logits=logits, loss=loss, hidden_states=out.hidden_states,
                                           attentions=out.attentions)


class BertForPreTraining(PretrainedMixin, nn.Module):
    """BERT as the paper pre-trained it: masked words (MLM) and next sentence (NSP), losses added."""

    hf_architecture = "BertForPreTraining"
    base_prefix = "bert."
    tied_weights = ("mlm_head.decoder.weight",)

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.mlm_head = MLMHead(config, self.bert.embeddings.word_embeddings)
        self.nsp_head = nn.Linear(config.hidden_size, 2)
        for module in (self.mlm_head.dense, self.mlm_head.layer_norm, self.nsp_head):
            init_weights(module, config.initializer_range)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        next_sentence_label: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> PreTrainingOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        prediction_logits = self.mlm_head(out.last_hidden_state)  # (B, T, V)
        nsp_logits = self.nsp_head(out.pooler_output)  # (B, 2)
        loss = None
        if (labels is None) != (next_sentence_label is None):
            raise ValueError(
                "BertForPreTraining's loss is MLM + NSP, so it needs both labels (one per token, -100 "
                "where nothing is masked) and next_sentence_label (one per example), or neither."
            )
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(f"labels has shape {tuple(labels.shape)} but input_ids has "
                                 f"{tuple(input_ids.shape)}; give one label per token, -100 where none.")
            V = prediction_logits.size(-1)
            mlm = F.cross_entropy(prediction_logits.view(-1, V), labels.view(-1), ignore_index=-100)
            loss = mlm + nsp_loss(nsp_logits, next_sentence_label)
        return PreTrainingOutput(prediction_logits=prediction_logits, seq_relationship_logits=nsp_logits,
                                 loss=loss, hidden_states=out.hidden_states, attentions=out.attentions)
