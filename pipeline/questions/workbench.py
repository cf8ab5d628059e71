"""Questions added in the workbench (issue 17): trained and answered without a line in rules.yaml.

A QA lead adds a question on the workbench's 评分表问题 page (the ``questions`` table); inspectors
answer it (``question_answers``). ``zhijian train question KEY --database-url URL`` reads both from
the database — the question's definition and people's answers, the same records ``zhijian
export-labels`` writes to ``question_answers.jsonl`` (:func:`pipeline.workbench.question_labels.answer_records`)
— builds the rule a rules.yaml question would be (answerer ``classifier``, thresholds from the
``questions:`` configuration) and trains it. The bundle it installs in ``models/question_<name>/``
carries the definition (``metadata.json``: ``definition``, ``source: workbench``), so it is
self-contained: :func:`add_installed_questions` makes ``zhijian inspect`` answer every such bundle
whose id rules.yaml doesn't hold (rules.yaml wins), found once when the inspector starts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..config import ConfigError, load_yaml, resolve_path

SOURCE = "workbench"  # definition.source of a bundle trained from a workbench question
DEFINITION_KEY = "definition"  # the metadata.json key holding it
MODEL_PREFIX = "question_"  # question.refund_time → models/question_refund_time/
CATEGORY = "服务流程"
SEVERITY = "minor"
READS = "whole"


def model_name(key: str) -> str:
    """The models/ folder of a workbench question: ``question.refund_time`` → ``question_refund_time``."""
    return MODEL_PREFIX + key.split(".", 1)[1]


def definition_of(key: str, text: str, choices: list[str], item: str | None) -> dict[str, Any]:
    """What the bundle carries of a workbench question. The answer that costs points is the
    second choice (是 / 否 / 不适用 → 否), as the rules.yaml lines the 评分表问题 page shows say."""
    choices = list(choices)
    return {"key": key, "text": text, "choices": choices, "item": item, "source": SOURCE,
            "fails_on": choices[1], "reads": READS}


def message_of(definition: dict[str, Any]) -> str:
    return f"{definition['text']}——模型判断为「{definition['fails_on']}」(置信度 {{confidence}})"


def question_rule(definition: dict[str, Any], model: str, min_confidence: float, accuracy_floor: float):
    """The ``question`` rule of a workbench question (pipeline/rules/question.py answers it)."""
    from ..rules import Rule
    from . import KIND

    params = {"question": definition["text"], "choices": list(definition["choices"]), "fails_on": definition.get("fails_on"),
              "model": model, "reads": definition.get("reads", READS), "min_confidence": float(min_confidence),
              "accuracy_floor": float(accuracy_floor)}
    return Rule(definition["key"], KIND, CATEGORY, SEVERITY, message_of(definition),
                f"workbench 评分表问题 ({definition.get('item') or '未定评分项'})", params)


def rule_for_training(definition: dict[str, Any], config: dict):
    """The rule a rules.yaml question with these lines and no thresholds gets: the ``questions:``
    configuration's ``min_confidence`` and ``accuracy_floor``."""
    q = config["questions"]
    return question_rule(definition, model_name(definition["key"]), q["min_confidence"], q["accuracy_floor"])


def rules_yaml_ids(config: dict) -> set[str]:
    """Every rule id of the configured rules.yaml, disabled ones too (they win over a bundle as well)."""
    raw = load_yaml(resolve_path(config["paths"]["rules"]), "rules") or {}
    return {r["id"] for r in raw.get("rules") or [] if isinstance(r, dict) and r.get("id")}


def installed_definitions(models_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(folder name, metadata)`` of the bundles in ``models_dir`` that carry a workbench question's
    definition (``models/question_*/metadata.json``), in name order."""
    from ..models.store import METADATA_FILE, read_metadata

    out = []
    for meta_file in sorted(Path(models_dir).glob(f"{MODEL_PREFIX}*/{METADATA_FILE}")):
        meta = read_metadata(meta_file.parent)
        definition = meta.get(DEFINITION_KEY)
        if isinstance(definition, dict) and definition.get("source") == SOURCE:
            out.append((meta_file.parent.name, meta))
    return out


def installed_rules(config: dict, taken: set[str] | None = None) -> list[tuple[Any, str | None]]:
    """``(rule, scorecard item)`` of the installed workbench-question bundles whose id is not in
    rules.yaml (nor in ``taken``). A definition that is not a valid question is an error naming the bundle."""
    from . import validate_params

    found = installed_definitions(resolve_path(config["paths"]["models"]))
    if not found:
        return []
    taken = (taken or set()) | rules_yaml_ids(config)
    out = []
    for name, meta in found:
        definition = meta[DEFINITION_KEY]
        key = definition.get("key")
        if key in taken:
            continue
        rule = question_rule(definition, name, meta.get("min_confidence", config["questions"]["min_confidence"]),
                             meta.get("accuracy_floor", config["questions"]["accuracy_floor"]))
        validate_params(rule.params, f"{config['paths']['models']}/{name}/metadata.json ({key})")
        taken.add(key)
        out.append((rule, definition.get("item")))
    return out


def add_installed_questions(rule_set, scorecard, config: dict) -> list[str]:
    """Answer the installed workbench questions too (``zhijian inspect``, once at start-up): their
    rules run after rules.yaml's (their features read the other rules' findings), and a question
    naming a scorecard item is priced by it (only once 正式: pipeline/rules/question.py). Returns the ids added."""
    items = {it.id: it for it in scorecard.items}
    added = []
    for rule, item_id in installed_rules(config, {r.id for r in rule_set.rules}):
        item = items.get(item_id)
        if item is not None:
            item.rules = item.rules | {rule.id}
            rule.severity = item.severity or rule.severity
        rule_set.rules.append(rule)
        added.append(rule.id)
    return added


# --------------------------------------------------------------------------- reading the workbench database


def read_database(url: str, question_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any]]:
    """From the workbench database at ``url``: the question's definition (None when the workbench
    has no such question), the records of people's answers to it (what ``zhijian export-labels``
    writes to question_answers.jsonl, masked transcripts), and their description for the metadata
    (``path``: the URL without its password, sha256 of the records as the export writes them)."""
    import orjson
    from sqlalchemy import select
    from sqlalchemy.engine import make_url

    from ..workbench.database import database_url, open_database, safe_url
    from ..workbench.db import Question
    from ..workbench.question_labels import KEY, answer_records

    url = database_url(None, url)  # a malformed URL: an error naming --database-url
    where, parsed = safe_url(url), make_url(url)
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:" and not Path(database).exists():
        raise ConfigError(f"--database-url {where}: no such database file; give the workbench's database "
                          f"(zhijian serve --database-url …, env ZHIJIAN_DATABASE_URL or workbench.database_url)")
    engine, factory = open_database(url, migrate=False)
    try:
        with factory() as s:
            row = s.scalar(select(Question).where(Question.key == question_id))
            definition = None if row is None else definition_of(row.key, row.text, row.choices, row.item)
            records = answer_records(s)
    finally:
        engine.dispose()
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    mine = [r for r in records if question_id in r[KEY]]
    return definition, mine, {"path": where, "source": "database", "sha256": hashlib.sha256(data).hexdigest(), "rows": len(mine)}
