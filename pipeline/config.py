"""Configuration: the defaults in ``pipeline/defaults.yaml``, overridden by a user's file.

Load-time errors name the file, the key and the fix; an unknown key is an error (a typo must not
silently leave a default in force).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")
REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration or rule file is missing or malformed. The message says where and how to fix it."""


def load_yaml(path: Path, what: str) -> Any:
    """Read a YAML file; a syntax error names the file, the line and column."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 ({e}); save the {what} file as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{where}: YAML syntax error in {what} file: {problem}") from None


# keys whose value is a number or "auto" (the model's own threshold, review_flags.py)
AUTO_OR_NUMBER = "review.model_confidence_below."


def _merge(base: dict, override: dict, path: Path, prefix: str = "") -> dict:
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base)) or "(none)"
            raise ConfigError(f"{path}: unknown configuration key '{dotted}'; known keys here: {known}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: '{dotted}' must be a mapping, got {type(value).__name__}")
            _merge(base[key], value, path, dotted + ".")
        else:
            default = base[key]
            if dotted.startswith(AUTO_OR_NUMBER) and (value == "auto" or (isinstance(value, (int, float)) and not isinstance(value, bool))):
                base[key] = value
                continue
            if isinstance(default, bool) != isinstance(value, bool) or (
                isinstance(default, (int, float)) and not isinstance(value, (int, float))
            ) or (isinstance(default, str) and not isinstance(value, str)):
                raise ConfigError(
                    f"{path}: '{dotted}' must be {type(default).__name__} like the default {default!r}, "
                    f"got {value!r}"
                )
            base[key] = value
    return base


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict[str, Any]:
    """The effective configuration: defaults, then ``path``, then ``overrides`` (e.g. CLI flags)."""
    config = load_yaml(DEFAULTS_PATH, "default configuration")
    if path is not None:
        user = load_yaml(Path(path), "configuration")
        if user is None:
            user = {}
        if not isinstance(user, dict):
            raise ConfigError(f"{path}: a configuration file must be a mapping of sections, got {type(user).__name__}")
        _merge(config, user, Path(path))
    if overrides:
        _merge(config, copy.deepcopy(overrides), Path("<command line>"))
    if config["segmenter"]["backend"] not in ("rjieba", "jieba"):
        raise ConfigError(f"segmenter.backend must be 'rjieba' or 'jieba', got {config['segmenter']['backend']!r}")
    rate = config["review"]["calibration_rate"]
    if not 0 <= rate <= 1:
        raise ConfigError(f"review.calibration_rate must be between 0 and 1, got {rate}")
    from .retention import parse_age  # a bad retention period fails at load time, not at the first purge

    parse_age(config["retention"]["older_than"], "retention.older_than")
    return config


def resolve_path(value: str | Path) -> Path:
    """What ships with the product (lexicons, rules, scorecard, models, taxonomy): relative paths in
    the configuration are taken from the repository root."""
    p = Path(value)
    return p if p.is_absolute() else REPO_ROOT / p


def working_path(value: str | Path) -> Path:
    """The user's own data (incoming conversations, run folders, the session key): relative paths are
    taken from the current directory, like ``--out`` and the workbench database file — so
    ``cd /srv/zhijian && zhijian nightly`` works wherever the package is installed."""
    return Path(value)
