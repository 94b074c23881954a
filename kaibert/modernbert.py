"""Chapter 11: the ModernBERT model (Warner et al., 2024): embeddings, pre-LN layers, final norm, MLM head.

What changed from BERT (chapter 06), piece by piece:
- no position embeddings: RoPE rotates queries and keys inside attention (modernbert_attention.py);
- no token-type embeddings, and no biases in linears or LayerNorms by default;
- pre-LayerNorm layers with a GeGLU feed-forward (modernbert_layers.py), and a final LayerNorm;
- two of every three layers attend to a local window only;
- a padded batch is unpacked to its real tokens first (modernbert_padding.py).

Module and parameter names are those of transformers' ModernBERT, so a checkpoint loads by name.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kaibert.attention import padding_mask
from kaibert.hub import resolve_file
from kaibert.layers import ACT2FN
from kaibert.inputs import check_inputs
from kaibert.modernbert_attention import ModernBertAttention, RotaryEmbedding, sliding_window_mask
from kaibert.modernbert_config import LAYER_TYPES, ModernBertConfig
from kaibert.modernbert_layers import GeGLU, ModernBertLayer, layer_norm
from kaibert.modernbert_padding import Packing, packing_of, repad, repad_attention, unpad
from kaibert.outputs import BertModelOutput, MaskedLMOutput
from kaibert.pretrained import load_checkpoint_state_dict, write_checkpoint


class ModernBertEmbeddings(nn.Module):
    """Token embeddings, LayerNorm, dropout: no position or segment table (RoPE carries positions)."""

    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.norm = layer_norm(config)
        self.drop = nn.Dropout(config.embedding_dropout)

    def forward(self, input_ids: Tensor) -> Tensor:
        return self.drop(self.norm(self.tok_embeddings(input_ids)))  # (B, T) -> (B, T, H), or (N,) -> (N, H)


def init_modernbert_weights(module: nn.Module, config: ModernBertConfig) -> None:
    """ModernBERT's initialisation: truncated normals; layers that write into the residual stream
    (the attention's Wo and the feed-forward's Wo) start smaller, by 1 / sqrt(2 * layers), so the
    stream's variance does not grow with depth (as in GPT-2, Radford et al., 2019)."""
    std_in = config.initializer_range
    std_out = config.initializer_range / math.sqrt(2.0 * config.num_hidden_layers)

    def trunc(linear: nn.Module, std: float) -> None:
        cut = config.initializer_cutoff_factor * std
        nn.init.trunc_normal_(linear.weight, mean=0.0, std=std, a=-cut, b=cut)
        if getattr(linear, "bias", None) is not None:
            nn.init.zeros_(linear.bias)

    if isinstance(module, ModernBertEmbeddings):
        trunc(module.tok_embeddings, std_in)
    elif isinstance(module, (ModernBertAttention, GeGLU)):
        trunc(module.Wqkv if isinstance(module, ModernBertAttention) else module.Wi, std_in)
        trunc(module.Wo, std_out)
    elif isinstance(module, ModernBertPredictionHead):
        trunc(module.dense, std_out)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def check_modernbert_inputs(config: ModernBertConfig, input_ids: Tensor, attention_mask: Tensor | None) -> None:
    """The length limit first (RoPE has no table to run out of, but the model never saw longer text)."""
    if isinstance(input_ids, Tensor) and input_ids.dim() == 2 and input_ids.size(1) > config.max_position_embeddings:
        raise ValueError(
            f"Sequence length {input_ids.size(1)} is longer than max_position_embeddings "
            f"({config.max_position_embeddings}), the longest context this model was trained for. "
            f"Truncate the input, e.g. tokenizer(..., truncation=True, max_length={config.max_position_embeddings})."
        )
    check_inputs(config, input_ids, attention_mask, None)
    if attention_mask is not None and attention_mask.numel() and not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
        raise ValueError("attention_mask must hold 1 for real tokens and 0 for padding, nothing else.")


class ModernBertPretrained:
    """`from_pretrained` and `save_pretrained` for ModernBERT folders, the Hugging Face way."""

    hf_architecture = "ModernBertModel"
    base_prefix = ""  # where the encoder's weights live inside the model: "" or "model."

    @classmethod
    def from_pretrained(cls, folder_or_hub_name: str | Path, strict: bool = True, **config_changes):
        """Build a model from a ModernBERT folder (or hub name such as 'answerdotai/ModernBERT-base')."""
        data = json.loads(resolve_file(folder_or_hub_name, "config.json").read_text())
        config = ModernBertConfig.from_dict({**data, **config_changes})
        model = cls(config)
        missing = load_modernbert_state_dict(model, load_checkpoint_state_dict(folder_or_hub_name), strict)
        if missing:
            print(f"kaibert: {len(missing)} weights not in the checkpoint start from random values: {missing}")
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> None:
        """Write config.json and model.safetensors that transformers' from_pretrained reads."""
        write_checkpoint(self, folder)  # kaibert's ModernBERT names are transformers' own


