"""Draw the real dissatisfied chats whose bad-review reason class people label (issue 19).

Source: JDDC ``valid_jddc.txt`` (``../shared/data/raw/jddc_uss``), whose annotators rated every customer
turn and the whole dialogue for satisfaction (USS, 5 levels; 1–2 = dissatisfied). Only 33 of its
329 distinct dialogues end with an overall dissatisfied rating, so the set takes, in this order:
every dialogue rated dissatisfied overall, then those whose last rated customer turn is
dissatisfied, then — at random, seeded — those with any dissatisfied customer turn, up to ``N``.
The ratings choose what to read; the reason class is set only by people reading (RUBRIC.md).

    python data/cases/make_reason_set.py --n 120 --out data/cases/reason_set.jsonl --batch /tmp/reason_batch.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path


def main() -> int:
    from pipeline.gold.sample import build_pool
    from pipeline.models.datasets import DataPaths

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", help="the annotators' reading view (id + numbered turns only)")
    args = ap.parse_args()

    jddc = [p for p in build_pool(DataPaths()) if p.corpus.startswith("jddc")]
    overall = [p for p in jddc if p.dialogue.sentiment == "negative"]
    rated = lambda p: [s for s in p.dialogue.turn_sentiment if s]  # noqa: E731
    last = [p for p in jddc if p not in overall and rated(p)[-1:] == ["negative"]]
    anyturn = [p for p in jddc if p not in overall and p not in last and "negative" in rated(p)]
    random.Random(args.seed).shuffle(anyturn)
    chosen = [(p, "overall_dissatisfied") for p in overall] + [(p, "last_turn_dissatisfied") for p in last]
    chosen += [(p, "a_turn_dissatisfied") for p in anyturn[: max(0, args.n - len(chosen))]]
    records = [{"id": p.id, "channel": "chat", "turns": [{"role": r, "text": t} for r, t in p.dialogue.turns],
                "source": {"corpus": p.corpus, "content_key": p.dialogue.key, "stratum": s}} for p, s in chosen]
    records.sort(key=lambda r: r["id"])
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    if args.batch:
        order = sorted(records, key=lambda r: hashlib.sha256(("reason:" + r["id"]).encode()).hexdigest())
        Path(args.batch).write_text("".join(json.dumps({"id": r["id"], "turns": [{"i": i, **t} for i, t in enumerate(r["turns"])]},
                                                       ensure_ascii=False) + "\n" for r in order), encoding="utf-8")
    strata = {s: sum(1 for _, x in chosen if x == s) for s in ("overall_dissatisfied", "last_turn_dissatisfied", "a_turn_dissatisfied")}
    print(f"{len(records)} dissatisfied JDDC chats → {args.out} {strata}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
