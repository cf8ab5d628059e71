"""What privacy detection costs per turn: the prefilter regex vs the spaCy pipeline.

    python bench/privacy_cost.py [--turns 20000] [--seed 7]

Prints, per turn: (a) the prefilter alone on typical turns without PII (and how many it lets through),
(b) spaCy (jieba tokenizer + the zhijian_pii component) on turns with PII, (b') ``detect`` on the same
turns, which sends only the turns that may hold an address through spaCy, (c) spaCy on the PII-free
turns as if there were no prefilter, and (d) ``PiiDetector.annotate`` on a realistic mix; then the ratios.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.privacy import PiiDetector, fold_text, might_contain_pii  # noqa: E402
from pipeline.schema import Conversation, Turn  # noqa: E402

PLAIN = [
    "在吗?我的快递三天了还没到",
    "您好,很高兴为您服务,请问有什么可以帮您?",
    "亲,这边帮您查询一下物流信息,请稍等",
    "订单[ORDERID_{n}]怎么还没发货",
    "我买的衣服尺码不对,想换一件大一号的",
    "退款{n}元什么时候到账",
    "好的,感谢您的耐心等待,还有其他可以帮您的吗?",
    "这个价格比昨天贵了{n}块,能保价吗",
    "我已经等了{n}天了,你们到底什么时候给我处理",
    "非常抱歉给您带来不便,我们会尽快为您处理",
    "第{n}次问了,客服一直不回",
    "[姓名x]您好,您的订单已经到达[站点x]",
    "麻烦帮我看下能不能开具纸质发票",
    "可以的亲,祝您生活愉快,再见",
    "3号之前能送到吗",
]
PII = [
    "我的手机号是{phone},有事打我电话",
    "联系电话 {p3} {p4a} {p4b}",
    "身份证号{idc},麻烦核实一下",
    "退款到这张卡吧:{card}",
    "发票发到邮箱{mail}就行",
    "收货地址改成北京市朝阳区建国路{n}号{n}室",
    "寄到上海市浦东新区张杨路{n}弄{n}号,电话{phone}",
]


def id_card(rng: random.Random) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    body = f"110101{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11]


def card(rng: random.Random) -> str:
    body = "622202" + "".join(rng.choice("0123456789") for _ in range(12))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def fill(template: str, rng: random.Random) -> str:
    phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    return template.format(
        n=rng.randint(1, 999), phone=phone, p3=phone[:3], p4a=phone[3:7], p4b=phone[7:],
        idc=id_card(rng), card=card(rng), mail=f"user{rng.randint(1, 9999)}@qq.com",
    )


def per_turn_us(fn, items, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(items)
        best = min(best, time.perf_counter() - t0)
    return best / len(items) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=20000, help="turns without PII (a tenth as many with PII)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    plain = [fill(rng.choice(PLAIN), rng) for _ in range(args.turns)]
    pii = [fill(rng.choice(PII), rng) for _ in range(max(1, args.turns // 10))]

    detector = PiiDetector({})
    t0 = time.perf_counter()
    detector.detect("手机13812345678", force=True)  # spaCy import, jieba dictionary, component build
    startup_s = time.perf_counter() - t0
    nlp = detector.nlp

    passed = sum(might_contain_pii(t) for t in plain)
    plain_spacy = sum(detector.needs_spacy(t) for t in plain)
    missed = sum(not might_contain_pii(t) for t in pii)
    a = per_turn_us(lambda ts: [might_contain_pii(t) for t in ts], plain)
    b = per_turn_us(lambda ts: [detector.detect(t, force=True) for t in ts], pii)
    b_routed = per_turn_us(lambda ts: [detector.detect(t) for t in ts], pii)
    via_spacy = sum(detector.needs_spacy(t) for t in pii)
    b_pipe = per_turn_us(lambda ts: list(nlp.pipe(fold_text(t) for t in ts)), pii)
    sample = plain[: max(1, len(plain) // 5)]
    c = per_turn_us(lambda ts: list(nlp.pipe(fold_text(t) for t in ts)), sample)

    mix = plain + pii  # ~9 % of turns hold PII
    rng.shuffle(mix)
    convs = [Conversation(f"c{i}", [Turn(j, "customer", t) for j, t in enumerate(mix[i : i + 20])]) for i in range(0, len(mix), 20)]
    d = per_turn_us(lambda cs: [detector.annotate(cv) for cv in cs], convs, repeat=1) / 20

    print(f"spaCy start-up (import, jieba dictionary, component)   {startup_s:8.2f} s once per process")
    print(f"(a) prefilter only, turns without PII                 {a:8.2f} µs/turn  "
          f"({passed / len(plain):.1%} pass it; {plain_spacy / len(plain):.1%} go on to spaCy)")
    print(f"(b) spaCy detect(), turns with PII                     {b:8.1f} µs/turn  (nlp.pipe batch: {b_pipe:.1f} µs/turn; "
          f"prefilter missed {missed}/{len(pii)})")
    print(f"(b') detect() with routing, turns with PII              {b_routed:8.1f} µs/turn  "
          f"({via_spacy}/{len(pii)} may hold an address and go through spaCy)")
    print(f"(c) spaCy on turns without PII (no prefilter)          {c:8.1f} µs/turn")
    print(f"(d) annotate(), realistic mix ({len(pii) / len(mix):.0%} PII turns)             {d:8.1f} µs/turn")
    print(f"ratio spaCy/prefilter: (b)/(a) = {b / a:,.0f}x   (c)/(a) = {c / a:,.0f}x   "
          f"no-prefilter/annotate on the mix = {c / d:,.1f}x")


if __name__ == "__main__":
    main()
