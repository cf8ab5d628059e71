"""Convert public corpora into the SPEC input contract (JSONL, one conversation a line).

``convert_csds`` turns the CSDS "topic" file (TODS repository, ``data/CSDS/topic/val.json``; staged at
``data/raw/csds_topic/val.json``) into SPEC conversations:

* the file holds one row per (dialogue, topic-labelled QA segment); a dialogue with k segments appears
  k times with the same ``Dialogue`` string. One conversation is written per *distinct* dialogue, in
  the order of its first appearance, with id ``csds-val-NNNN`` (1-based, stable for a given file);
* ``Dialogue`` is split on the literal ``[SEP][CLS]``; each utterance is ``<speaker>:<text>``. The
  speaker is mapped to a SPEC role (客服 → agent; 用户 / 商家 / 物流师傅 / 师傅 → customer) and the
  text is everything after the *first* ASCII colon, kept byte-for-byte (anonymisation placeholders
  such as ``[订单编号]`` stay as they are);
* the corpus has no timestamps, agent or rating: those fields are simply absent, so the timing
  metrics of an inspection come out ``null`` (SPEC: never invented);
* ``labels = {"topics": [Topic of each of its rows, in file order], "issue_type": null}`` — the
  topics are JD fine-grained, per QA segment; no coarse issue type is derived here.

The output is written line by line to a temporary file next to ``dst`` and renamed into place, so a
crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

#: CSDS speaker prefix -> SPEC role. The non-agent side is the user, or a merchant / courier who
#: contacts JD customer service (CSDS's QRole); all of them are the party the agent serves.
CSDS_ROLES: dict[str, str] = {
    "客服": "agent",
    "用户": "customer",
    "商家": "customer",
    "物流师傅": "customer",
    "师傅": "customer",
}

#: The literal separator between utterances inside ``Dialogue``.
CSDS_SEPARATOR = "[SEP][CLS]"


class ConvertError(ValueError):
    """The source file is not what the converter expects; the message names the record and the fix."""


def csds_turns(dialogue: str, where: str = "") -> list[dict[str, str]]:
    """Split one CSDS ``Dialogue`` string into SPEC turns (role + original text, no timestamps)."""
    turns: list[dict[str, str]] = []
    for n, utterance in enumerate(dialogue.split(CSDS_SEPARATOR)):
        speaker, colon, text = utterance.partition(":")
        if not colon:
            raise ConvertError(
                f"{where}utterance {n} has no 'speaker:' prefix: {utterance[:40]!r}; "
                "expected e.g. '客服:您好' — is this the CSDS topic file?"
            )
        role = CSDS_ROLES.get(speaker)
        if role is None:
            raise ConvertError(
                f"{where}utterance {n} has an unknown speaker {speaker!r}; known speakers: "
                f"{', '.join(CSDS_ROLES)} — add it to pipeline.convert.CSDS_ROLES"
            )
        turns.append({"role": role, "text": text})
    return turns


def convert_csds(src: Path, dst: Path) -> dict[str, Any]:
    """Convert a CSDS topic file (``val.json`` / ``test.json``) into SPEC JSONL at ``dst``.

    Returns counts: ``rows`` read, ``conversations`` and ``turns`` written, turns per ``roles`` and
    per original ``speakers``, and ``topics`` (labels attached).
    """
    src, dst = Path(src), Path(dst)
    try:
        with src.open("r", encoding="utf-8") as fh:
            rows = json.load(fh)
    except FileNotFoundError:
        raise ConvertError(f"CSDS file not found: {src}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConvertError(f"{src}: not a UTF-8 JSON file ({e})") from None
    if not isinstance(rows, list):
        raise ConvertError(f"{src}: expected a JSON list of rows, got {type(rows).__name__}")

    split = src.stem  # "val" / "test": part of the id so both files can be converted side by side
    # Distinct dialogues in order of first appearance, each with the topics of all its rows.
    topics_by_dialogue: dict[str, list[str | None]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("Dialogue"), str):
            raise ConvertError(f"{src}: row {i} has no 'Dialogue' string; is this the CSDS topic file?")
        topic = row.get("Topic")
        topics_by_dialogue.setdefault(row["Dialogue"], []).append(topic if isinstance(topic, str) else None)

    roles: Counter[str] = Counter()
    speakers: Counter[str] = Counter()
    n_turns = n_topics = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as out:
            for n, (dialogue, topics) in enumerate(topics_by_dialogue.items(), start=1):
                cid = f"csds-{split}-{n:04d}"
                turns = csds_turns(dialogue, where=f"{src}: {cid}: ")
                for utterance in dialogue.split(CSDS_SEPARATOR):
                    speakers[utterance.partition(":")[0]] += 1
                for t in turns:
                    roles[t["role"]] += 1
                n_turns += len(turns)
                n_topics += len(topics)
                record = {
                    "id": cid,
                    "channel": "chat",
                    "turns": turns,
                    "labels": {"topics": topics, "issue_type": None},
                }
                out.write(json.dumps(record, ensure_ascii=False))
                out.write("\n")
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()

    return {
        "source": str(src),
        "output": str(dst),
        "rows": len(rows),
        "conversations": len(topics_by_dialogue),
        "turns": n_turns,
        "roles": dict(roles),
        "speakers": dict(speakers),
        "topics": n_topics,
    }
