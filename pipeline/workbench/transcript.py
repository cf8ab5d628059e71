"""The conversation page's transcript: turns cut into pieces at finding spans, with personal data masked.

Offsets of findings and PII spans are in each turn's original text. Masking keeps the length
(pipeline.privacy.mask_text), so the whole turn is masked first and then cut at the original
offsets; what a person sees is never the raw text unless a supervisor revealed it (audited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.privacy import mask_free_text, mask_span_text, mask_text
from pipeline.schema import Span

ROLE_LABELS = {"agent": "坐席", "customer": "客户", "system": "系统", "bot": "机器人"}


class Unmasked(str):
    """Text a person is allowed to see unmasked right now (a supervisor's audited reveal, a CSRF token):
    :func:`shown_text` lets it through. Every other string a page prints is masked."""


@dataclass(frozen=True)
class Piece:
    """A run of a turn's text covered by the same findings (ids) and either all PII or none."""

    text: str
    findings: tuple[int, ...] = ()
    pii: bool = False
    ends: tuple[int, ...] = ()  # findings whose span ends with this piece (their marker goes after it)


@dataclass
class TurnView:
    index: int
    role: str
    role_label: str
    ts: Any
    pieces: list[Piece]
    findings: list[Any] = field(default_factory=list)  # findings on this turn without a usable span
    sentiment: dict[str, Any] | None = None


def pii_spans(conv_pii: list[Any] | None, turn: int) -> list[Span]:
    """The stored ``[start, end, label]`` spans of one turn as privacy Spans."""
    if not conv_pii or turn >= len(conv_pii) or not conv_pii[turn]:
        return []
    out = []
    for sp in conv_pii[turn]:
        if isinstance(sp, dict):
            out.append(Span(int(sp["start"]), int(sp["end"]), str(sp.get("label", ""))))
        else:
            out.append(Span(int(sp[0]), int(sp[1]), str(sp[2]) if len(sp) > 2 else ""))
    return out


def has_span(finding: Any, turn_text: str | None) -> bool:
    return (turn_text is not None and finding.start is not None and finding.end is not None
            and 0 <= finding.start < finding.end <= len(turn_text))


def turn_pieces(text: str, pii: list[Span], findings: list[tuple[int, int, int]], *, reveal: bool, mask_char: str) -> list[Piece]:
    """``text`` cut at every finding and PII boundary; ``findings`` are (id, start, end) in the original text."""
    shown = Unmasked(text) if reveal else mask_text(text, pii, mask_char)
    piece_text = Unmasked if reveal else str
    cuts = {0, len(text)}
    for _, s, e in findings:
        cuts.update((s, e))
    for sp in pii:
        cuts.update((max(0, sp.start), min(len(text), sp.end)))
    bounds = sorted(c for c in cuts if 0 <= c <= len(text))
    pieces = []
    for s, e in zip(bounds, bounds[1:]):
        if s == e:
            continue
        covering = tuple(fid for fid, fs, fe in findings if fs <= s and e <= fe)
        in_pii = any(sp.start <= s and e <= sp.end for sp in pii)
        pieces.append(Piece(piece_text(shown[s:e]), covering, in_pii, tuple(fid for fid, _, fe in findings if fe == e)))
    return pieces


def build_transcript(conv: Any, findings: list[Any], *, reveal: bool, mask_char: str) -> tuple[list[TurnView], list[Any]]:
    """Turn views for the page, and the findings that belong to no turn (shown on the conversation)."""
    turns = conv.turns or []
    by_turn: dict[int, list[Any]] = {}
    loose = []
    for f in findings:
        if f.turn is not None and 0 <= f.turn < len(turns):
            by_turn.setdefault(f.turn, []).append(f)
        else:
            loose.append(f)
    sentiments = {s.get("turn"): s for s in (conv.turn_sentiment or []) if isinstance(s, dict)}
    views = []
    for i, t in enumerate(turns):
        text = str(t.get("text") or "")
        here = by_turn.get(i, [])
        spanned = [(f.id, f.start, f.end) for f in here if has_span(f, text)]
        role = str(t.get("role") or "")
        views.append(TurnView(
            index=i, role=role, role_label=ROLE_LABELS.get(role, role), ts=t.get("ts"),
            pieces=turn_pieces(text, pii_spans(conv.pii, i), spanned, reveal=reveal, mask_char=mask_char),
            findings=[f for f in here if not has_span(f, text)], sentiment=sentiments.get(i),
        ))
    return views, loose


def shown_evidence(conv: Any, finding: Any, *, reveal: bool, mask_char: str) -> str | None:
    """A finding's evidence as shown: cut from the transcript (masked) when it has a span, else the stored text."""
    turns = conv.turns or []
    if finding.turn is not None and 0 <= finding.turn < len(turns):
        text = str(turns[finding.turn].get("text") or "")
        if has_span(finding, text):
            if reveal:
                return Unmasked(text[finding.start:finding.end])
            return mask_span_text(text, finding.start, finding.end, pii_spans(conv.pii, finding.turn), mask_char)
    # runs made with --no-mask store raw evidence: mask it here
    if reveal:
        return Unmasked(finding.evidence) if finding.evidence is not None else None
    return mask_free_text(finding.evidence, mask_char)


def shown_text(value: Any, mask_char: str) -> Any:
    """What a page prints for ``value`` (the templates' ``finalize``: every ``{{ … }}`` passes here):
    a plain string is masked (phone, ID-card, bank-card numbers, e-mail — also in Chinese numerals);
    :class:`Unmasked` text, markup already built and non-strings pass through. So a comment, a
    reason, a category or an evidence a person typed can't reach a page in clear by a forgotten filter."""
    return mask_free_text(value, mask_char) if type(value) is str else value  # mask_free_text prefilters itself
