"""Generate a large corpus of conversations (SPEC input JSONL) for benchmarks.

Turns are drawn from the bundled samples (data/samples/conversations.jsonl) by role and
recombined into conversations of ``--turns`` turns with plausible timestamps, so the text has
the length, vocabulary and rule-hit density of real customer-service chat. Deterministic.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


# The samples carry personal data in half their conversations, to show masking; real chats carry
# far less (CSDS: ~1 % of turns pass the privacy prefilter). Turns that could hold PII are drawn at
# this rate so the benchmark's privacy cost is that of a realistic mix (--pii-rate to change it).
PII_TURN_RATE = 0.02


def turn_pool(samples: Path) -> dict[str, list[str]]:
    from pipeline.privacy import might_contain_pii

    pool: dict[str, list[str]] = {"agent": [], "customer": [], "agent+pii": [], "customer+pii": []}
    for line in samples.read_text(encoding="utf-8").splitlines():
        for t in json.loads(line)["turns"]:
            if t.get("role") in ("agent", "customer") and isinstance(t.get("text"), str) and t["text"].strip():
                pool[t["role"] + ("+pii" if might_contain_pii(t["text"]) else "")].append(t["text"])
    return pool


def generate(out: Path, n: int, turns: int = 20, seed: int = 7, samples: Path | None = None, pii_rate: float = PII_TURN_RATE) -> Path:
    rng = random.Random(seed)
    pool = turn_pool(samples or REPO / "data" / "samples" / "conversations.jsonl")
    agents = [{"id": f"A{i:03d}", "name": f"坐席{i}", "team": f"售后{i % 5 + 1}组"} for i in range(60)]
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(n):
            ts = 0.0
            body = []
            for k in range(turns):
                role = "customer" if k % 2 == 0 else "agent"
                ts += rng.expovariate(1 / 15)
                kind = role + "+pii" if rng.random() < pii_rate else role
                body.append({"role": role, "text": rng.choice(pool[kind]), "ts": round(ts, 1)})
            record = {
                "id": f"g-{i:08d}",
                "channel": "chat" if i % 4 else "phone",
                "started_at": "2026-11-20T09:00:00+08:00",
                "agent": agents[i % len(agents)],
                "customer": {"id": f"U{i}"},
                "turns": body,
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="/tmp/zhijian-bench.jsonl")
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--pii-rate", type=float, default=PII_TURN_RATE)
    a = ap.parse_args()
    print(generate(Path(a.out), a.n, a.turns, pii_rate=a.pii_rate))
