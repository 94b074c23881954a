"""BertConfig: every size and switch of a BERT model, read from and written to config.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from kaibert.hub import resolve_file

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "tanh")
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa")
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


@dataclass
class BertConfig:
    """The defaults are BERT-base (Devlin et al., 2018): 12 layers, hidden size 768, 12 heads."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    # Fewer key/value heads than query heads gives grouped-query attention; 1 gives multi-query.
    num_key_value_heads: int | None = None
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    # "eager" is the readable attention of chapter 03; "sdpa" calls PyTorch's fused kernel.
    attn_implementation: str = "eager"
    # sparse_prediction: whether BertForMaskedLM, given labels, scores only the labelled positions
    # (logits of shape (M, V), M = labels that are not -100) instead of returning the full dense
    # logits (B, T, V). Same loss, less work; False is what transformers' BERT does.
    sparse_prediction: bool = True
    # Chapter 10's task heads, named and stored in config.json as transformers does. The label
    # names default to LABEL_0, LABEL_1, ...; num_labels follows from them (2 if neither is given).
    num_labels: int | None = None
    id2label: dict[int, str] | None = field(default=None, repr=False)
    label2id: dict[str, int] | None = field(default=None, repr=False)
    # None: decided from the labels at the first loss, as transformers does (1 label: regression;
    # integer labels: single-label; float labels: multi-label).
    problem_type: str | None = None
    classifier_dropout: float | None = None  # None: hidden_dropout_prob

    def __post_init__(self) -> None:
        self._check_labels()
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "num_key_value_heads", "intermediate_size", "max_position_embeddings",
                     "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"BertConfig.{name} must be a positive integer, got {value!r}.")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) is not divisible by num_attention_heads "
                f"({self.num_attention_heads}): each head gets hidden_size / heads dimensions. "
                f"Pick a head count that divides {self.hidden_size}."
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) is not divisible by "
                f"num_key_value_heads ({self.num_key_value_heads}): each key/value head must serve "
                f"the same number of query heads."
            )
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act {self.hidden_act!r} is not supported; use one of {ACTIVATIONS}.")
        if self.attn_implementation not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(
                f"attn_implementation {self.attn_implementation!r} is not supported; "
                f"use one of {ATTENTION_IMPLEMENTATIONS}."
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"BertConfig.{name} must be in [0, 1), got {getattr(self, name)!r}.")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id {self.pad_token_id} is outside the vocabulary (size {self.vocab_size}).")

    def _check_labels(self) -> None:
        """Make num_labels, id2label and label2id agree, or say which two disagree."""
        if self.id2label is None and self.label2id is not None:
            self.id2label = {int(i): name for name, i in self.label2id.items()}
        if self.id2label is None:
            n = 2 if self.num_labels is None else self.num_labels
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"BertConfig.num_labels must be a positive integer, got {n!r}.")
            self.id2label = {i: f"LABEL_{i}" for i in range(n)}
        self.id2label = {int(i): str(name) for i, name in self.id2label.items()}  # JSON keys are strings
        if sorted(self.id2label) != list(range(len(self.id2label))):
            raise ValueError(f"id2label must number the labels 0, 1, ..., got ids {sorted(self.id2label)}.")
        if self.num_labels is not None and self.num_labels != len(self.id2label):
            raise ValueError(
                f"num_labels={self.num_labels} but id2label names {len(self.id2label)} labels; "
                "give one of the two, or make them agree."
            )
        self.num_labels = len(self.id2label)
        inverse = {name: i for i, name in self.id2label.items()}
        if self.label2id is not None and {k: int(v) for k, v in self.label2id.items()} != inverse:
            raise ValueError(f"label2id {self.label2id} is not the inverse of id2label {self.id2label}.")
        self.label2id = inverse
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type {self.problem_type!r} is not supported; use one of {PROBLEM_TYPES} "
                             "or None (decided from the labels).")
        if self.classifier_dropout is not None and not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"BertConfig.classifier_dropout must be in [0, 1) or None, "
                             f"got {self.classifier_dropout!r}.")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    # --- config.json -----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict) -> "BertConfig":
        """Keep the keys BERT uses; a Hugging Face config.json carries many others we can ignore."""
        model_type = data.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(
                f"This checkpoint is a {model_type!r} model, not BERT; kaibert loads only model_type 'bert'."
            )
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("kaibert supports only absolute position embeddings, as in the BERT paper.")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json_file(cls, path: str | Path) -> "BertConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No config file at {path}.")
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def from_pretrained(cls, folder_or_hub_name: str | Path) -> "BertConfig":
        return cls.from_json_file(resolve_file(folder_or_hub_name, "config.json"))

    def to_dict(self) -> dict:
        """The config as Hugging Face writes it, so transformers can load what kaibert saves."""
        data = asdict(self)
        del data["num_labels"]  # transformers counts id2label instead
        data.update(model_type="bert", architectures=["BertModel"], position_embedding_type="absolute")
        return data

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
