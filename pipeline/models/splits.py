"""The fixed held-out split of the real corpora, and the gold chats kept out of it.

The held-out split is a function of each unit's content and nothing else: a dialogue (a review)
is in the test split when ``blake2b("zhijian-split-v1:" + key)`` falls under ``TEST_FRACTION``,
where the key is a hash of the dialogue's text. Lines of one dialogue never straddle the split,
identical reviews (the hotel set appears twice, see SOURCE.md) share a key, and the split is the
same on every machine and for every seed. Training and model selection never see it.

The dialogues of the gold set's ``test`` split (``data/gold``, real chats labelled by people) are in
a third split, ``gold``: neither trained on nor part of the models' own test figures, so every
model-driven figure ``zhijian evaluate --split test`` reports (review queue, end sentiment) comes
from models that never saw those chats. (The gold ``dev`` chats stay in the training data: dev is
for fixing rules, and its model-driven figures are marked as seen in training.)
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from ..config import REPO_ROOT

TEST_FRACTION = 0.2
SPLIT_SALT = "zhijian-split-v1:"
GOLD_DIR = REPO_ROOT / "data" / "gold"


def content_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def gold_keys(gold_dir: Path = GOLD_DIR) -> frozenset[str]:
    """Content keys of the gold test split's dialogues (``source.content_key`` of the records of
    data/gold/*.jsonl whose ``split`` is ``test``)."""
    keys = set()
    for path in sorted(Path(gold_dir).glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line) if line.strip() else {}
                key = (rec.get("source") or {}).get("content_key")
                if key and rec.get("split") == "test":
                    keys.add(key)
    return frozenset(keys)


def split_of(key: str, test_fraction: float = TEST_FRACTION) -> str:
    """``"test"`` or ``"train"``: fixed for a unit's content, whatever else is in the data;
    ``"gold"`` for a dialogue of the gold test split (held out from training and from test)."""
    if key in gold_keys():
        return "gold"
    d = hashlib.blake2b((SPLIT_SALT + key).encode("utf-8"), digest_size=8).digest()
    return "test" if int.from_bytes(d, "big") / 2**64 < test_fraction else "train"


def dataset_hash(items: list[tuple[str, str]]) -> str:
    """A hash of (key, label) pairs: which units, labelled how, in which split."""
    h = hashlib.sha256()
    for k, lab in sorted(items):
        h.update(f"{k}\t{lab}\n".encode("utf-8"))
    return h.hexdigest()
