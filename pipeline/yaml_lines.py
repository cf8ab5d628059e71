"""YAML files a QA lead edits (lexicons, rules, the scorecard), read with the line of every mapping, so an
error names the file and the line to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError


# libyaml's parser when PyYAML has it (5–10 × faster on the lexicons, most of the start-up's file reading); the
# constructor is the same safe one either way, and both give every node its line
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):
    """A safe loader that remembers the line of every mapping, for error messages."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_with_lines(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 ({e}); save the {what} file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {getattr(e, 'problem', None) or e}") from None


def strip_lines(value: Any) -> Any:
    """The parsed YAML without the ``__line__`` bookkeeping."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value
