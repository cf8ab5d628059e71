"""Gold labels: the schema of ``../shared/GOLD_RUBRIC.md``, checks, agreement and the merge.

One label record per conversation::

    {"id", "greeting_missing": bool|null, "closing_missing": bool|null, "forbidden_turns": [i, ...],
     "empathy_missing": bool|null, "complaint_risk": bool, "praise": bool,
     "resolved": "yes"|"no"|"unclear", "end_sentiment": "negative"|"neutral"|"positive", "note": str}

Two annotators label every conversation independently; where they differ, an adjudicator's
reading decides (:func:`merge`). Agreement is Cohen's κ per label (:func:`agreement`);
``forbidden_turns`` is compared per agent turn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..config import ConfigError
from ..stats import cohen_kappa

#: label → the values it may take (``list`` = a list of agent turn indices)
LABELS: dict[str, tuple | type] = {
    "greeting_missing": (True, False, None),
    "closing_missing": (True, False, None),
    "forbidden_turns": list,
    "empathy_missing": (True, False, None),
    "complaint_risk": (True, False),
    "praise": (True, False),
    "resolved": ("yes", "no", "unclear"),
    "end_sentiment": ("negative", "neutral", "positive"),
}
KEYS = {"id", *LABELS, "note"}


def label_errors(labels: dict[str, Any], turns: list[dict[str, Any]]) -> list[str]:
    """What is wrong with one label record (empty when it is valid for these turns)."""
    errors = []
    keys = set(labels)
    if keys != KEYS:
        errors.append(f"keys: missing {sorted(KEYS - keys)}, extra {sorted(keys - KEYS)}")
    for name, allowed in LABELS.items():
        value = labels.get(name)
        if allowed is list:
            if not isinstance(value, list) or any(
                not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(turns) or turns[i]["role"] != "agent"
                for i in value
            ):
                errors.append(f"{name} must be a list of agent turn indices, got {value!r}")
        elif not any(value is v if v is None or isinstance(v, bool) else value == v and not isinstance(value, bool) for v in allowed):
            errors.append(f"{name} must be one of {allowed}, got {value!r}")
    if not isinstance(labels.get("note", ""), str):
        errors.append("note must be a string")
    return errors


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ConfigError(f"{path}:{n}: not JSON ({e})") from None
    return out


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False))
            fh.write("\n")
    tmp.replace(path)


def _agent_turn_flags(labels: dict[str, Any], turns: list[dict[str, Any]]) -> list[bool]:
    chosen = set(labels["forbidden_turns"])
    return [t["i"] in chosen if "i" in t else i in chosen for i, t in enumerate(turns) if t["role"] == "agent"]


def agreement(a: dict[str, dict], b: dict[str, dict], conversations: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """Per label: items compared, raw agreement and Cohen's κ between annotators ``a`` and ``b``
    (both ``{id: labels}``). ``forbidden_turns`` is judged per agent turn; ``forbidden_any`` per
    conversation."""
    ids = sorted(set(a) & set(b))
    out: dict[str, dict[str, Any]] = {}

    def add(name: str, xs: list, ys: list) -> None:
        k = cohen_kappa(xs, ys)
        out[name] = {"n": len(xs), "agreement": round(sum(x == y for x, y in zip(xs, ys)) / len(xs), 4) if xs else None,
                     "kappa": round(k, 4) if k is not None else None,
                     "positives_a": sum(x is True for x in xs), "positives_b": sum(y is True for y in ys)}

    for name in LABELS:
        if name == "forbidden_turns":
            xs, ys = [], []
            for i in ids:
                turns = conversations[i]["turns"]
                xs += _agent_turn_flags(a[i], turns)
                ys += _agent_turn_flags(b[i], turns)
            add("forbidden_turns", xs, ys)
            add("forbidden_any", [bool(a[i]["forbidden_turns"]) for i in ids], [bool(b[i]["forbidden_turns"]) for i in ids])
        else:
            add(name, [a[i][name] for i in ids], [b[i][name] for i in ids])
    return out


def merge_turn_labels(conversations: dict[str, dict], a: dict[str, dict], b: dict[str, dict], adjudication: dict[str, dict],
                      key: str, role: str) -> tuple[dict[str, list[int]], float | None]:
    """Two readers' turn labels (``{id: {key: [turn, …]}}``, e.g. ``emotion_turns`` of customer turns) and the
    adjudicator's decisions merged: a turn both marked stands; a disputed turn is the adjudicator's. Returns the
    labels per conversation and Cohen's κ between the readers over every turn of ``role``. A reading that misses a
    conversation, marks another role's turn, or an adjudication of what was not disputed is an error."""
    if not set(conversations) == set(a) == set(b):
        raise ValueError(f"{key}: the readings and the conversations differ ({len(a)}, {len(b)}, {len(conversations)} ids)")
    disputed = {c for c in conversations if set(a[c][key]) != set(b[c][key])}
    if set(adjudication) != disputed:
        raise ValueError(f"{key}: adjudicated {sorted(set(adjudication) ^ disputed)[:5]} … — only the disputed conversations, all of them")
    merged: dict[str, list[int]] = {}
    xs: list[bool] = []
    ys: list[bool] = []
    for cid, conv in conversations.items():
        sa, sb = set(a[cid][key]), set(b[cid][key])
        decided = set(adjudication[cid][key]) if cid in adjudication else set()
        own = [i for i, t in enumerate(conv["turns"]) if t["role"] == role]
        if not (sa | sb) <= set(own) or not decided <= sa ^ sb:
            raise ValueError(f"{cid}: {key} marks a turn whose role is not {role}, or the adjudication decides an undisputed turn")
        merged[cid] = sorted((sa & sb) | decided)
        xs += [i in sa for i in own]
        ys += [i in sb for i in own]
    return merged, cohen_kappa(xs, ys)


