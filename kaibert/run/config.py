"""Configs read from YAML: dataclasses whose fields carry a default and one line of help.

A config class subclasses ``Section`` and declares its keys with ``key(default, help)``::

    @dataclass
    class Budget(Section):
        max_steps: int = key(1000, "optimizer steps")

        def check(self) -> None:                       # the one validator of the config
            require(is_int(self.max_steps) and self.max_steps >= 1, "max_steps", self.max_steps,
                    "use a positive integer")

``Budget.load(path)`` (the same as ``load_config(path, Budget)``) reads the file, refuses unknown keys (naming the closest known one),
reads numbers such as ``1e-3`` that YAML 1.1 leaves as strings, builds nested sections, and
calls ``check()``. The help lines are the only description of the keys: the README's reference
is generated from them (``kaibert.run.reference``).
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config file with an unknown key or an impossible value; the message names the key."""


def key(default, meaning: str):
    """A config key: its default and one line on what it does (the README's reference reads both)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": meaning})
    return field(default=default, metadata={"help": meaning})


def default_of(f) -> Any:
    """The default value of a dataclass field (calling its factory when it has one)."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def require(condition: bool, name: str, value: Any, what: str) -> None:
    """Raise ConfigError ``'name' = value is impossible: what`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"'{name}' = {value!r} is impossible: {what}")


def choose(table: dict, name: Any, what: str) -> Any:
    """``table[name]`` from a registry (tasks, architectures), or a ValueError listing what there is."""
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; choose one of {sorted(table)}")
    return table[name]


def require_seed_and_output(seed: Any, output_dir: Any, example: str) -> None:
    """The two keys every run has: a seed to repeat it, and the folder it writes to."""
    require(is_int(seed) and seed >= 0, "seed", seed, "use a non-negative integer")
    require(isinstance(output_dir, str) and output_dir != "", "output_dir", output_dir,
            f"name a folder, e.g. {example}")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- YAML numbers --------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def as_float(value: Any) -> Any:
    """``'1e-3'`` -> ``0.001``: YAML 1.1 (PyYAML) reads an exponent without a dot as a string.

    Anything that does not look like a number is left as it is, for the check to name.
    """
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return value


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def float_keys(cls) -> set[str]:
    """The fields of a dataclass that hold one float (``float`` or ``float | None``)."""
    return {name for name, hint in _hints(cls).items()
            if name in {f.name for f in fields(cls)} and hint in (float, float | None)}


def float_list_keys(cls) -> set[str]:
    """The fields of a dataclass that hold a list of floats (``list[float]``)."""
    return {name for name, hint in _hints(cls).items() if hint == list[float]}


def read_numbers(cls, values: dict) -> dict:
    """``values`` with the strings YAML left in float fields of ``cls`` read as numbers."""
    floats, lists = float_keys(cls), float_list_keys(cls)
    out = {}
    for name, value in values.items():
        if name in floats:
            value = as_float(value)
        elif name in lists and isinstance(value, (list, tuple)):
            value = [as_float(v) for v in value]
        out[name] = value
    return out


def unknown_key(name: str, known, where: str = "") -> ConfigError:
    """The error for a key that is not one of ``known``, with the closest known key as a hint."""
    prefix = f"{where}." if where else ""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
    scope = f"the keys of '{where}'" if where else "the keys"
    return ConfigError(f"unknown key '{prefix}{name}'.{hint} {scope.capitalize()} are: "
                       f"{', '.join(sorted(known))}")


# --- sections ------------------------------------------------------------------------------------


@dataclass
class Section:
    """A part of a config: keys with defaults and help, read from a mapping and checked once."""

    @classmethod
    def from_dict(cls, values: Any, where: str = ""):
        """Build the section from a parsed YAML mapping: unknown keys refused, numbers read."""
        if values is None:
            values = {}
        if not isinstance(values, dict):
            if where:
                raise ConfigError(f"'{where}' must be a mapping of keys to values, got {values!r}")
            raise ConfigError("a config must be a mapping of keys to values, with the keys "
                              + ", ".join(f.name for f in fields(cls)))
        known = {f.name for f in fields(cls)}
        for name in values:
            if name not in known:
                raise unknown_key(name, known, where)
        hints = _hints(cls)
        clean = read_numbers(cls, values)
        for name, value in clean.items():
            hint = hints[name]
            if isinstance(hint, type) and issubclass(hint, Section):
                clean[name] = hint.from_dict(value, f"{where}.{name}" if where else name)
        return cls(**clean)

    def check(self) -> None:
        """Raise ConfigError naming the first key whose value cannot work (top-level sections)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def parse(cls, values: Any):
        """A checked config from a plain dict (a parsed YAML file)."""
        return config_from_dict(values, cls)

    @classmethod
    def load(cls, path: str | Path):
        """Read and check a YAML config file."""
        return load_config(path, cls)


def config_from_dict(values: Any, kind: type[Section]):
    """A checked config of class ``kind`` from a plain dict (a parsed YAML file)."""
    config = kind.from_dict(values)
    config.check()
    return config


def load_config(path: str | Path, kind: type[Section]):
    """Read and check a YAML config file of class ``kind``: the one reader of every run's config."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found; see configs/ for examples")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    return config_from_dict(values or {}, kind)
