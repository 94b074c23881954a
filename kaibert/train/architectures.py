"""The models ``kaibert-train`` can pre-train, by the name a config gives in ``model.architecture``.

An architecture is a config class (a dataclass whose fields are the model's settings, like
``BertConfig``) and its
masked language model, whose ``forward(input_ids, attention_mask=None, labels=None)`` returns an
output with ``.loss`` and ``.logits``, and which has ``save_pretrained`` and ``from_pretrained``.
The rest of a config's ``model:`` section are that config class's fields. Two more things the
run must know: which config fields hold special token ids (set from the run's vocabulary), and
which batch tensors ``forward`` takes.

Adding one is a module and one ``register`` call (see ``register``'s docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from kaibert.config import BertConfig
from kaibert.mlm import BertForMaskedLM
from kaibert.run.config import choose


@dataclass(frozen=True)
class Architecture:
    """A model family that ``kaibert-train`` builds from the ``model:`` section of a config."""

    name: str
    config_class: type          # a dataclass; its fields are the model keys
    masked_lm: type             # masked_lm(config_class(...)): forward(...) -> .loss, .logits
    key_help: dict[str, str] = field(default_factory=dict)  # one line per field, for the README
    # config field -> special token ("pad", "unk", "cls", "sep", "mask") whose id it holds
    token_ids: dict[str, str] = field(default_factory=lambda: {"pad_token_id": "pad"})
    # the batch tensors forward takes (masked batches also have token_type_ids)
    inputs: tuple[str, ...] = ("input_ids", "token_type_ids", "attention_mask", "labels")

    def model_keys(self) -> list[str]:
        """The keys a config's ``model:`` section may hold (``vocab_size`` comes from the data)."""
        return [f.name for f in fields(self.config_class) if f.name != "vocab_size"]

    def has_key(self, name: str) -> bool:
        return name in {f.name for f in fields(self.config_class)}

    def special_token_fields(self, special_ids: dict) -> dict:
        """The config fields that hold special token ids, filled from a vocabulary's ids."""
        return {name: special_ids[token] for name, token in self.token_ids.items() if self.has_key(name)}

    def build(self, values: dict):
        """A masked LM with fresh weights from a dict of config fields."""
        return self.masked_lm(self.make_config(values))

    def make_config(self, values: dict):
        """The config from its fields (checked by the config class itself)."""
        return self.config_class(**values)


ARCHITECTURES: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    """Make an architecture available to ``model.architecture`` in configs.

    For example, in the module that defines the model::

        from kaibert.train.architectures import Architecture, register

        register(Architecture("modernbert", ModernBertConfig, ModernBertForMaskedLM,
                              key_help={"hidden_size": "width H of every token vector", ...},
                              token_ids={"pad_token_id": "pad", "cls_token_id": "cls", ...},
                              inputs=("input_ids", "attention_mask", "labels")))

    and one import of that module at the end of this one, so the name is known wherever
    configs are read. ``key_help`` says what each config field means; the README's reference
    prints it (and a test asks for every field).
    """
    ARCHITECTURES[architecture.name] = architecture
    return architecture


def get_architecture(name: str) -> Architecture:
    """The architecture a config names; a ValueError lists the known ones."""
    return choose(ARCHITECTURES, name, "architecture")


# What each ``model:`` key of BERT (a BertConfig field) means; the defaults are BertConfig's own.
BERT_KEYS = {
    "hidden_size": "width H of every token vector",
    "num_hidden_layers": "encoder layers",
    "num_attention_heads": "attention heads per layer (must divide `hidden_size`)",
    "num_key_value_heads": "key/value heads: fewer than the query heads gives grouped-query "
                           "attention, 1 multi-query; `null`: as many as query heads",
    "intermediate_size": "width of the feed-forward layer (4H in BERT)",
    "hidden_act": "activation of the feed-forward layer and the MLM head",
    "hidden_dropout_prob": "dropout on embeddings and on each sub-layer's output",
    "attention_probs_dropout_prob": "dropout on the attention weights",
    "max_position_embeddings": "longest sequence the model reads (by default the block size)",
    "type_vocab_size": "number of segments (token type ids)",
    "initializer_range": "standard deviation of the initial weights",
    "layer_norm_eps": "epsilon of every LayerNorm",
    "pad_token_id": "id of `[PAD]` (its embedding starts at zero)",
    "attn_implementation": "`eager` (chapter 03's readable attention) or `sdpa` (PyTorch's fused kernel)",
    "sparse_prediction": "with labels, score only the labelled positions against the vocabulary "
                         "(same loss, less work); `false`: every position, as `transformers`",
}
# BertConfig fields that only the fine-tuning heads of chapter 10 read: no effect on MLM training.
for _name in ("num_labels", "id2label", "label2id", "problem_type", "classifier_dropout"):
    BERT_KEYS[_name] = "read by the fine-tuning heads (chapter 10) only; no effect on MLM training"

