"""Chapter 06: loading and saving Hugging Face BERT checkpoints.

A checkpoint is a folder with config.json and the weights (model.safetensors, or the older
pytorch_model.bin). kaibert names a few modules more plainly than Hugging Face does; the table
below is the one place where the two naming schemes meet.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from torch import Tensor, nn

from kaibert.config import BertConfig

# Hugging Face module name                      kaibert module name       ({n}: the layer number)
HF_TO_KAIBERT = [
    ("embeddings.word_embeddings",                "embeddings.word_embeddings"),
    ("embeddings.position_embeddings",            "embeddings.position_embeddings"),
    ("embeddings.token_type_embeddings",          "embeddings.token_type_embeddings"),
    ("embeddings.LayerNorm",                      "embeddings.layer_norm"),
    ("encoder.layer.{n}.attention.self.query",    "layers.{n}.attention.query"),
    ("encoder.layer.{n}.attention.self.key",      "layers.{n}.attention.key"),
    ("encoder.layer.{n}.attention.self.value",    "layers.{n}.attention.value"),
    ("encoder.layer.{n}.attention.output.dense",  "layers.{n}.attention.out"),
    ("encoder.layer.{n}.attention.output.LayerNorm", "layers.{n}.attention_norm"),
    ("encoder.layer.{n}.intermediate.dense",      "layers.{n}.feed_forward.up"),
    ("encoder.layer.{n}.output.dense",            "layers.{n}.feed_forward.down"),
    ("encoder.layer.{n}.output.LayerNorm",        "layers.{n}.output_norm"),
    ("pooler.dense",                              "pooler.dense"),
    ("cls.predictions.transform.dense",           "mlm_head.dense"),
    ("cls.predictions.transform.LayerNorm",       "mlm_head.layer_norm"),
    ("cls.predictions.decoder",                   "mlm_head.decoder"),
    ("cls.predictions",                           "mlm_head"),  # the output bias
]

# Weights a checkpoint may hold that kaibert has no use for: the next-sentence head of
# BertForPreTraining checkpoints, and index buffers that older versions saved.
IGNORED = re.compile(r"^(cls\.seq_relationship\..*|.*position_ids|.*embeddings\.token_type_ids)$")
# Older checkpoints, converted from TensorFlow, call LayerNorm's weight and bias gamma and beta.
LEGACY_SUFFIXES = {".gamma": ".weight", ".beta": ".bias"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _pattern(template: str) -> re.Pattern:
    return re.compile("^" + re.escape(template).replace(r"\{n\}", r"(?P<n>\d+)") + r"\.(?P<param>weight|bias)$")


def _rename(name: str, pairs: list[tuple[str, str]]) -> str | None:
    for source, target in pairs:
        match = _pattern(source).match(name)
        if match:
            return target.replace("{n}", match.groupdict().get("n") or "") + "." + match["param"]
    return None


def hf_to_kaibert_name(name: str) -> str | None:
    """'bert.encoder.layer.3.output.dense.weight' -> 'bert.layers.3.feed_forward.down.weight'."""
    for old, new in LEGACY_SUFFIXES.items():
        if name.endswith(old):
            name = name[: -len(old)] + new
    prefix = "bert." if name.startswith("bert.") else ""
    renamed = _rename(name[len(prefix):], HF_TO_KAIBERT)
    return None if renamed is None else prefix + renamed


def kaibert_to_hf_name(name: str) -> str | None:
    """The inverse of hf_to_kaibert_name, read from the same table."""
    prefix = "bert." if name.startswith("bert.") else ""
    renamed = _rename(name[len(prefix):], [(k, h) for h, k in HF_TO_KAIBERT])
    return None if renamed is None else prefix + renamed


# --- finding the files ---------------------------------------------------------------------


def resolve_file(folder_or_hub_name: str | Path, filename: str, required: bool = True) -> Path | None:
    """A file of a checkpoint: from a local folder, or downloaded from the hub by name."""
    folder = Path(folder_or_hub_name)
    if folder.is_dir():
        path = folder / filename
        if path.is_file():
            return path
        if required:
            raise FileNotFoundError(f"The checkpoint folder {folder} has no {filename}.")
        return None
    name = str(folder_or_hub_name)
    if folder.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise FileNotFoundError(
            f"{name!r} is not a checkpoint folder. Pass the folder that holds config.json and "
            "model.safetensors, or a Hugging Face hub name such as 'bert-base-uncased'."
        )
    return _download(name, filename, required)


def _download(hub_name: str, filename: str, required: bool) -> Path | None:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as error:
        raise ImportError(
            f"Loading {hub_name!r} from the Hugging Face hub needs the hub client: "
            "pip install 'kaibert[hub]' (or pass a local checkpoint folder)."
        ) from error
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(hub_name, filename))
    except EntryNotFoundError as error:
        if isinstance(error, LocalEntryNotFoundError):  # offline, and not in the local cache
            raise _hub_error(hub_name, filename, error) from error
        if required:
            raise FileNotFoundError(f"The hub model {hub_name!r} has no {filename}.") from None
        return None
    except Exception as error:  # no network, unknown name, no access
        raise _hub_error(hub_name, filename, error) from error


def _hub_error(hub_name: str, filename: str, error: Exception) -> OSError:
    return OSError(
        f"{hub_name!r} is not a local folder, and fetching its {filename} from the Hugging Face hub "
        f"failed ({type(error).__name__}). If you are offline, pass a local checkpoint folder instead, "
        "for example kaibert.course.pretrained_bert_path(); otherwise check the model name."
    )


def load_checkpoint_state_dict(folder_or_hub_name: str | Path) -> dict[str, Tensor]:
    """The raw weights of a checkpoint, under their Hugging Face names."""
    for filename in WEIGHT_FILES:
        path = resolve_file(folder_or_hub_name, filename, required=False)
        if path is None:
            continue
        if filename.endswith(".safetensors"):
            from safetensors.torch import load_file

            return load_file(path)
        return torch.load(path, map_location="cpu", weights_only=True)
    raise FileNotFoundError(
        f"No weights in {folder_or_hub_name}: expected one of {', '.join(WEIGHT_FILES)} beside config.json."
    )


# --- the models' from_pretrained / save_pretrained ----------------------------------------------


def _fit_to_model(name: str, model_prefix: str) -> str | None:
    """Move a kaibert name into the model's own namespace; None for weights this model lacks."""
    body = name[len("bert."):] if name.startswith("bert.") else name
    if name.startswith("mlm_head."):
        return name if model_prefix else None  # a BertModel has no MLM head
    if body.startswith("pooler.") and model_prefix:
        return None  # BertForMaskedLM, like Hugging Face's, has no pooler
    return model_prefix + body


