"""The pipeline: the only place that knows the order of the stages.

    read → validate → normalize → tokenize → privacy → metrics → models → rules → score → flag → write

(The models stage runs before the rules so that a rule may be conditioned on a model's output;
metrics before the rules because the timing rules judge its reply pairs.)

:class:`Inspector` loads everything once (lexicons, rules, scorecard, segmenter, PII detector,
models) and turns one :class:`Conversation` into one :class:`ConversationResult`;
:func:`inspect_records` streams records through it. The run — partitions, engines, writers and the
manifest — is :mod:`pipeline.runner` (it imports this module and the engines; nothing here imports
them back).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .config import load_config, resolve_path
from .end_sentiment import EndSentiment
from .lexicons import LexiconSet
from .metrics import ResponseMetrics
from .models import ModelsStage
from .normalize import Normalizer
from .questions.workbench import add_installed_questions
from .review_flags import ReviewFlags
from .rules import RuleSet
from .schema import Conversation, ConversationResult, Reject, handling_time_s
from .scoring import Scorecard
from .segment import USER_WORD_FREQ, Segmenter, read_domain_words


class Inspector:
    """Everything needed to inspect conversations, loaded once per process."""

    def __init__(self, config: dict | None = None, mask: bool | None = None, profile: bool = False):
        from .privacy import PiiDetector

        self.config = config if config is not None else load_config()
        self.mask = self.config["privacy"]["mask"] if mask is None else mask
        self.mask_char = self.config["privacy"]["mask_char"]
        paths = self.config["paths"]
        lexicon_dir = resolve_path(paths["lexicons"])
        self.normalizer = Normalizer(lexicon_dir / "char_variants.txt")
        self.lexicons = LexiconSet.load(lexicon_dir, self.normalizer)
        self.rules = RuleSet.load(resolve_path(paths["rules"]), self.lexicons, self.config)
        self.scorecard = Scorecard.load(resolve_path(paths["scorecard"]), {r.id for r in self.rules.rules})
        # questions added in the workbench whose trained bundle is in models/ (not in rules.yaml): answered too
        self.workbench_questions = add_installed_questions(self.rules, self.scorecard, self.config)
        seg = self.config["segmenter"]
        words = read_domain_words(lexicon_dir / "domain_words.txt")
        words += [(p, USER_WORD_FREQ) for p in self.lexicons.user_words()]
        self.segmenter = Segmenter(seg["backend"], words, seg["hmm"])
        self.privacy = PiiDetector(self.config, tokenize=self.segmenter.cut)
        self.metrics = ResponseMetrics(self.config, self.lexicons)
        self.models = ModelsStage(resolve_path(paths["models"]), self.config)
        self.end_sentiment = EndSentiment(self.config, self.lexicons)
        self.flags = ReviewFlags(self.config, self.lexicons, {n: m.metadata for n, m in self.models.loaded.items()})
        self.stages = [
            ("normalize", self.normalizer),
            ("tokenize", self.segmenter),
            ("privacy", self.privacy.annotate),
            ("metrics", self.metrics),
            ("models", self.models),
            ("end_sentiment", self.end_sentiment),
            ("rules", self.rules),
        ]
        self.profile = profile
        self.stage_seconds: dict[str, float] = {name: 0.0 for name, _ in self.stages}
        self.stage_seconds.update({"score": 0.0, "flag": 0.0})
        self.versions = {
            "zhijian": __version__,
            "lexicons": self.lexicons.version,
            "rules": self.rules.sha256[:12],
            "scorecard": self.scorecard.version,
            "segmenter": seg["backend"],
            **self.models.versions,
        }

    def warm_up(self) -> None:
        """Build what loads lazily now rather than inside the first conversations: spaCy's pipeline, the
        lexicon matchers each stage asks for, the models' n-gram tables, the question models. A run pays
        for them once, in its start-up (the manifest's ``startup_s``), not in its first partition's rate."""
        _ = self.privacy.nlp
        for stage in [s for _, s in self.stages] + [self.flags]:
            warm = getattr(stage, "warm_up", None)
            if warm is not None:
                warm()

    def inspect(self, conversation: Conversation) -> ConversationResult:
        """One conversation through every stage: :meth:`inspect_many` of one, its error raised."""
        result = self.inspect_many([conversation])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def inspect_many(self, conversations: list[Conversation]) -> list[ConversationResult | Exception]:
        """Every stage for several conversations, in order — the same results, byte for byte, as one at a
        time — with the emotion model's turns of all of them, and the issue-type model's conversations, scored in
        one call each (ModelsStage.predict_many).
        An error in one conversation is that conversation's entry (an exception), not the others'."""
        clock = time.perf_counter
        secs = self.stage_seconds if self.profile else None
        at = next(i for i, (name, _) in enumerate(self.stages) if name == "models")
        out: list[ConversationResult | Exception | None] = [None] * len(conversations)
        ready: list[int] = []
        for k, conv in enumerate(conversations):
            try:
                self._run_stages(conv, self.stages[:at], secs)
                ready.append(k)
            except Exception as exc:  # noqa: BLE001 — one bad conversation must not stop the night's run: the caller makes it a reject
                out[k] = exc
        t0 = clock()
        try:
            batched = self.models.predict_many([conversations[k] for k in ready])
        except Exception:  # noqa: BLE001 — one conversation's bad input: each is predicted alone below, where it fails alone
            batched = None
        if secs is not None:
            secs["models"] += clock() - t0
        models = self.stages[at][1]
        for n, k in enumerate(ready):
            conv = conversations[k]
            try:
                t0 = clock()
                if batched is None:
                    models(conv)
                else:
                    models(conv, batched[n])
                if secs is not None:
                    secs["models"] += clock() - t0
                self._run_stages(conv, self.stages[at + 1:], secs)
                t0 = clock()
                scored = self.scorecard(conv)
                t1 = clock()
                review = self.flags(conv, scored)
                if secs is not None:
                    secs["score"] += t1 - t0
                    secs["flag"] += clock() - t1
                out[k] = self._result(conv, scored, review)
            except Exception as exc:  # noqa: BLE001
                out[k] = exc
        return out

    @staticmethod
    def _run_stages(conv: Conversation, stages, secs: dict[str, float] | None) -> None:
        if secs is None:
            for _, stage in stages:
                stage(conv)
            return
        clock = time.perf_counter
        for name, stage in stages:
            t0 = clock()
            stage(conv)
            secs[name] += clock() - t0

    def _result(self, c: Conversation, scored: dict, review: dict) -> ConversationResult:
        if self.mask:
            self._mask_evidence(c)
        preds = c.predictions
        return ConversationResult(
            id=c.id,
            score=scored["score"],
            grade=scored["grade"],
            findings=c.findings,
            issue_type=preds.get("issue_type"),
            sentiment=preds.get("sentiment"),
            turn_sentiment=preds.get("turn_sentiment"),
            metrics=c.metrics,
            review=review,
            versions=self.versions,
            channel=c.channel,
            started_at=c.started_at,
            agent=c.agent,
            rating=self._masked_rating(c.rating) if self.mask else c.rating,
            score_detail=scored["detail"],
            warnings=c.warnings,
            source={"path": c.source.path, "line": c.source.line, "row": c.source.row} if c.source else None,
            questions=preds.get("questions"),
            customer_id=self._customer_id(c.customer),
            duration_s=_rounded(handling_time_s(x for t in c.turns for x in (t.ts, t.end_ts))),
        )

    def _customer_id(self, customer: Any) -> str | None:
        """The input's ``customer.id`` as text. Masked like any free text when masking is on: exports often key
        customers by their phone number or e-mail, and results go to reports and BI tools. (A masked phone keeps
        its first 3 and last 4 digits, so two customers can share one masked id: the report says so.)"""
        cid = customer.get("id") if isinstance(customer, dict) else None
        if cid is None or isinstance(cid, (dict, list)):
            return None
        cid = str(cid)
        if not self.mask:
            return cid
        from .privacy import mask_free_text

        return mask_free_text(cid, self.mask_char)

    def _masked_rating(self, rating: Any) -> Any:
        """The rating with its free-text comment masked: results and Parquet files go to reports
        and BI tools, and a customer writes 打我电话138… in a comment as readily as in a turn."""
        from .privacy import mask_text, might_contain_pii

        comment = rating.get("comment") if isinstance(rating, dict) else None
        if not isinstance(comment, str) or not might_contain_pii(comment):
            return rating
        spans = self.privacy.detect(comment)
        return {**rating, "comment": mask_text(comment, spans, self.mask_char)} if spans else rating

    def _mask_evidence(self, c: Conversation) -> None:
        from .privacy import mask_span_text

        for f in c.findings:
            if f.evidence and f.turn is not None:
                turn = c.turns[f.turn]
                if turn.pii:
                    f.evidence = mask_span_text(turn.text, f.start, f.end, turn.pii, self.mask_char)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)  # as the response metrics: float noise off the timestamps' difference


@dataclass
class RunSummary:
    read: int = 0
    inspected: int = 0
    rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    warnings_by_kind: dict[str, int] = field(default_factory=dict)
    review_needed: int = 0
    findings: int = 0

    def add(self, counts: dict[str, Any]) -> None:
        """Add another summary's counts (a partition's) to this one."""
        for key in ("read", "inspected", "rejected", "review_needed", "findings"):
            setattr(self, key, getattr(self, key) + counts.get(key, 0))
        for key, into in (("rejects_by_reason", self.rejects_by_reason), ("warnings_by_kind", self.warnings_by_kind)):
            for k, v in counts.get(key, {}).items():
                into[k] = into.get(k, 0) + v

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "inspected": self.inspected,
            "rejected": self.rejected,
            "review_needed": self.review_needed,
            "findings": self.findings,
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            "warnings_by_kind": dict(sorted(self.warnings_by_kind.items())),
        }


def inspect_records(inspector: Inspector, records, on_result, on_reject, summary: RunSummary, batch: int | None = None) -> None:
    """Drive records (Conversation | Reject) through the inspector; nothing is ever dropped.

    Conversations go through in batches of ``batch`` (default ``run.model_batch``; 1: one by one):
    :meth:`Inspector.inspect_many`, the same results as one by one, in the same order. A reject
    first sends on the batch before it, so results and rejects come out in input order.
    An unexpected error on one conversation makes it a reject (``internal.error``, with the
    exception) instead of killing the batch.
    """
    from .schema import SourceRef

    size = max(1, int(inspector.config["run"]["model_batch"] if batch is None else batch))
    pending: list[Conversation] = []

    def reject(r: Reject) -> None:
        summary.rejected += 1
        summary.rejects_by_reason[r.reason] = summary.rejects_by_reason.get(r.reason, 0) + 1
        on_reject(r)

    def flush() -> None:
        for record, result in zip(pending, inspector.inspect_many(pending)):
            if isinstance(result, Exception):
                exc = result
                reject(Reject(
                    record.source or SourceRef("?"),
                    "internal.error",
                    f"inspection failed: {type(exc).__name__}: {exc} — please report this with the record",
                    record.id,
                ))
                continue
            summary.inspected += 1
            summary.findings += len(result.findings)
            summary.review_needed += result.review["needed"]
            for w in result.warnings:
                kind = w.split(":", 1)[0]
                summary.warnings_by_kind[kind] = summary.warnings_by_kind.get(kind, 0) + 1
            on_result(result)
        pending.clear()

    for record in records:
        summary.read += 1
        if isinstance(record, Reject):
            flush()
            reject(record)
            continue
        pending.append(record)
        if len(pending) >= size:
            flush()
    flush()
