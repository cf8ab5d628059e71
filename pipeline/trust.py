"""Rules that earn trust: a rule's status from reviewers' verdicts, and which review reasons a
trusted rule the QA lead opted in may drop.

A rule's status (config ``trust``), from its counted verdicts (confirmed k of n judged):

* ``trusted`` — n ≥ ``min_reviews`` and the lower bound of the Wilson interval (``interval``
  coverage) around its precision k/n is ≥ ``trusted_lower_bound``;
* ``rewrite`` — n ≥ ``rewrite_min_reviews`` and k/n < ``rewrite_below``: its false alarms go on the
  rewrite list (pipeline/workbench/trust.py);
* ``watch`` — anything else: too few verdicts to say, or in between.

Skipping review (``review.skip_review_for_trusted_rules``, empty by default). The pipeline cannot
read the workbench at inspect time, so the QA lead lists the rules ``zhijian agreement`` reports as
trusted. A machine review reason is dropped when it comes only from findings of listed rules:

* ``complaint.risk`` — when the rule ``complaint.risk`` is listed;
* ``fatal`` — when every 红线 (fatal) finding is of a listed rule;
* ``score.low`` — when every finding that cost points or was fatal is of a listed rule.

Other reasons (差评, the customer's last words, model confidence) come from no rule and always stay.
A conversation left without reasons is a clean one: it may still fall in ``calibration.sample``,
which keeps trusted rules checked.
"""

from __future__ import annotations

from typing import Any, Iterable

from .stats import wilson_interval

STATUSES = ("trusted", "watch", "rewrite")
STATUS_LABELS = {"trusted": "可信(可免复核)", "watch": "观察", "rewrite": "需改写"}


def trust_settings(config: dict) -> dict[str, float]:
    """The ``trust`` section, checked: levels are shares in [0, 1], review counts ≥ 1."""
    from .config import ConfigError

    t = config["trust"]
    for key in ("interval", "trusted_lower_bound", "rewrite_below"):
        if not 0 <= float(t[key]) <= 1:
            raise ConfigError(f"trust.{key} must be between 0 and 1, got {t[key]}")
    for key in ("min_reviews", "rewrite_min_reviews", "false_alarms_shown"):
        if int(t[key]) < 1:
            raise ConfigError(f"trust.{key} must be at least 1, got {t[key]}")
    return t


def trust_status(confirmed: int, n: int, settings: dict) -> tuple[str, float | None]:
    """(status, lower bound of the precision) for a rule confirmed ``confirmed`` times out of ``n``."""
    low, _ = wilson_interval(confirmed, n, float(settings["interval"]))
    if n >= int(settings["min_reviews"]) and low >= float(settings["trusted_lower_bound"]):
        return "trusted", low
    if n and n >= int(settings["rewrite_min_reviews"]) and confirmed / n < float(settings["rewrite_below"]):
        return "rewrite", low
    return "watch", low


def skip_rules(config: dict) -> frozenset[str]:
    """``review.skip_review_for_trusted_rules`` as a set of rule ids (a list of strings, or an error)."""
    from .config import ConfigError

    listed = config["review"]["skip_review_for_trusted_rules"] or []
    if not isinstance(listed, list) or not all(isinstance(r, str) and r for r in listed):
        raise ConfigError(f"review.skip_review_for_trusted_rules must be a list of rule ids, got {listed!r}")
    return frozenset(listed)


def reasons_from_trusted_rules(reasons: Iterable[str], findings: Iterable[Any], rules: frozenset[str]) -> list[str]:
    """The reasons among ``reasons`` that come only from findings of ``rules`` (module docstring)."""
    if not rules:
        return []
    findings = list(findings)
    fatal_rules = {f.rule for f in findings if f.fatal}
    costly_rules = fatal_rules | {f.rule for f in findings if (f.points or 0) < 0}
    only = {"complaint.risk": "complaint.risk" in rules, "fatal": bool(fatal_rules) and fatal_rules <= rules,
            "score.low": bool(costly_rules) and costly_rules <= rules}
    return [r for r in reasons if only.get(r, False)]
