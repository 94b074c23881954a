"""Finding a checkpoint's files: in a local folder, or downloaded once from the Hugging Face hub.

The one place that turns a folder or a hub name into files. The config (config.json), the weight
loader in ``pretrained.py`` (the weights) and the tokenizer (vocab.txt or tokenizer.json) all ask
it, so they accept the same names and fail with the same messages. It imports nothing else from
kaibert, so that any of them can use it.
"""

from __future__ import annotations

from pathlib import Path


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
    if not is_hub_name(folder_or_hub_name):
        raise FileNotFoundError(
            f"{name!r} is not a checkpoint folder. Pass the folder that holds the model's files "
            "(config.json, model.safetensors, vocab.txt), or a Hugging Face hub name such as "
            "'bert-base-uncased'."
        )
    return _download(name, filename, required)


def is_hub_name(name_or_path: str | Path) -> bool:
    """Whether a name that is not a local folder should be looked up on the hub.

    A path (absolute, starting with . or ~, an existing file, more than one /) is never sent
    to the hub: it is a local folder that is missing, and saying so is the helpful error.
    """
    path, name = Path(name_or_path), str(name_or_path)
    return not (path.exists() or path.is_absolute() or name.startswith((".", "/", "~")) or name.count("/") > 1)


def _download(hub_name: str, filename: str, required: bool) -> Path | None:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as error:
        raise ImportError(
            f"Loading {hub_name!r} from the Hugging Face hub needs the hub client: "
            "pip install 'kaibert[hub]' (or pass a local checkpoint folder)."
        ) from error
    try:
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError
    except ImportError:  # older hub clients (0.24, the floor) have them in utils only
        from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

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
        f"failed ({type(error).__name__}). If you are offline, pass a local checkpoint folder instead "
        "(for example kaibert.course.pretrained_bert_path()), or go online; otherwise check the "
        "model name, or the path if you meant a local folder."
    )
