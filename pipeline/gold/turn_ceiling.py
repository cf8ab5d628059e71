"""How far a rule that reads turns can follow the chat-level ``empathy_missing`` label: ``zhijian gold turn-ceiling``.

GOLD_RUBRIC.md defines ``empathy_missing`` turn by turn: the customer clearly shows their own emotion, and the agent's
next two turns (or the one right before) hold no apology, empathy or soothing. ``empathy.missing`` implements that
with detectors on both sides: the negative-emotion lexicon and the emotion model for the customer, the empathy
lexicon for the agent. The gold ``dev`` chats carry people's readings of both sides, turn by turn:
- ``emotion_turns.jsonl``: the customer's emotion (round 6);
- ``agent_empathy_turns.jsonl``: the agent's apology, empathy or soothing (round 10).

Each reading was made by two readers and an adjudicator. Applying the rubric's words to those readings is a rule
whose detectors are as good as people. Its agreement with the chat-level label is the ceiling of any rule that works
from turns: what is left is the chat-level readers' overall judgement. That judgement covers how clear an emotion was
and whether an apology said later still answered it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import ConfigError
from .labels import read_jsonl

EMOTION_FILE = "emotion_turns.jsonl"
AGENT_EMPATHY_FILE = "agent_empathy_turns.jsonl"
UNITS = ("turn", "reply")


def agent_units(turns: list[dict[str, Any]], unit: str) -> list[list[int]]:
    """The agent's turns as units: each turn alone, or each reply (its turns sent in a row, until the customer speaks)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    if unit == "turn":
        return [[i] for i, t in enumerate(turns) if t.get("role") == "agent"]
    units: list[list[int]] = []
    current: list[int] = []
    for i, t in enumerate(turns):
        if t.get("role") == "agent":
            current.append(i)
        elif current and t.get("role") == "customer":
            units.append(current)
            current = []
    if current:
        units.append(current)
    return units


def literal_empathy_missing(turns: list[dict[str, Any]], emotion_turns: set[int], empathy_turns: set[int],
                            unit: str = "reply", within: int = 2, lookback: int = 1) -> bool:
    """The rubric's words: some emotion turn whose next ``within`` agent units and ``lookback`` units before it hold
    no empathy turn."""
    units = agent_units(turns, unit)
    for e in sorted(emotion_turns):
        after = [u for u in units if u[0] > e][:within]
        before = [u for u in units if u[-1] < e][-lookback:] if lookback else []
        if not any(i in empathy_turns for u in after + before for i in u):
            return True
    return False


def ceiling_table(gold_dir: str | Path, units: tuple[str, ...] = UNITS, withins: tuple[int, ...] = (1, 2, 3),
                  lookbacks: tuple[int, ...] = (0, 1, 2)) -> list[dict[str, Any]]:
    """For each window: TP / FP / FN, precision, recall and F1 of the literal rule against the chat-level
    ``empathy_missing`` (true = positive; false and null = negative) over the ``dev`` chats with both turn readings."""
    gold_dir = Path(gold_dir)
    for name in (EMOTION_FILE, AGENT_EMPATHY_FILE):
        if not (gold_dir / name).exists():
            raise ConfigError(f"{gold_dir / name}: no turn readings — the ceiling needs both sides read turn by turn "
                              f"(data/gold/README.md, 'Turn labels')")
    emotion = {r["id"]: set(r["emotion_turns"]) for r in read_jsonl(gold_dir / EMOTION_FILE)}
    empathy = {r["id"]: set(r["empathy_turns"]) for r in read_jsonl(gold_dir / AGENT_EMPATHY_FILE)}
    chats = [r for r in read_jsonl(gold_dir / "dev.jsonl") if r["id"] in emotion and r["id"] in empathy]
    rows = []
    for unit in units:
        for within in withins:
            for lookback in lookbacks:
                tp = fp = fn = 0
                for r in chats:
                    said = literal_empathy_missing(r["turns"], emotion[r["id"]], empathy[r["id"]], unit, within, lookback)
                    truth = r["gold"]["empathy_missing"] is True
                    tp += said and truth
                    fp += said and not truth
                    fn += truth and not said
                rows.append({"unit": unit, "within": within, "lookback": lookback, "chats": len(chats), "tp": tp, "fp": fp,
                             "fn": fn, "precision": tp / (tp + fp) if tp + fp else None,
                             "recall": tp / (tp + fn) if tp + fn else None,
                             "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None})
    return rows


def format_ceiling(rows: list[dict[str, Any]], shipped: tuple[str, int, int] | None = None) -> str:
    lines = [f"{'unit':<6} {'within':>6} {'lookback':>8}   TP   FP   FN  precision  recall     F1"]
    for r in rows:
        mark = "  ← empathy.missing's window" if shipped == (r["unit"], r["within"], r["lookback"]) else ""
        lines.append(f"{r['unit']:<6} {r['within']:>6} {r['lookback']:>8} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4}"
                     f"  {r['precision']:>9.2f} {r['recall']:>7.2f} {r['f1']:>6.2f}{mark}")
    best = max(rows, key=lambda r: r["f1"] or 0)
    lines.append(f"best: {best['unit']}, within {best['within']}, lookback {best['lookback']} — precision {best['precision']:.2f}, "
                 f"recall {best['recall']:.2f}, F1 {best['f1']:.2f} over {best['chats']} dev chats")
    return "\n".join(lines)


def agent_side_figures(gold_dir: str | Path, says_empathy) -> dict[str, Any]:
    """How well ``says_empathy(text) -> bool`` (e.g. the empathy lexicon on the normalized text) finds the agent
    turns people marked in ``agent_empathy_turns.jsonl``: TP / FP / FN, precision, recall over the dev agent turns."""
    gold_dir = Path(gold_dir)
    empathy = {r["id"]: set(r["empathy_turns"]) for r in read_jsonl(gold_dir / AGENT_EMPATHY_FILE)}
    tp = fp = fn = 0
    for r in read_jsonl(gold_dir / "dev.jsonl"):
        marked = empathy.get(r["id"])
        if marked is None:
            continue
        for i, t in enumerate(r["turns"]):
            if t.get("role") != "agent":
                continue
            said, truth = bool(says_empathy(str(t.get("text") or ""))), i in marked
            tp += said and truth
            fp += said and not truth
            fn += truth and not said
    return {"tp": tp, "fp": fp, "fn": fn, "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None}
