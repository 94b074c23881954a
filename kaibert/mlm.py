"""Chapter 07: masked language modelling: the MLM head, BertForMaskedLM, and the masking collator."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kaibert.config import BertConfig
from kaibert.layers import ACT2FN
from kaibert.model import BertModel, init_weights
from kaibert.outputs import MaskedLMOutput
from kaibert.pretrained import PretrainedMixin
from kaibert.tokenization import pad_batch


class MLMHead(nn.Module):
    """Turns each output vector back into a score for every word in the vocabulary.

    The decoder reuses the input word embeddings (weight tying): the same matrix that maps a
    token id to a vector scores vectors against every token. It saves V x H parameters and
    makes input and output share one notion of what a word is.
    """

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight  # tied: one tensor, two uses
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: Tensor) -> Tensor:
        h = self.layer_norm(self.act(self.dense(hidden)))  # (B, T, H)
        return F.linear(h, self.decoder.weight, self.bias)  # h @ E^T + bias in one op: (B, T, V)


class BertForMaskedLM(PretrainedMixin, nn.Module):
    """BERT with the MLM head: predicts the original token at every masked position.

    Without labels, ``logits`` scores every position: shape (B, T, V), as in ``transformers``.

    With labels, ``config.sparse_prediction`` decides what is scored (ModernBERT's
    ``sparse_prediction`` switch; NVIDIA's BERT recipe does the same):

    - ``True`` (the default): only the labelled positions, about 15% of the tokens. ``logits`` has
      shape (M, V), one row per label that is not -100, in row-major order: ``logits[i]`` belongs
      to ``labels[labels != -100][i]``. The loss never reads the other positions, and scoring
      them against the whole vocabulary is most of a small model's work;
    - ``False``: every position, ``logits`` of shape (B, T, V), as ``transformers``' BERT returns.

    The loss is the same number either way. This is the one place that switch lives: training
    asks the model for its loss rather than scoring positions itself.
    """

    hf_architecture = "BertForMaskedLM"
    base_prefix = "bert."
    tied_weights = ("mlm_head.decoder.weight",)

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooler=False)
        self.mlm_head = MLMHead(config, self.bert.embeddings.word_embeddings)
        for module in (self.mlm_head.dense, self.mlm_head.layer_norm):
            init_weights(module, config.initializer_range)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> MaskedLMOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        hidden = out.last_hidden_state  # (B, T, H)
        if labels is None:
            return MaskedLMOutput(logits=self.mlm_head(hidden), hidden_states=out.hidden_states,
                                  attentions=out.attentions)  # logits (B, T, V)
        if labels.shape != input_ids.shape:
            raise ValueError(
                f"labels has shape {tuple(labels.shape)} but input_ids has {tuple(input_ids.shape)}; "
                "give one label per token, -100 where no prediction is scored."
            )
        if self.config.sparse_prediction:
            chosen = labels != -100                            # (B, T): the positions to predict
            hidden, labels = hidden[chosen], labels[chosen]    # (M, H), (M,): the others are dropped
        logits = self.mlm_head(hidden)                         # (M, V) sparse, or (B, T, V)
        # Cross-entropy over the labelled positions; -100 (no prediction scored) is skipped.
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100)
        return MaskedLMOutput(logits=logits, loss=loss, hidden_states=out.hidden_states, attentions=out.attentions)


# --- the masking collator ----------------------------------------------------------------------


def mask_tokens(
    input_ids: Tensor,
    special_mask: Tensor,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's 80/10/10 rule: choose 15% of the ordinary tokens to predict; of those, 80% become
    [MASK], 10% a random token and 10% stay as they are.

    Keeping some chosen tokens unchanged or random means the model cannot assume that only
    [MASK] positions matter, since [MASK] never appears when the model is used later.
    Returns (masked input_ids, labels): labels hold the original id where a token was chosen
    and -100 everywhere else.
    """
    rand = lambda: torch.rand(input_ids.shape, generator=generator)  # noqa: E731
    chosen = (rand() < mlm_probability) & ~special_mask  # (B, T): never [CLS], [SEP] or padding
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    to_mask = chosen & (rand() < 0.8)  # 80% of the chosen
    to_random = chosen & ~to_mask & (rand() < 0.5)  # half of the remaining 20%
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels


def _as_list(ids) -> list[int]:
    """Token ids as a plain list, from a list or a 1-D tensor."""
    return ids.tolist() if hasattr(ids, "tolist") else list(ids)


class MaskingCollator:
    """Pads a list of examples to the longest one (dynamic padding), then masks them.

    Masking here, at batch time, gives every epoch fresh masks (RoBERTa's dynamic masking).
    """

    def __init__(self, tokenizer=None, mlm_probability: float = 0.15, seed: int | None = None, *,
                 vocab_size: int | None = None, mask_token_id: int | None = None,
                 pad_token_id: int | None = None, special_token_ids: Sequence[int] | None = None):
        if tokenizer is not None:
            vocab_size, mask_token_id = len(tokenizer), tokenizer.mask_token_id
            pad_token_id, special_token_ids = tokenizer.pad_token_id, tokenizer.all_special_ids
        if None in (vocab_size, mask_token_id, pad_token_id, special_token_ids):
            raise ValueError("MaskingCollator needs a tokenizer, or vocab_size, mask_token_id, "
                             "pad_token_id and special_token_ids.")
        if not 0.0 < mlm_probability < 1.0:
            raise ValueError(f"mlm_probability must be between 0 and 1, got {mlm_probability}.")
        self.vocab_size, self.mask_token_id, self.pad_token_id = vocab_size, mask_token_id, pad_token_id
        self.special_ids = torch.tensor(sorted(set(special_token_ids) | {pad_token_id}))
        self.mlm_probability = mlm_probability
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    @classmethod
    def from_ids(cls, vocab_size: int, mask_token_id: int, pad_token_id: int,
                 special_token_ids: Sequence[int], mlm_probability: float = 0.15, seed: int | None = None):
        return cls(None, mlm_probability, seed, vocab_size=vocab_size, mask_token_id=mask_token_id,
                   pad_token_id=pad_token_id, special_token_ids=special_token_ids)

    def pad(self, examples: list) -> dict[str, Tensor]:
        if not examples:
            raise ValueError("MaskingCollator got an empty batch.")
        rows = []
        for ex in examples:  # a dict of token lists, or just the token ids
            ids = _as_list(ex["input_ids"] if isinstance(ex, dict) else ex)
            types = ex.get("token_type_ids") if isinstance(ex, dict) else None
            rows.append({"input_ids": ids, "token_type_ids": [0] * len(ids) if types is None else _as_list(types),
                         "attention_mask": [1] * len(ids)})
        padded = pad_batch(rows, self.pad_token_id)  # kaibert.tokenization's one padding helper
        return {key: torch.tensor(value, dtype=torch.long) for key, value in padded.items()}  # (B, T) each

    def __call__(self, examples: list) -> dict[str, Tensor]:
        batch = self.pad(examples)  # (B, T) each
        special = torch.isin(batch["input_ids"], self.special_ids) | (batch["attention_mask"] == 0)
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"], special, self.mask_token_id, self.vocab_size, self.mlm_probability, self.generator
        )
        return batch