def load_hf_state_dict(model: nn.Module, state: dict[str, Tensor], strict: bool = True) -> list[str]:
    """Copy Hugging Face weights into a kaibert model; return the names left at their initial values."""
    prefix = getattr(model, "base_prefix", "")
    tied = set(getattr(model, "tied_weights", ()))
    own = model.state_dict()
    converted, unknown, mismatched = {}, [], []
    for hf_name, tensor in state.items():
        if IGNORED.match(hf_name):
            continue
        name = hf_to_kaibert_name(hf_name)
        if name is None:
            unknown.append(hf_name)
            continue
        name = _fit_to_model(name, prefix)
        if name is None or name in tied or name == "mlm_head.decoder.bias":
            continue  # tied to another weight, or not part of this model
        if name not in own:
            unknown.append(hf_name)
        elif own[name].shape != tensor.shape:
            mismatched.append(f"{hf_name}: checkpoint {tuple(tensor.shape)} vs model {tuple(own[name].shape)}")
        else:
            converted[name] = tensor
    missing = sorted(set(own) - set(converted) - tied)
    problems = []
    if mismatched:
        problems.append("shapes that do not fit the config: " + "; ".join(mismatched))
    if unknown:
        problems.append("weights that are not part of a BERT model: " + ", ".join(sorted(unknown)))
    if missing and strict:
        problems.append(
            "weights the checkpoint lacks: " + ", ".join(missing)
            + " (pass strict=False to start those from random values, e.g. an MLM head on a "
            "checkpoint that has none)"
        )
    if problems:
        raise ValueError("This checkpoint does not fit the model. Found " + ". Found ".join(problems) + ".")
    model.load_state_dict(converted, strict=False)
    return missing


class PretrainedMixin:
    """`from_pretrained` and `save_pretrained`, the Hugging Face way, for kaibert's models."""

    hf_architecture = "BertModel"
    base_prefix = ""  # where the encoder lives inside the model: "" or "bert."
    tied_weights: tuple[str, ...] = ()

    @classmethod
    def from_pretrained(cls, folder_or_hub_name: str | Path, strict: bool = True, **config_changes):
        """Build the model from a checkpoint's config.json, then copy its weights in.

        `config_changes` override config values, e.g. attn_implementation="sdpa".
        """
        data = json.loads(resolve_file(folder_or_hub_name, "config.json").read_text())
        config = BertConfig.from_dict({**data, **config_changes})
        model = cls(config)
        missing = load_hf_state_dict(model, load_checkpoint_state_dict(folder_or_hub_name), strict)
        if missing:
            print(f"kaibert: {len(missing)} weights not in the checkpoint start from random values: {missing}")
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> None:
        """Write config.json and model.safetensors that transformers' from_pretrained reads."""
        from safetensors.torch import save_file

        folder = Path(folder)
        self.config.save_pretrained(folder)
        config_path = folder / "config.json"
        data = json.loads(config_path.read_text())
        data["architectures"] = [self.hf_architecture]
        config_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        state = {
            kaibert_to_hf_name(name): tensor.detach().contiguous().cpu()
            for name, tensor in self.state_dict().items()
            if name not in self.tied_weights  # stored once, as the word embeddings
        }
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
