"""Draw the gold set's conversations from the real corpora and split them once into dev and test.

The pool is every distinct dialogue of CSDS ``val.json`` and JDDC ``valid_jddc.txt`` (JDDC dialogues
that CSDS also holds are dropped, as for training). Half of the set is drawn at random; the other
half is *enriched* with chats likely to hold rare events — complaints, refusals, praise, anger — so
that the rare rules have enough positives to measure. The enrichment screen is deliberately *not*
zhijian: it is the regular expressions in :data:`ENRICH_SCREENS` below (written for sampling only,
broad and crude, never used for labels) plus JDDC's own human satisfaction labels. Labels come from
people reading every conversation (``GOLD_RUBRIC.md``), never from this screen.

The split is a fixed hash of the conversation id (:func:`gold_split`): it never changes when the
set grows, and nobody picks which chat lands where.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any

from ..models.datasets import DataPaths, Dialogue, drop_overlap, load_csds, load_jddc, load_stc3, unique

GOLD_SALT = "zhijian-gold-v1:"
GOLD_TEST_FRACTION = 0.5

#: Sampling screens (for choosing chats to read, NOT for labelling): role → pattern, per event class.
ENRICH_SCREENS: dict[str, dict[str, str]] = {
    "complaint": {"customer": r"投诉|差评|举报|12315|曝光|领导|主管|经理|上级|起诉|消协|工商"},
    "anger": {"customer": r"垃圾|气死|生气|无语|失望|太差|坑|骗|急死|着急|怎么回事|搞什么|什么破|还不|!!|！！|\?\?|？？|算了"},
    "refusal": {"agent": r"不知道|不清楚|没办法|没有办法|不归|自己去|自己联系|明白吗|不是说了|下次|记住|不能|无法|不可以"},
    "praise": {"customer": r"好评|满意|耐心|辛苦|点赞|谢谢你|给力|服务好|服务很好|真好|五星|五心|贴心|专业"},
}


@dataclass
class PoolItem:
    id: str
    corpus: str
    dialogue: Dialogue
    screens: tuple[str, ...]  # the enrichment classes it matches


def gold_split(conversation_id: str, test_fraction: float = GOLD_TEST_FRACTION) -> str:
    """``"test"`` or ``"dev"``, fixed by the id alone."""
    d = hashlib.blake2b((GOLD_SALT + conversation_id).encode("utf-8"), digest_size=8).digest()
    return "test" if int.from_bytes(d, "big") / 2**64 < test_fraction else "dev"


def _screens(d: Dialogue) -> tuple[str, ...]:
    hits = []
    for name, by_role in ENRICH_SCREENS.items():
        if any(role in by_role and re.search(by_role[role], text) for role, text in d.turns):
            hits.append(name)
    # JDDC's annotators rated every customer turn from the 4th on: a dissatisfied turn or dialogue
    if d.sentiment == "negative" or "negative" in d.turn_sentiment:
        hits.append("dissatisfied")
    return tuple(hits)


def build_pool(paths: DataPaths) -> list[PoolItem]:
    """Every distinct dialogue of the two corpora, with the id ``zhijian convert`` gives it."""
    csds = load_csds(paths.csds)  # distinct by construction, in order of first appearance
    jddc_all = unique(load_jddc(paths.jddc, paths.jddc_acts))
    kept, _ = drop_overlap(csds, jddc_all)
    kept_keys = {d.key for d in kept}
    pool = [PoolItem(f"csds-val-{n:04d}", "csds_topic/val.json", d, _screens(d)) for n, d in enumerate(csds, 1)]
    pool += [
        PoolItem(f"jddc-valid-{n:04d}", "jddc_uss/valid_jddc.txt", d, _screens(d))
        for n, d in enumerate(jddc_all, 1)
        if d.key in kept_keys
    ]
    return pool


def build_stc3_pool(paths: DataPaths) -> list[PoolItem]:
    """The STC-3 DCH Weibo customer–helpdesk dialogues (train file, 3,700): real Chinese customer service
    outside JD, much richer in complaints and anger than the JD pool — a second corpus to fix and
    measure the rules on, so that a lexicon fix is not only a fit to JD wording."""
    items, seen = [], set()
    for d in load_stc3(paths.stc3):
        cid = f"stc3-{d.key[:12]}"  # the content key: stable, and the corpus's own ids are long Weibo numbers
        if d.key in seen or not any(r == "agent" and t.strip() for r, t in d.turns):
            continue  # a duplicate, or a helpdesk that never answered: nothing to inspect
        seen.add(d.key)
        items.append(PoolItem(cid, "stc3_dch/train_data_cn.json.gz", d, _screens(d)))
    return items


POOLS = {"jd": build_pool, "stc3": build_stc3_pool}


def select(pool: list[PoolItem], n_random: int, n_enriched: int, seed: int) -> list[tuple[PoolItem, str]]:
    """``n_random`` chats uniformly at random, then ``n_enriched`` more from those that match a
    screen, taken round-robin over the screen classes so the rarest class gets its share."""
    rng = random.Random(seed)
    order = pool[:]
    rng.shuffle(order)
    chosen = [(p, "random") for p in order[:n_random]]
    rest = order[n_random:]
    by_class: dict[str, list[PoolItem]] = {}
    for p in rest:
        for s in p.screens:
            by_class.setdefault(s, []).append(p)
    taken: set[str] = set()
    classes = sorted(by_class, key=lambda c: len(by_class[c]))  # rarest first
    while len(taken) < n_enriched and any(by_class.values()):
        for c in classes:
            while by_class[c] and by_class[c][0].id in taken:
                by_class[c].pop(0)
            if by_class[c] and len(taken) < n_enriched:
                p = by_class[c].pop(0)
                taken.add(p.id)
                chosen.append((p, f"enriched:{c}"))
    return chosen


def gold_record(item: PoolItem, stratum: str) -> dict[str, Any]:
    """The conversation in the SPEC input contract, with where it came from."""
    return {
        "id": item.id,
        "channel": "chat",
        "turns": [{"role": r, "text": t} for r, t in item.dialogue.turns],
        "source": {"corpus": item.corpus, "content_key": item.dialogue.key, "stratum": stratum,
                   "screens": list(item.screens)},
        "split": gold_split(item.id),
    }


def reading_view(record: dict[str, Any]) -> dict[str, Any]:
    """What an annotator reads: id and numbered turns, nothing else (no source, no screen)."""
    return {"id": record["id"], "turns": [{"i": i, "role": t["role"], "text": t["text"]} for i, t in enumerate(record["turns"])]}
