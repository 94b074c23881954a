"""Chapter 06: the BERT model: embeddings, a stack of encoder layers, and the pooler."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kaibert.attention import padding_mask
from kaibert.config import BertConfig
from kaibert.embeddings import BertEmbeddings
from kaibert.layers import EncoderLayer
from kaibert.outputs import BertModelOutput
from kaibert.pretrained import PretrainedMixin


class Pooler(nn.Module):
    """A dense layer with tanh on the [CLS] vector: the sentence summary a classifier reads."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, T, H) -> (B, H)


def init_weights(module: nn.Module, std: float) -> None:
    """BERT's initialisation: N(0, 0.02) weights, zero biases, identity LayerNorms."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].zero_()
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def check_inputs(config: BertConfig, input_ids: Tensor, attention_mask: Tensor | None,
                 token_type_ids: Tensor | None) -> None:
    """Catch the inputs that would otherwise crash deep inside, or silently give wrong numbers."""
    if not isinstance(input_ids, Tensor):
        raise ValueError(
            f"input_ids must be an integer tensor of token ids, shape (batch, seq_len), got "
            f"{type(input_ids).__name__}. Use torch.tensor([ids]) or the tokenizer's return_tensors='pt'."
        )
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise ValueError(
            f"input_ids must be an integer tensor of token ids, got dtype {input_ids.dtype}. "
            "Token ids index the embedding table: convert with input_ids.long()."
        )
    if input_ids.dim() != 2:
        raise ValueError(
            f"input_ids must be an integer tensor of shape (batch, seq_len), got {tuple(input_ids.shape)}. "
            "For one sequence use input_ids.unsqueeze(0); the tokenizer's return_tensors='pt' gives this shape."
        )
    if input_ids.size(1) == 0:
        raise ValueError(
            f"input_ids is empty: shape {tuple(input_ids.shape)} has no tokens to read. Give at least "
            "one token per sequence ([CLS] and [SEP] at least: the tokenizer adds them)."
        )
    T = input_ids.size(1)
    if T > config.max_position_embeddings:
        raise ValueError(
            f"Sequence length {T} is longer than max_position_embeddings "
            f"({config.max_position_embeddings}): there is no position embedding for it. "
            f"Truncate the input, e.g. tokenizer(..., truncation=True, max_length={config.max_position_embeddings})."
        )
    if input_ids.numel():
        lowest, highest = int(input_ids.min()), int(input_ids.max())
        bad = highest if highest >= config.vocab_size else lowest if lowest < 0 else None
        if bad is not None:
            raise ValueError(
                f"input_ids hold token id {bad}, outside the vocabulary [0, {config.vocab_size}). "
                "Was the text tokenized with this model's own vocabulary?"
            )
    for name, extra in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
        if extra is not None and tuple(extra.shape) != tuple(input_ids.shape):
            raise ValueError(
                f"{name} has shape {tuple(extra.shape)} but input_ids has shape {tuple(input_ids.shape)}; "
                f"they must match, one entry per token."
            )
    if token_type_ids is not None and token_type_ids.numel() and (
        token_type_ids.min() < 0 or token_type_ids.max() >= config.type_vocab_size
    ):
        raise ValueError(
            f"token_type_ids must be in [0, {config.type_vocab_size}) (one id per segment), "
            f"got values up to {int(token_type_ids.max())}."
        )


class BertModel(PretrainedMixin, nn.Module):
    """The BERT encoder: token ids in, one contextual vector per token out."""

    def __init__(self, config: BertConfig, add_pooler: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList([EncoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.pooler = Pooler(config) if add_pooler else None
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BertModelOutput:
        check_inputs(self.config, input_ids, attention_mask, token_type_ids)
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, H)
        mask = None if attention_mask is None else padding_mask(attention_mask, x.dtype)  # (B, 1, 1, T)
        hidden_states, attentions = [x], []
        for layer in self.layers:
            x, weights = layer(x, mask, output_attentions)  # (B, T, H), (B, heads, T, T)
            hidden_states.append(x)
            attentions.append(weights)
        return BertModelOutput(
            last_hidden_state=x,
            pooler_output=self.pooler(x) if self.pooler is not None else None,
            hidden_states=tuple(hidden_states) if output_hidden_states else None,
            attentions=tuple(attentions) if output_attentions else None,
        )