register(Architecture("bert", BertConfig, BertForMaskedLM, key_help=BERT_KEYS))

# Chapter 11's ModernBERT: what each ``model:`` key (a ModernBertConfig field) means.
from kaibert.modernbert import ModernBertForMaskedLM  # noqa: E402  (registered here, defined there)
from kaibert.modernbert_config import ModernBertConfig  # noqa: E402

MODERNBERT_KEYS = {
    "hidden_size": "width H of every token vector",
    "intermediate_size": "width I of each GeGLU half (Wi maps H to 2I)",
    "num_hidden_layers": "encoder layers",
    "num_attention_heads": "attention heads per layer (must divide `hidden_size`, with an even head size)",
    "hidden_activation": "activation of the GeGLU's first half",
    "max_position_embeddings": "longest sequence the model reads (RoPE has no table; this is a limit)",
    "initializer_range": "standard deviation of the initial weights (truncated normal)",
    "initializer_cutoff_factor": "initial weights are cut at this many standard deviations",
    "norm_eps": "epsilon of every LayerNorm",
    "norm_bias": "LayerNorms with a shift as well as a scale",
    "pad_token_id": "id of `[PAD]` (set from the vocabulary)",
    "eos_token_id": "id of the end token, `[SEP]` (set from the vocabulary)",
    "bos_token_id": "id of the start token, `[CLS]` (set from the vocabulary)",
    "cls_token_id": "id of `[CLS]` (set from the vocabulary)",
    "sep_token_id": "id of `[SEP]` (set from the vocabulary)",
    "attention_bias": "biases in the attention's Wqkv and Wo",
    "attention_dropout": "dropout on the attention weights and the attention output",
    "layer_types": "one of `full_attention` (global) or `sliding_attention` (local) per layer; "
                   "`null`: every third layer global, the first included",
    "rope_parameters": "RoPE per layer type, e.g. `{full_attention: {rope_theta: 160000.0}}`; "
                       "`null`: theta 160,000 global, 10,000 local",
    "local_attention": "a local layer's whole window: it sees `local_attention // 2` tokens each side",
    "embedding_dropout": "dropout after the embeddings' LayerNorm",
    "mlp_bias": "biases in the GeGLU's Wi and Wo",
    "mlp_dropout": "dropout inside the GeGLU",
    "decoder_bias": "a bias on the output layer's vocabulary scores",
    "classifier_pooling": "`cls` or `mean`: read by classifiers only; no effect on MLM training",
    "classifier_dropout": "read by classifiers only; no effect on MLM training",
    "classifier_bias": "a bias in the MLM head's dense layer",
    "classifier_activation": "activation of the MLM head's dense layer",
    "sparse_prediction": "with labels, score only the labelled positions against the vocabulary",
    "sparse_pred_ignore_index": "the label of positions not scored (-100)",
    "tie_word_embeddings": "the output layer reuses the input embeddings",
    "attn_implementation": "`sdpa` (PyTorch's fused kernel) or `eager` (chapter 03's readable attention)",
}

register(Architecture(
    "modernbert", ModernBertConfig, ModernBertForMaskedLM, key_help=MODERNBERT_KEYS,
    token_ids={"pad_token_id": "pad", "cls_token_id": "cls", "sep_token_id": "sep",
               "bos_token_id": "cls", "eos_token_id": "sep"},
    inputs=("input_ids", "attention_mask", "labels")))
