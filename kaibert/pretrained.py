"""Chapter 06: loading and saving Hugging Face BERT checkpoints.

A checkpoint is a folder with config.json and the weights (model.safetensors, or the older
pytorch_model.bin). kaibert names a few modules more plainly than Hugging Face does; the table
below is the one place where the two naming schemes meet.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from kaibert.config import BertConfig
from kaibert.hub import resolve_file  # noqa: F401  (chapter 06 imports it from here)

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
    ("cls.seq_relationship",                      "nsp_head"),  # chapter 10: is B the next sentence?
    ("classifier",                                "classifier"),  # chapter 10: the fine-tuned head
    ("qa_outputs",                                "qa_outputs"),  # chapter 10: span start and end scores
]

# Weights a checkpoint may hold that a model may have no use for: the next-sentence head of
# BertForPreTraining checkpoints (when loaded into a model without one), and index buffers that
# older versions saved.
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


HEADS = ("mlm_head.", "nsp_head.", "classifier.", "qa_outputs.")  # what sits on top of the encoder, outside "bert."


def _fit_to_model(name: str, model_prefix: str) -> str | None:
    """Move a kaibert name into the model's own namespace; None for weights this model lacks."""
    body = name[len("bert."):] if name.startswith("bert.") else name
    if body.startswith(HEADS):
        return body if model_prefix else None  # a bare BertModel has no heads
    return model_prefix + body


def _is_head_or_buffer(hf_name: str, name: str | None) -> bool:
    """Weights of some BERT model, just not of this one: another task's head, a pooler, a buffer."""
    if IGNORED.match(hf_name):
        return True
    if name is None:
        return False
    body = name[len("bert."):] if name.startswith("bert.") else name
    return body.startswith(HEADS + ("pooler.",))


def load_hf_state_dict(model: nn.Module, state: dict[str, Tensor], strict: bool = True,
                       ignore_mismatched_sizes: bool = False) -> list[str]:
    """Copy Hugging Face weights into a kaibert model; return the names left at their initial values.

    Weights the model expects to train from scratch (its ``new_head_weights``, e.g. a classifier on
    an encoder-only checkpoint) may be missing even when ``strict``; everything else must fit.
    """
    prefix = getattr(model, "base_prefix", "")
    tied = set(getattr(model, "tied_weights", ()))
    new_heads = tuple(getattr(model, "new_head_weights", ()))
    own = model.state_dict()
    converted, unknown, mismatched = {}, [], []
    for hf_name, tensor in state.items():
        name = hf_to_kaibert_name(hf_name)
        fitted = None if name is None else _fit_to_model(name, prefix)
        if fitted in tied or fitted == "mlm_head.decoder.bias":
            continue  # tied to another weight: stored once
        if fitted is None or fitted not in own:
            if not _is_head_or_buffer(hf_name, name):
                unknown.append(hf_name)
            continue  # part of another BERT model (another head), not of this one
        if own[fitted].shape != tensor.shape:
            if fitted.startswith("classifier."):
                if ignore_mismatched_sizes:
                    continue  # a new classifier for another set of labels
                raise ValueError(
                    f"The checkpoint's classifier has {tensor.shape[0]} labels, but this model's config "
                    f"asks for num_labels={own[fitted].shape[0]}. Load it with num_labels={tensor.shape[0]} "
                    f"to use the trained head, or pass ignore_mismatched_sizes=True to start a new "
                    f"{own[fitted].shape[0]}-label head on the checkpoint's encoder."
                )
            mismatched.append(f"{hf_name}: checkpoint {tuple(tensor.shape)} vs model {tuple(own[fitted].shape)}")
        else:
            converted[fitted] = tensor
    missing = sorted(set(own) - set(converted) - tied)
    must_have = [m for m in missing if not m.startswith(new_heads)]
    problems = []
    if mismatched:
        problems.append("shapes that do not fit the config: " + "; ".join(mismatched))
    if unknown:
        problems.append("weights that are not part of a BERT model: " + ", ".join(sorted(unknown)))
    if must_have and strict:
        problems.append(
            "weights the checkpoint lacks: " + ", ".join(must_have)
            + " (pass strict=False to start those from random values, e.g. an MLM head on a "
            "checkpoint that has none)"
        )
    if problems:
        raise ValueError("This checkpoint does not fit the model. Found " + ". Found ".join(problems) + ".")
    model.load_state_dict(converted, strict=False)
    return missing


def write_checkpoint(model: nn.Module, folder: str | Path, hf_name=lambda name: name) -> None:
    """The Hugging Face folder of any kaibert model: config.json naming its architecture, and
    model.safetensors with its weights under the names transformers uses (``hf_name`` maps a
    kaibert name to it). Tied weights are stored once, as the word embeddings."""
    from safetensors.torch import save_file

    folder = Path(folder)
    model.config.save_pretrained(folder)
    config_path = folder / "config.json"
    data = json.loads(config_path.read_text())
    data["architectures"] = [model.hf_architecture]
    config_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tied = set(getattr(model, "tied_weights", ()))
    state = {hf_name(name): tensor.detach().contiguous().cpu()
             for name, tensor in model.state_dict().items() if name not in tied}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


class PretrainedMixin:
    """`from_pretrained` and `save_pretrained`, the Hugging Face way, for kaibert's models."""

    hf_architecture = "BertModel"
    base_prefix = ""  # where the encoder lives inside the model: "" or "bert."
    tied_weights: tuple[str, ...] = ()
    new_head_weights: tuple[str, ...] = ()  # prefixes a checkpoint may lack: heads trained from scratch

    @classmethod
    def from_pretrained(cls, folder_or_hub_name: str | Path, strict: bool = True,
                        ignore_mismatched_sizes: bool = False, **config_changes):
        """Build the model from a checkpoint's config.json, then copy its weights in.

        `config_changes` override config values, e.g. attn_implementation="sdpa" or num_labels=3.
        Weights the checkpoint lacks but this model can learn from scratch (a classifier on an
        encoder-only checkpoint) start from random values, with a warning that names them.
        """
        data = json.loads(resolve_file(folder_or_hub_name, "config.json").read_text())
        if "num_labels" in config_changes and "id2label" not in config_changes:
            data.pop("id2label", None), data.pop("label2id", None)  # new labels replace the old names
        config = BertConfig.from_dict({**data, **config_changes})
        model = cls(config)
        state = load_checkpoint_state_dict(folder_or_hub_name)
        missing = load_hf_state_dict(model, state, strict, ignore_mismatched_sizes)
        new = [m for m in missing if m.startswith(tuple(cls.new_head_weights))]
        if new:
            warnings.warn(
                f"Some weights of {cls.__name__} were not in the checkpoint at {folder_or_hub_name} and "
                f"start from random values: {new}. Train the model on a downstream task (fine-tune it) "
                "before trusting its predictions.", stacklevel=2)
        if len(missing) > len(new):
            rest = [m for m in missing if m not in new]
            print(f"kaibert: {len(rest)} weights not in the checkpoint start from random values: {rest}")
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> None:
        """Write config.json and model.safetensors that transformers' from_pretrained reads."""
        write_checkpoint(self, folder, hf_name=kaibert_to_hf_name)