class ModernBertModel(ModernBertPretrained, nn.Module):
    """The ModernBERT encoder: token ids in, one contextual vector per token out.

    With padding in the batch (some attention_mask entry 0), it runs on the packed real tokens
    (unpad=None or True); unpad=False keeps the padded batch and masks, as BERT does. Both give the
    same numbers for the real tokens; the padded positions of the output carry no meaning (zeros
    when unpadded).
    """

    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.config = config
        self.embeddings = ModernBertEmbeddings(config)
        self.layers = nn.ModuleList([ModernBertLayer(config, i) for i in range(config.num_hidden_layers)])
        self.final_norm = layer_norm(config)
        self.rotary = nn.ModuleDict({t: RotaryEmbedding(config.head_dim, config.rope_theta(t))
                                     for t in LAYER_TYPES if t in config.layer_types})
        self.apply(lambda m: init_modernbert_weights(m, config))

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        unpad: bool | None = None,
    ) -> BertModelOutput:
        check_modernbert_inputs(self.config, input_ids, attention_mask)
        B, T = input_ids.shape
        if unpad is None:  # the default: unpad exactly when there is padding to drop
            unpad = attention_mask is not None and not bool(attention_mask.all())
        if unpad:
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            packing = packing_of(mask)
            x = self.embeddings(unpad_ids(input_ids, packing))  # (N, H)
            positions, masks = packing.positions, self.packed_masks(packing)  # (N,)
        else:
            packing = None
            x = self.embeddings(input_ids)  # (B, T, H)
            positions = torch.arange(T, device=input_ids.device)[None]  # (1, T)
            masks = self.padded_masks(attention_mask, T, x.dtype)
        rope = {t: rotary(positions) for t, rotary in self.rotary.items()}  # cos, sin: (N, d) or (1, T, d)
        hidden_states, attentions = [x], []
        for layer in self.layers:
            t = layer.layer_type
            x, weights = layer(x, rope[t], masks[t], packing, output_attentions)
            hidden_states.append(x)
            attentions.append(weights)
        x = self.final_norm(x)
        hidden_states[-1] = x  # as transformers: the last hidden state is the normalised one
        if packing is not None:
            x = repad(x, packing)  # (B, T, H)
            hidden_states = [repad(h, packing) for h in hidden_states]
            if output_attentions:
                attentions = [repad_attention(w, packing) for w in attentions]  # (B, heads, T, T) each
        return BertModelOutput(
            last_hidden_state=x,
            hidden_states=tuple(hidden_states) if output_hidden_states else None,
            attentions=tuple(attentions) if output_attentions else None,
        )

    def padded_masks(self, attention_mask: Tensor | None, T: int, dtype: torch.dtype) -> dict[str, Tensor | None]:
        """Additive masks for the padded path: padding for global layers, padding and band for local ones."""
        pad = None if attention_mask is None else padding_mask(attention_mask, dtype)  # (B, 1, 1, T)
        masks = {"full_attention": pad}
        if "sliding_attention" in self.rotary:
            positions = torch.arange(T, device=self.final_norm.weight.device)
            band = sliding_window_mask(positions, self.config.window, dtype)[None, None]  # (1, 1, T, T)
            masks["sliding_attention"] = band if pad is None else torch.minimum(band, pad)  # masked if either masks
        return masks

    def packed_masks(self, packing: Packing) -> dict[str, list[Tensor] | None]:
        """Global layers need no mask once each sequence attends to itself; local ones need a band each."""
        masks: dict[str, list[Tensor] | None] = {"full_attention": None}
        if "sliding_attention" in self.rotary:
            dtype = self.final_norm.weight.dtype
            masks["sliding_attention"] = [sliding_window_mask(packing.positions[s:e], self.config.window, dtype)
                                          for s, e in packing.sequences()]
        return masks


def unpad_ids(input_ids: Tensor, packing: Packing) -> Tensor:
    """(B, T) token ids -> the (N,) real ones, so the embeddings never look up padding."""
    return input_ids.flatten()[packing.indices]


class ModernBertPredictionHead(nn.Module):
    """dense, activation, LayerNorm: the same transform as BERT's MLM head (chapter 07)."""

    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.classifier_bias)
        self.act = ACT2FN[config.classifier_activation]
        self.norm = layer_norm(config)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.norm(self.act(self.dense(hidden)))  # (..., H)


