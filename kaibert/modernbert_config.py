"""Chapter 11: ModernBertConfig, every size and switch of a ModernBERT model, read from and written to config.json.

The field names are those of Hugging Face's ModernBERT (model_type "modernbert"), so a folder
that transformers writes loads here and a folder written here loads in transformers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from kaibert.hub import resolve_file

LAYER_TYPES = ("full_attention", "sliding_attention")
MODERNBERT_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "tanh")
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa")
# The thetas ModernBERT was trained with: a long wavelength for the layers that see the whole
# sequence, the classic 10,000 for the local layers, which never see a distance past their window.
DEFAULT_THETA = {"full_attention": 160_000.0, "sliding_attention": 10_000.0}
# Keys of transformers' config.json that describe how to run the model, not the model itself,
# and older spellings that from_dict translates; anything else unknown is ignored, as in BertConfig.
LEGACY_KEYS = ("global_attn_every_n_layers", "global_rope_theta", "local_rope_theta", "rope_theta", "rope_scaling")


@dataclass
class ModernBertConfig:
    """The defaults are ModernBERT-base (Warner et al., 2024): 22 layers, hidden size 768, 12 heads,
    every third layer global (the first included), the others attend to a window of 128 tokens.
    """

    vocab_size: int = 50368
    hidden_size: int = 768
    intermediate_size: int = 1152  # the width of each GeGLU half: Wi maps H -> 2 * I
    num_hidden_layers: int = 22
    num_attention_heads: int = 12
    hidden_activation: str = "gelu"  # GeGLU = gelu(x W) * (x V)
    max_position_embeddings: int = 8192  # the longest sequence the model was trained on
    initializer_range: float = 0.02
    initializer_cutoff_factor: float = 2.0  # weights start from N(0, std) truncated at +-2 std
    norm_eps: float = 1e-5
    norm_bias: bool = False  # LayerNorms with a scale only
    pad_token_id: int | None = 50283
    eos_token_id: int | None = 50282
    bos_token_id: int | None = 50281
    cls_token_id: int | None = 50281
    sep_token_id: int | None = 50282
    attention_bias: bool = False
    attention_dropout: float = 0.0
    # One entry per layer, "full_attention" (global) or "sliding_attention" (local); None: every
    # third layer global, starting with the first.
    layer_types: list[str] | None = None
    # One RoPE per layer type: {"full_attention": {"rope_type": "default", "rope_theta": 160000.0}, ...}.
    rope_parameters: dict[str, dict] | None = None
    local_attention: int = 128  # a local layer's whole window: local_attention // 2 tokens each side
    embedding_dropout: float = 0.0
    mlp_bias: bool = False
    mlp_dropout: float = 0.0
    decoder_bias: bool = True
    classifier_pooling: str = "cls"
    classifier_dropout: float = 0.0
    classifier_bias: bool = False  # the MLM head's dense layer, as transformers names it
    classifier_activation: str = "gelu"
    # With labels, ModernBertForMaskedLM scores only the labelled positions (logits (M, V)).
    sparse_prediction: bool = False
    sparse_pred_ignore_index: int = -100
    tie_word_embeddings: bool = True
    # How to run, not what the model is (not written to config.json): "sdpa" calls PyTorch's fused
    # attention kernel, "eager" the readable one of chapter 03, which can return the weights.
    attn_implementation: str = field(default="sdpa", compare=False)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "max_position_embeddings", "local_attention"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModernBertConfig.{name} must be a positive integer, got {value!r}.")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) is not divisible by num_attention_heads "
                f"({self.num_attention_heads}): each head gets hidden_size / heads dimensions. "
                f"Pick a head count that divides {self.hidden_size}."
            )
        if self.head_dim % 2:
            raise ValueError(
                f"head_dim = hidden_size / num_attention_heads = {self.head_dim} is odd, but RoPE rotates "
                "pairs of dimensions. Choose sizes that give an even head_dim."
            )
        for name in ("hidden_activation", "classifier_activation"):
            if getattr(self, name) not in MODERNBERT_ACTIVATIONS:
                raise ValueError(f"{name} {getattr(self, name)!r} is not supported; use one of {MODERNBERT_ACTIVATIONS}.")
        if self.attn_implementation not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(f"attn_implementation {self.attn_implementation!r} is not supported; "
                             f"use one of {ATTENTION_IMPLEMENTATIONS}.")
        for name in ("attention_dropout", "embedding_dropout", "mlp_dropout", "classifier_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"ModernBertConfig.{name} must be in [0, 1), got {getattr(self, name)!r}.")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id {self.pad_token_id} is outside the vocabulary (size {self.vocab_size}).")
        if self.layer_types is None:
            self.layer_types = every_nth_global(self.num_hidden_layers, 3)
        self.layer_types = list(self.layer_types)
        self._check_layer_types()
        self.rope_parameters = self._full_rope_parameters(self.rope_parameters)

    def _check_layer_types(self) -> None:
        if len(self.layer_types) != self.num_hidden_layers:
            raise ValueError(
                f"layer_types has {len(self.layer_types)} entries but num_hidden_layers is "
                f"{self.num_hidden_layers}: give one entry per layer."
            )
        bad = sorted({t for t in self.layer_types if t not in LAYER_TYPES}, key=str)
        if bad:
            raise ValueError(
                f"layer_types holds {bad}; each layer is 'full_attention' (global) or "
                "'sliding_attention' (local window), e.g. every_nth_global(num_hidden_layers, 3)."
            )

    def _full_rope_parameters(self, given: dict | None) -> dict[str, dict]:
        """One {"rope_type": "default", "rope_theta": ...} per layer type, defaults filled in."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(LAYER_TYPES))
        if unknown:
            raise ValueError(f"rope_parameters has entries {unknown}; its keys are layer types {LAYER_TYPES}.")
        full = {}
        for layer_type in LAYER_TYPES:
            params = {"rope_type": "default", "rope_theta": DEFAULT_THETA[layer_type], **(given.get(layer_type) or {})}
            if params["rope_type"] != "default":
                raise ValueError(
                    f"rope_parameters[{layer_type!r}] asks for rope_type {params['rope_type']!r}; kaibert "
                    "implements the plain RoPE of Su et al. (rope_type 'default') only."
                )
            theta = params["rope_theta"]
            if not isinstance(theta, (int, float)) or isinstance(theta, bool) or not theta > 1 or not math.isfinite(theta):
                raise ValueError(f"rope_parameters[{layer_type!r}]['rope_theta'] must be a number above 1, got {theta!r}.")
            params["rope_theta"] = float(theta)
            full[layer_type] = params
        return full

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def window(self) -> int:
        """How far a local layer looks each side: query i sees keys j with |i - j| <= window."""
        return self.local_attention // 2

    def rope_theta(self, layer_type: str) -> float:
        return self.rope_parameters[layer_type]["rope_theta"]

    # --- config.json -----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict) -> "ModernBertConfig":
        """Keep the keys ModernBERT uses and translate the older spellings still on the hub
        (global_attn_every_n_layers, global_rope_theta, local_rope_theta)."""
        model_type = data.get("model_type")
        if model_type != "modernbert":
            found = f"a {model_type!r} model" if model_type else "a config.json without a model_type"
            hint = " Load BERT checkpoints with kaibert.BertModel or BertForMaskedLM." if model_type == "bert" else ""
            raise ValueError(f"This checkpoint is {found}, not ModernBERT; ModernBertConfig reads model_type "
                             f"'modernbert' only.{hint}")
        data = dict(data)
        if data.get("rope_scaling"):
            raise ValueError(f"This config asks for RoPE scaling {data['rope_scaling']!r}; kaibert implements the "
                             "plain RoPE of Su et al. only.")
        if data.get("layer_types") is None:
            every = data.get("global_attn_every_n_layers", 3)
            layers = data.get("num_hidden_layers", cls.num_hidden_layers)
            if not isinstance(every, int) or every < 1:
                raise ValueError(f"global_attn_every_n_layers must be a positive integer, got {every!r}.")
            data["layer_types"] = every_nth_global(layers, every)
        if data.get("rope_parameters") is None:
            data["rope_parameters"] = {
                "full_attention": {"rope_theta": data.get("global_rope_theta", data.get("rope_theta", DEFAULT_THETA["full_attention"]))},
                "sliding_attention": {"rope_theta": data.get("local_rope_theta", DEFAULT_THETA["sliding_attention"])},
            }
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json_file(cls, path: str | Path) -> "ModernBertConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No config file at {path}.")
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def from_pretrained(cls, folder_or_hub_name: str | Path) -> "ModernBertConfig":
        return cls.from_json_file(resolve_file(folder_or_hub_name, "config.json"))

    def to_dict(self) -> dict:
        """The config as transformers writes it, so transformers can load what kaibert saves."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "attn_implementation"}
        data["rope_parameters"] = {k: dict(v) for k, v in self.rope_parameters.items()}
        data.update(model_type="modernbert", architectures=["ModernBertModel"])
        return data

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def every_nth_global(num_layers: int, every: int) -> list[str]:
    """ModernBERT's pattern: layer 0, every, 2 * every, ... are global, the others local."""
    return ["full_attention" if i % every == 0 else "sliding_attention" for i in range(num_layers)]