def disputes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The labels two annotations of one conversation disagree on."""
    out = []
    for name in LABELS:
        x, y = a[name], b[name]
        if name == "forbidden_turns":
            x, y = sorted(x), sorted(y)
        if x != y:
            out.append(name)
    return out


def merge(a: dict[str, Any], b: dict[str, Any], adjudication: dict[str, Any] | None) -> dict[str, Any]:
    """The gold labels of one conversation: what both annotators said, and the adjudicator's
    decision on every label they disagree on. Raises when a disputed label has no decision."""
    gold: dict[str, Any] = {}
    missing = []
    for name in LABELS:
        if name in disputes(a, b):
            if adjudication is None or name not in adjudication:
                missing.append(name)
                continue
            gold[name] = adjudication[name]
        else:
            gold[name] = a[name]
    if missing:
        raise ConfigError(f"{a['id']}: annotators disagree on {missing} and the adjudication has no decision for it")
    gold["forbidden_turns"] = sorted(gold["forbidden_turns"])
    notes = [n for n in (a.get("note"), b.get("note"), (adjudication or {}).get("note")) if n]
    gold["note"] = " | ".join(notes)
    return gold


def needs_review(gold: dict[str, Any]) -> bool:
    """Gold "a person must look at this" (issue 10): any 服务忌语, complaint risk, missing
    empathy, an unresolved need or a negative end."""
    return bool(
        gold["forbidden_turns"]
        or gold["complaint_risk"] is True
        or gold["empathy_missing"] is True
        or gold["resolved"] == "no"
        or gold["end_sentiment"] == "negative"
    )


def has_violation(gold: dict[str, Any]) -> bool:
    """The agent did something the scorecard deducts for: a missing greeting, closing or empathy,
    or a 服务忌语 (a customer's complaint threat alone is not the agent's fault)."""
    return bool(
        gold["greeting_missing"] is True
        or gold["closing_missing"] is True
        or gold["empathy_missing"] is True
        or gold["forbidden_turns"]
    )


def merge_annotations(conversations: list[dict[str, Any]], a: list[dict], b: list[dict], adjudication: list[dict],
                      out: Path) -> dict[str, Any]:
    """Write the gold folder: ``dev.jsonl`` / ``test.jsonl`` (each conversation with its ``gold``
    labels), ``annotations/`` (both annotators' labels and the adjudication, as given) and
    ``agreement.json`` (κ per label). Every conversation needs both annotations, every valid, and a
    decision on every label they dispute."""
    by_id = {c["id"]: c for c in conversations}
    la, lb, adj = ({r["id"]: r for r in rows} for rows in (a, b, adjudication))
    for name, labels in (("annotator A", la), ("annotator B", lb)):
        missing = set(by_id) - set(labels)
        if missing:
            raise ConfigError(f"{name} has no labels for {len(missing)} conversations, e.g. {sorted(missing)[:3]}")
        for cid, lab in labels.items():
            if cid not in by_id:
                raise ConfigError(f"{name}: {cid} is not one of the sampled conversations")
            errors = label_errors(lab, by_id[cid]["turns"])
            if errors:
                raise ConfigError(f"{name}: {cid}: {'; '.join(errors)}")
    splits: dict[str, list[dict]] = {"dev": [], "test": []}
    for cid, conv in sorted(by_id.items()):
        gold = merge(la[cid], lb[cid], adj.get(cid))
        gold.pop("id", None)
        splits[conv["split"]].append({**conv, "gold": gold})
    out.mkdir(parents=True, exist_ok=True)
    for split, records in splits.items():
        write_jsonl(out / f"{split}.jsonl", records)
    for name, rows in (("annotator_a", a), ("annotator_b", b), ("adjudication", adjudication)):
        write_jsonl(out / "annotations" / f"{name}.jsonl", sorted(rows, key=lambda r: r["id"]))
    report = {
        "agreement": agreement(la, lb, by_id),
        "counts": {"conversations": len(by_id), **{s: len(r) for s, r in splits.items()},
                   "with_disputes": sum(bool(disputes(la[i], lb[i])) for i in by_id), "adjudicated": len(adj)},
    }
    (out / "agreement.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return report