class ModernBertForMaskedLM(ModernBertPretrained, nn.Module):
    """ModernBERT with the MLM head: predicts the original token at every masked position.

    Without labels, ``logits`` has shape (B, T, V); only real tokens are scored when the batch is
    unpadded (padding rows are zeros). With labels and ``config.sparse_prediction``, only the
    labelled positions are scored: logits (M, V), in row-major order, as in transformers.
    """

    hf_architecture = "ModernBertForMaskedLM"
    base_prefix = "model."

    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.config = config
        self.model = ModernBertModel(config)
        self.head = ModernBertPredictionHead(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=config.decoder_bias)
        init_modernbert_weights(self.head, config)
        if config.decoder_bias:
            nn.init.zeros_(self.decoder.bias)
        if config.tie_word_embeddings:  # scores against the input embeddings, as BERT does
            self.decoder.weight = self.model.embeddings.tok_embeddings.weight

    @property
    def tied_weights(self) -> tuple[str, ...]:
        return ("decoder.weight",) if self.config.tie_word_embeddings else ()

    def score(self, hidden: Tensor) -> Tensor:
        return self.decoder(self.head(hidden))  # (..., H) -> (..., V)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        unpad: bool | None = None,
    ) -> MaskedLMOutput:
        out = self.model(input_ids, attention_mask, output_attentions, output_hidden_states, unpad)
        hidden = out.last_hidden_state  # (B, T, H)
        if labels is not None and labels.shape != input_ids.shape:
            raise ValueError(
                f"labels has shape {tuple(labels.shape)} but input_ids has {tuple(input_ids.shape)}; "
                "give one label per token, -100 where no prediction is scored."
            )
        if labels is not None and self.config.sparse_prediction:
            chosen = labels != self.config.sparse_pred_ignore_index  # (B, T)
            logits = self.score(hidden[chosen])  # (M, V): only the labelled tokens meet the vocabulary
            loss = F.cross_entropy(logits, labels[chosen], ignore_index=-100)
            return MaskedLMOutput(logits=logits, loss=loss, hidden_states=out.hidden_states, attentions=out.attentions)
        padded = attention_mask is not None and not bool(attention_mask.all())
        loss = None
        if padded and unpad is not False:  # the decoder is the widest matmul: skip it on padding
            keep = attention_mask.bool()  # (B, T)
            if labels is not None and bool((labels[~keep] != -100).any()):
                raise ValueError("labels mark padding positions (attention_mask 0) for prediction; give them "
                                 "-100, or pass unpad=False to score padding as transformers does.")
            real_logits = self.score(hidden[keep])  # (N, V)
            if labels is not None:  # the same mean as over the padded batch: padding carries no label
                loss = F.cross_entropy(real_logits, labels[keep], ignore_index=-100)
            logits = hidden.new_zeros(*input_ids.shape, self.config.vocab_size)  # (B, T, V)
            logits[keep] = real_logits
        else:
            logits = self.score(hidden)  # (B, T, V)
            if labels is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100)
        return MaskedLMOutput(logits=logits, loss=loss, hidden_states=out.hidden_states, attentions=out.attentions)


# --- reading and writing Hugging Face ModernBERT folders ---------------------------------------

HEADS = ("head.", "decoder.", "classifier.")  # what sits on top of the encoder, outside "model."


def load_modernbert_state_dict(model: nn.Module, state: dict[str, Tensor], strict: bool = True) -> list[str]:
    """Copy transformers' ModernBERT weights into a kaibert model; return the names left as initialised.

    The names are the same on both sides; only the "model." prefix of the encoder differs between a
    ModernBertModel and a model with a head, and heads of other tasks are skipped.
    """
    prefix = model.base_prefix
    tied = set(getattr(model, "tied_weights", ()))
    own = model.state_dict()
    converted, unknown, mismatched = {}, [], []
    for hf_name, tensor in state.items():
        body = hf_name[len("model."):] if hf_name.startswith("model.") else hf_name
        if body.startswith(HEADS):
            target = body if prefix else None  # a bare encoder has no head
        else:
            target = prefix + body
        if target is None or target in tied:
            continue  # another model's head, or stored once as the word embeddings
        if target not in own:
            unknown.append(hf_name)
        elif own[target].shape != tensor.shape:
            mismatched.append(f"{hf_name}: checkpoint {tuple(tensor.shape)} vs model {tuple(own[target].shape)}")
        else:
            converted[target] = tensor
    missing = sorted(set(own) - set(converted) - tied)
    problems = []
    if mismatched:
        problems.append("shapes that do not fit the config: " + "; ".join(mismatched))
    if unknown:
        problems.append("weights that are not part of this ModernBERT model: " + ", ".join(sorted(unknown)))
    if missing and strict:
        problems.append("weights the checkpoint lacks: " + ", ".join(missing)
                        + " (pass strict=False to start those from random values)")
    if problems:
        raise ValueError("This checkpoint does not fit the model. Found " + ". Found ".join(problems) + ".")
    model.load_state_dict(converted, strict=False)
    return missing


