"""The pipeline: the only place that knows the order of the stages.

    read → validate → normalize → tokenize → privacy → metrics → models → rules → score → flag → write

(The models stage runs before the rules so that a rule may be conditioned on a model's output;
metrics before the rules because the timing rules judge its reply pairs.)

:class:`Inspector` loads everything once (lexicons, rules, scorecard, segmenter, PII detector,
models) and turns one :class:`Conversation` into one :class:`ConversationResult`.
:func:`run_inspection` streams inputs through it into the writers and the manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .config import load_config, resolve_path
from .lexicons import LexiconSet
from .metrics import ResponseMetrics
from .models import ModelsStage
from .normalize import Normalizer
from .review_flags import ReviewFlags
from .rules import RuleSet
from .schema import Conversation, ConversationResult, Reject
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
        seg = self.config["segmenter"]
        words = read_domain_words(lexicon_dir / "domain_words.txt")
        words += [(p, USER_WORD_FREQ) for p in self.lexicons.user_words()]
        self.segmenter = Segmenter(seg["backend"], words, seg["hmm"])
        self.privacy = PiiDetector(self.config, tokenize=self.segmenter.cut)
        self.metrics = ResponseMetrics()
        self.models = ModelsStage(resolve_path(paths["models"]))
        self.flags = ReviewFlags(self.config)
        self.stages = [
            ("normalize", self.normalizer),
            ("tokenize", self.segmenter),
            ("privacy", self.privacy.annotate),
            ("metrics", self.metrics),
            ("models", self.models),
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
        """Build what loads lazily (spaCy's pipeline) now rather than inside the first conversation."""
        _ = self.privacy.nlp

    def inspect(self, conversation: Conversation) -> ConversationResult:
        if self.profile:
            return self._inspect_profiled(conversation)
        for _, stage in self.stages:
            stage(conversation)
        scored = self.scorecard(conversation)
        review = self.flags(conversation, scored)
        return self._result(conversation, scored, review)

    def _inspect_profiled(self, conversation: Conversation) -> ConversationResult:
        clock = time.perf_counter
        secs = self.stage_seconds
        for name, stage in self.stages:
            t0 = clock()
            stage(conversation)
            secs[name] += clock() - t0
        t0 = clock()
        scored = self.scorecard(conversation)
        t1 = clock()
        review = self.flags(conversation, scored)
        t2 = clock()
        secs["score"] += t1 - t0
        secs["flag"] += t2 - t1
        return self._result(conversation, scored, review)

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
            rating=c.rating,
            score_detail=scored["detail"],
            warnings=c.warnings,
            source={"path": c.source.path, "line": c.source.line, "row": c.source.row} if c.source else None,
        )

    def _mask_evidence(self, c: Conversation) -> None:
        from .privacy import mask_span_text

        for f in c.findings:
            if f.evidence and f.turn is not None:
                turn = c.turns[f.turn]
                if turn.pii:
                    f.evidence = mask_span_text(turn.text, f.start, f.end, turn.pii, self.mask_char)


@dataclass
class RunSummary:
    read: int = 0
    inspected: int = 0
    rejected: int = 0
    failed: int = 0  # conversations an unexpected error stopped: written to rejects as internal.error
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    warnings_by_kind: dict[str, int] = field(default_factory=dict)
    review_needed: int = 0
    findings: int = 0

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


def inspect_records(inspector: Inspector, records, on_result, on_reject, summary: RunSummary) -> None:
    """Drive records (Conversation | Reject) through the inspector; nothing is ever dropped.

    An unexpected error on one conversation makes it a reject (``internal.error``, with the
    exception) instead of killing the batch.
    """
    from .schema import SourceRef

    for record in records:
        summary.read += 1
        if isinstance(record, Reject):
            summary.rejected += 1
            summary.rejects_by_reason[record.reason] = summary.rejects_by_reason.get(record.reason, 0) + 1
            on_reject(record)
            continue
        try:
            result = inspector.inspect(record)
        except Exception as exc:  # noqa: BLE001 — one bad conversation must not stop the night's run
            reject = Reject(
                record.source or SourceRef("?"),
                "internal.error",
                f"inspection failed: {type(exc).__name__}: {exc} — please report this with the record",
                record.id,
            )
            summary.rejected += 1
            summary.rejects_by_reason["internal.error"] = summary.rejects_by_reason.get("internal.error", 0) + 1
            on_reject(reject)
            continue
        summary.inspected += 1
        summary.findings += len(result.findings)
        summary.review_needed += result.review["needed"]
        for w in result.warnings:
            kind = w.split(":", 1)[0]
            summary.warnings_by_kind[kind] = summary.warnings_by_kind.get(kind, 0) + 1
        on_result(result)


def run_inspection(
    inputs: list[str],
    out_dir: str | Path,
    config: dict,
    mask: bool = True,
    table_columns: dict | None = None,
    progress=None,
) -> dict[str, Any]:
    """Inspect ``inputs`` into ``out_dir``; return the manifest (also written as manifest.json)."""
    from .ingest import expand_inputs, read_inputs
    from .io.writers import RunWriter, describe_inputs

    started = time.time()
    paths = expand_inputs(inputs)
    inspector = Inspector(config, mask=mask)
    summary = RunSummary()
    with RunWriter(Path(out_dir), config["output"]["parquet_batch_rows"]) as writer:
        def on_result(result):
            writer.write_result(result)
            if progress:
                progress(summary)

        inspect_records(
            inspector,
            read_inputs([str(p) for p in paths], config, table_columns),
            on_result,
            writer.write_reject,
            summary,
        )
        finished = time.time()
        manifest = {
            "zhijian": __version__,
            "inputs": describe_inputs(paths),
            "counts": summary.as_dict(),
            "counts_add_up": summary.read == summary.inspected + summary.rejected,
            "versions": inspector.versions,
            "config": config,
            "mask": mask,
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "elapsed_s": round(finished - started, 3),
            "conversations_per_s": round(summary.read / (finished - started), 1) if finished > started else None,
            "outputs": writer.output_names(),
        }
        writer.write_manifest(manifest)
    return manifest


def _iso(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).astimezone().isoformat(timespec="seconds")
