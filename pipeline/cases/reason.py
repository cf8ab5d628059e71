"""The machine's suggested reason class of a bad review, with its evidence (seed 004, 二.2 判定标准).

Seed 004 sorts a bad review into five classes:

- 服务态度     语气生硬、不耐烦、使用不当言语,或冷漠、敷衍
- 专业能力     无法准确解答、提供错误信息、处理方式不专业
- 响应速度     未能在规定时间内响应,客户等待时间过长
- 问题解决效果 处理了,但未达到客户期望,问题仍然存在或未妥善解决
- 其他         未按服务流程操作、泄露客户隐私等

The conversation behind the review has already been inspected, so each class collects points from what
the inspection found — findings, metrics, review reasons, the customer's end mood, the scorecard
questions' answers — and from the customer's own words (cue phrases in the customer's turns and in the
review text). Every point is one row of ``SIGNALS`` / ``CUES`` below with the sentence that justifies it
from seed 004; the class with the most points is the suggestion and its rows are the evidence. A
dissatisfied customer with no sign of the agent's manner, knowledge or speed was let down by the
outcome: 问题解决效果 starts with ``BASELINE`` points (the rubric's convention, data/cases/RUBRIC.md).

Designed from the seed's wording only. The weights were fixed before any labelled reason was seen and
must not be tuned on data/cases/reason_gold.jsonl: that file measures them (``zhijian cases
evaluate-reasons``, docs/CASES.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

CLASSES = ("服务态度", "专业能力", "响应速度", "问题解决效果", "其他")
# equal points: the earlier class wins (the agent's own conduct before the outcome; 其他 last)
TIE_ORDER = ("服务态度", "响应速度", "专业能力", "问题解决效果", "其他")
AGENT_CONDUCT = frozenset({"服务态度", "专业能力", "响应速度"})
FALLBACK = "问题解决效果"
BASELINE = 1.0

# finding rule -> (class, points, why). One row counts once per conversation however often the rule fired.
FINDING_SIGNALS: dict[str, tuple[str, float, str]] = {
    "forbidden.phrase": ("服务态度", 3.0, "坐席使用服务忌语:语气生硬或使用不当言语"),
    "complaint.caused": ("服务态度", 2.0, "客户投诉,且坐席有服务忌语或没有安抚"),
    "empathy.missing": ("服务态度", 2.0, "客户不满时坐席没有安抚:冷漠、敷衍"),
    "call.interruption": ("服务态度", 2.0, "坐席打断客户:不耐烦"),
    "hold.no_apology": ("服务态度", 1.0, "让客户等待后没有致歉"),
    "response.first_slow": ("响应速度", 3.0, "首次响应超过规定时间"),
    "response.slow": ("响应速度", 3.0, "客户等待回复超过规定时间"),
    "call.silence": ("响应速度", 2.0, "通话中长时间静默,客户等待"),
    "privacy.disclosure": ("其他", 4.0, "坐席写出客户的完整个人信息:泄露客户隐私"),
    "greeting.missing": ("其他", 0.5, "未按服务流程:缺少标准开场白"),
    "closing.missing": ("其他", 0.5, "未按服务流程:缺少标准结束语"),
    "complaint.risk": ("问题解决效果", 1.0, "客户要求投诉或升级:问题没有得到满意的处理"),
}

# scorecard question (results ``questions``) answered X -> (class, points, why)
QUESTION_SIGNALS: dict[tuple[str, str], tuple[str, float, str]] = {
    ("question.resolved", "否"): ("问题解决效果", 2.0, "模型判断客户的问题没有解决"),
    ("question.customer_confirmed", "否"): ("问题解决效果", 1.0, "客户没有确认问题已解决"),
    ("question.solution_explained", "否"): ("专业能力", 2.0, "坐席没有清晰解释解决方案"),
    ("question.needs_asked", "否"): ("专业能力", 1.0, "坐席没有弄清客户需求"),
}

# review reason / end mood -> (class, points, why)
END_NEGATIVE = ("问题解决效果", 1.0, "客户结束时仍然不满:问题仍然存在或未妥善解决")

# The customer's own words. Matched on characters (Chinese has no word boundaries), in the customer's
# turns after the agent first spoke (a 在吗 before that is a greeting), and in the review text.
CUES: dict[str, tuple[float, tuple[str, ...], str]] = {
    "服务态度": (2.0, ("态度", "不耐烦", "敷衍", "爱答不理", "爱理不理", "语气", "凶什么", "吼", "骂人", "冷漠", "不尊重"),
             "客户说到坐席的态度"),
    "响应速度": (2.0, ("人呢", "还在吗", "在不在", "怎么不回", "不回复", "不回话", "不理人", "没人理", "没人回", "回复太慢",
                   "回复好慢", "等了半天", "等你半天", "半天不回", "秒回"),
             "客户在催促坐席回复"),
    "专业能力": (2.0, ("答非所问", "不专业", "说的不对", "说得不对", "不是这个意思", "没听懂", "没明白我的意思", "听不懂我",
                   "前后不一", "一问三不知", "你不懂", "乱说", "瞎说", "说错了", "不是说"),
             "客户指出坐席答复不准确或不专业"),
    "问题解决效果": (1.0, ("没解决", "没有解决", "解决不了", "还没解决", "没有用", "有什么用", "没用", "怎么还没", "还没到",
                     "还没收到", "还没退", "不能退", "办不了", "只会说", "耐心等待"),
               "客户说问题仍然存在"),
    "其他": (2.0, ("隐私", "泄露", "信息泄"), "客户说到个人信息被泄露"),
}
REVIEW_TEXT_POINTS = 3.0  # a cue in the review itself: the customer says why they gave it


@dataclass(frozen=True)
class Evidence:
    """One reason a class got points: what was seen (kind + detail), where (turn), how many points."""

    reason: str
    points: float
    kind: str  # finding | question | sentiment | review_reason | metric | turn_cue | review_cue | baseline
    detail: str  # a sentence a QA lead can read
    rule: str | None = None
    turn: int | None = None
    text: str | None = None  # the matched cue phrase or the finding's (masked) evidence

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Suggestion:
    reason: str
    points: dict[str, float]
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    @property
    def agent_at_fault(self) -> bool:
        return self.reason in AGENT_CONDUCT

    def supporting(self) -> list[Evidence]:
        """The evidence for the suggested class, strongest first."""
        return sorted((e for e in self.evidence if e.reason == self.reason), key=lambda e: -e.points)

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "points": self.points, "agent_at_fault": self.agent_at_fault,
                "evidence": [e.as_dict() for e in self.supporting()],
                "other": [e.as_dict() for e in self.evidence if e.reason != self.reason]}


def _text(turn: Any) -> str:
    return str(turn.get("text") or "") if isinstance(turn, Mapping) else str(getattr(turn, "text", "") or "")


def _role(turn: Any) -> str:
    return str(turn.get("role") or "") if isinstance(turn, Mapping) else str(getattr(turn, "role", "") or "")


def _cue_hits(text: str) -> list[tuple[str, str]]:
    """(class, phrase) for every cue phrase in ``text``; one phrase per class (the first in CUES order)."""
    out = []
    for reason, (_, phrases, _why) in CUES.items():
        hit = next((p for p in phrases if p in text), None)
        if hit is not None:
            out.append((reason, hit))
    return out


def suggest(result: Mapping[str, Any], turns: Sequence[Any] | None = None, review_text: str | None = None) -> Suggestion:
    """The suggested class for one conversation. ``result``: a results.jsonl line (or the same keys from
    the workbench: findings, review.reasons, sentiment, questions, metrics); ``turns``: the transcript
    ({role, text}); ``review_text``: the rating comment or the third-party review / complaint."""
    ev: list[Evidence] = []
    seen_rules: set[str] = set()
    for f in result.get("findings") or []:
        rule = f.get("rule")
        if (rule, "否") in QUESTION_SIGNALS and rule not in seen_rules:  # a failed question is a finding (workbench rows)
            seen_rules.add(rule)
            reason, pts, why = QUESTION_SIGNALS[(rule, "否")]
            ev.append(Evidence(reason, pts, "question", why, rule=rule, turn=f.get("turn")))
        elif rule in FINDING_SIGNALS and rule not in seen_rules:
            seen_rules.add(rule)
            reason, pts, why = FINDING_SIGNALS[rule]
            ev.append(Evidence(reason, pts, "finding", why, rule=rule, turn=f.get("turn"), text=f.get("evidence")))
    for q in result.get("questions") or []:
        key = (q.get("id"), q.get("answer"))
        if key in QUESTION_SIGNALS and key[0] not in seen_rules:
            seen_rules.add(key[0])
            reason, pts, why = QUESTION_SIGNALS[key]
            turns_q = q.get("evidence_turns") or []
            ev.append(Evidence(reason, pts, "question", f"{why}(置信度 {q.get('confidence')})", rule=key[0],
                               turn=turns_q[0] if turns_q else None))
    reasons = (result.get("review") or {}).get("reasons") or result.get("review_reasons") or []
    sentiment = result.get("sentiment") or {}
    if sentiment.get("customer_end") == "negative" or "customer.end_negative" in reasons:
        reason, pts, why = END_NEGATIVE
        ev.append(Evidence(reason, pts, "sentiment", why, rule="customer.end_negative", turn=sentiment.get("customer_end_turn")))
    # the timing rules already judged the metrics against the configured SLAs (no second threshold here);
    # the longest wait is shown next to them as evidence
    metrics = result.get("metrics") or {}
    if seen_rules & {"response.slow", "response.first_slow"} and metrics.get("max_response_s") is not None:
        ev.append(Evidence("响应速度", 0.0, "metric", f"最长等待 {metrics['max_response_s']:.0f} 秒", rule="max_response_s"))
    # the customer's words
    spoke = False
    per_class: dict[str, int] = {}
    for i, t in enumerate(turns or []):
        role = _role(t)
        if role == "agent":
            spoke = True
            continue
        if role != "customer" or not spoke:
            continue
        for reason, phrase in _cue_hits(_text(t)):
            n = per_class.get(reason, 0)
            if n >= 2:  # at most two turns per class: a customer repeating 在吗 five times is one complaint
                continue
            per_class[reason] = n + 1
            pts, _, why = CUES[reason]
            ev.append(Evidence(reason, pts if n == 0 else pts / 2, "turn_cue", f"{why}:「{phrase}」", turn=i, text=phrase))
    if review_text:
        for reason, phrase in _cue_hits(review_text):
            ev.append(Evidence(reason, REVIEW_TEXT_POINTS, "review_cue", f"评价内容说到「{phrase}」({CUES[reason][2]})", text=phrase))
    ev.append(Evidence(FALLBACK, BASELINE, "baseline",
                       "客户不满;坐席态度、专业和速度方面的证据不足时,按结果未达期望处理(seed 004 问题解决效果)"))
    points = {c: 0.0 for c in CLASSES}
    for e in ev:
        points[e.reason] += e.points
    best = max(TIE_ORDER, key=lambda c: (points[c], -TIE_ORDER.index(c)))
    return Suggestion(best, {c: round(v, 2) for c, v in points.items()}, tuple(ev))
