"""questions: scorecard questions that phrase lexicons can't answer (issue 17), answered per
conversation by a model trained on people's answers.

Seed 001's 观察记录表 asks 「是否使用了标准开场白、是否主动询问客户需求、是否清晰解释了解决方案、是否获得了客户确认」
and seeds 000–002 measure 问题解决率. A question is a rule of kind ``question`` in
``lexicons/rules.yaml`` (id, the question in Chinese, its answer choices, the answer that costs
points, the model that answers it, a confidence below which it abstains, an accuracy floor); see
``pipeline/rules/question.py`` for how it becomes a finding, ``pipeline/questions/train.py`` for
how a model is trained from labelled answers, docs/QUESTIONS.md for the figures.

This module holds what training and answering share: the conversation as the model reads it
(:func:`question_document`), the turns an answer rests on (:func:`evidence_turns`) and the loaded
answerer (:class:`Answerer`).

**The document.** The customer's and the agent's words, each also tagged with the third of the
conversation they fall in (whether a question was resolved shows at the end, whether needs were
asked at the start), the last customer and agent turns on their own, the findings of the
non-question rules and the end mood. Function words stay in the features (「吗」 at the end is
signal) but are never shown as evidence.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Sequence

from ..models.features import BECAUSE_SKIP, clean_token, tagged_features
from ..schema import Conversation

KIND = "question"
TAG_SEPARATOR = ":"  # c2:退款 — role, part, then the token
ROLE_TAG = {"customer": "c", "agent": "a"}
PARTS = 3  # the conversation read in thirds: opening, middle, end
STATUS_LIVE = "正式"  # held-out accuracy at or above the floor: the answer may cost points
STATUS_TRIAL = "试运行"  # below the floor, or no held-out figure: answers are shown, never scored


def _content_turns(conversation: Conversation) -> list:
    return [t for t in conversation.turns if t.tokens and t.role in ROLE_TAG]


READS = ("whole", "start", "end")  # which part of the conversation a question reads (rule key `reads`)
THRESHOLDS = ("min_confidence", "accuracy_floor")  # a question's own, else the `questions:` configuration's


def threshold(params: dict[str, Any], config: dict, key: str) -> float:
    """A question's ``min_confidence`` / ``accuracy_floor``: its rule's, else ``questions.<key>`` of the configuration."""
    return float(params.get(key, config["questions"][key]))


def question_document(conversation: Conversation, reads: str = "whole", findings: Iterable | None = None) -> list[str]:
    """The conversation as a question model reads it: a list of tagged features (see the module
    docstring). ``reads``: ``whole`` (every third and the position-free words), ``start`` (the
    first third) or ``end`` (the last third and the last turns) — whether a problem was solved
    shows at the end, and on the gold dev chats the end alone scored higher in cross-validation
    (docs/QUESTIONS.md). ``findings`` default to the conversation's own, minus question rules'
    findings (a question never reads its own or another question's answer)."""
    if reads not in READS:
        raise ValueError(f"reads must be one of {READS}, got {reads!r}")
    turns = _content_turns(conversation)
    n = len(turns)
    doc: list[str] = []
    last = {role: None for role in ROLE_TAG}
    for pos, t in enumerate(turns):
        r = ROLE_TAG[t.role]
        part = 1 + min(PARTS - 1, PARTS * pos // max(n, 1))
        keep = reads == "whole" or (reads == "start" and part == 1) or (reads == "end" and part == PARTS)
        for tok in t.tokens if keep else ():
            word = clean_token(tok)
            if word is None or word.startswith("a:"):
                continue
            doc.append(f"{r}{part}{TAG_SEPARATOR}{word}")
            if reads == "whole":
                doc.append(f"{r}{TAG_SEPARATOR}{word}")
        last[t.role] = t
    for role, t in last.items():
        if t is not None and reads != "start":
            doc += [f"{ROLE_TAG[role]}l{TAG_SEPARATOR}{w}" for w in map(clean_token, t.tokens) if w and not w.startswith("a:")]
    for f in conversation.findings if findings is None else findings:
        if not f.rule.startswith("question."):
            doc.append(f"f{TAG_SEPARATOR}{f.rule}")
    end = (conversation.predictions.get("sentiment") or {}).get("customer_end")
    if end:
        doc.append(f"end{TAG_SEPARATOR}{end}")
    doc.append(f"len{TAG_SEPARATOR}{'short' if n < 8 else 'medium' if n < 20 else 'long'}")
    return doc


def question_counts(conversation: Conversation, reads: str, vocab: dict[str, int], memo: dict[str, dict[str, int]]) -> dict[int, int]:
    """What a model with ``vocab`` counts in :func:`question_document` — ``{feature index: count}``
    with the features in the order the document first holds them, so the tf-idf sums run in the
    same order and give the same floats — without building the tagged strings: each raw token's
    feature is looked up once per tag and remembered in ``memo`` (``{tag: {token: index or -1}}``,
    bounded like the models' token memo). Held to ``question_document`` by
    tests/test_output_identity.py."""
    from ..models.predict import MEMO_SIZE

    if reads not in READS:
        raise ValueError(f"reads must be one of {READS}, got {reads!r}")
    counts: dict[int, int] = {}

    def lookup(tag: str, tok: str) -> int:
        word = clean_token(tok)
        j = -1 if word is None or word.startswith("a:") else vocab.get(f"{tag}{TAG_SEPARATOR}{word}", -1)
        table = memo[tag]
        if len(table) < MEMO_SIZE:
            table[tok] = j
        return j

    turns = _content_turns(conversation)
    n = len(turns)
    whole = reads == "whole"
    starts = _part_starts(n)
    parts = range(1, PARTS + 1) if whole else (1,) if reads == "start" else (PARTS,)
    for part in parts:
        for t in turns[starts[part - 1]:starts[part]]:
            r = ROLE_TAG[t.role]
            tags = [(tag, memo.setdefault(tag, {})) for tag in ((f"{r}{part}", r) if whole else (f"{r}{part}",))]
            for tok in t.tokens:
                for tag, table in tags:
                    j = table.get(tok)
                    if j is None:
                        j = lookup(tag, tok)
                    if j >= 0:
                        counts[j] = counts.get(j, 0) + 1
    if reads != "start":
        for role, t in _last_turns(turns).items():
            if t is None:
                continue
            tag = f"{ROLE_TAG[role]}l"
            table = memo.setdefault(tag, {})
            for tok in t.tokens:
                j = table.get(tok)
                if j is None:
                    j = lookup(tag, tok)
                if j >= 0:
                    counts[j] = counts.get(j, 0) + 1
    tail = [f"f{TAG_SEPARATOR}{f.rule}" for f in conversation.findings if not f.rule.startswith("question.")]
    end = (conversation.predictions.get("sentiment") or {}).get("customer_end")
    if end:
        tail.append(f"end{TAG_SEPARATOR}{end}")
    tail.append(f"len{TAG_SEPARATOR}{'short' if n < 8 else 'medium' if n < 20 else 'long'}")
    for feature in tail:
        j = vocab.get(feature, -1)
        if j >= 0:
            counts[j] = counts.get(j, 0) + 1
    return counts


def evidence_turns(conversation: Conversation, because: Sequence[str], limit: int = 2) -> list[int]:
    """The turns that hold the features which pushed hardest for the answer, most important
    first: a feature ``c3:退款`` points at the customer's first turn in the last third holding 退款,
    ``c:退款`` at the customer's first turn holding it anywhere, ``al:…`` at the agent's last turn."""
    turns = None
    out: list[int] = []
    for feature in because:
        tag, _, word = feature.partition(TAG_SEPARATOR)
        if not word or word in BECAUSE_SKIP or tag[:1] not in ("c", "a"):
            continue
        if turns is None:
            turns = _content_turns(conversation)
            starts = _part_starts(len(turns))
            last = _last_turns(turns)
        role, where = ("customer" if tag[0] == "c" else "agent"), tag[1:]
        if where == "l":
            candidates = [last[role]] if last[role] is not None else []
        elif where == "":
            candidates = turns
        elif where.isdigit() and 1 <= int(where) <= PARTS:
            candidates = turns[starts[int(where) - 1]:starts[int(where)]]
        else:
            continue
        for t in candidates:
            if t.role == role and word in t.tokens:
                if t.index not in out:
                    out.append(t.index)
                break
        if len(out) >= limit:
            break
    return out


def _part_starts(n: int) -> list[int]:
    """Where each third of ``n`` content turns begins, then ``n``: turn ``pos`` is in part
    ``1 + min(PARTS - 1, PARTS * pos // n)``, i.e. part ``p`` is ``starts[p - 1]:starts[p]``."""
    return [-(-(p * n) // PARTS) for p in range(PARTS)] + [n]


def _last_turns(turns: list) -> dict[str, Any]:
    """Each role's last content turn (None when it has none), customer first."""
    last: dict[str, Any] = {role: None for role in ROLE_TAG}
    missing = len(last)
    for t in reversed(turns):
        if last[t.role] is None:
            last[t.role] = t
            missing -= 1
            if not missing:
                break
    return last


def evidence_turns_reference(conversation: Conversation, because: Sequence[str], limit: int = 2) -> list[int]:
    """:func:`evidence_turns` the plain way — every turn asked for every feature — which the fast
    one must equal (tests/test_output_identity.py)."""
    turns = _content_turns(conversation)
    n = len(turns)
    part_of = {t.index: str(1 + min(PARTS - 1, PARTS * pos // max(n, 1))) for pos, t in enumerate(turns)}
    last_of = {t.role: t.index for t in turns}
    out: list[int] = []
    for feature in because:
        tag, _, word = feature.partition(TAG_SEPARATOR)
        if not word or word in BECAUSE_SKIP or tag[:1] not in ("c", "a"):
            continue
        role, where = ("customer" if tag[0] == "c" else "agent"), tag[1:]
        for t in turns:
            if t.role == role and word in t.tokens and where in ("", part_of[t.index]) or (
                    where == "l" and t.index == last_of.get(role) and word in t.tokens):
                if t.index not in out:
                    out.append(t.index)
                break
        if len(out) >= limit:
            break
    return out


def shown_word(feature: str) -> str:
    """``c3:退款`` → ``退款`` (what a person reads in ``because``)."""
    return feature.partition(TAG_SEPARATOR)[2] or feature


class Answerer:
    """A trained question model (``models/<name>/``) and what its training measured."""

    def __init__(self, name: str, fast: Any, metadata: dict[str, Any]):
        self.name = name
        self.fast = fast
        self.metadata = metadata
        held_out = metadata.get("held_out") or {}
        self.held_out_macro_f1 = held_out.get("macro_f1")
        self.reference = False  # True: the document built as strings (what the fast counts must equal; tests/test_output_identity.py)
        self._memo: dict[str, dict[str, int]] = {}  # tag → raw token → feature index (question_counts)

    @property
    def version(self) -> str:
        m = self.metadata
        v = f"{self.name}@v{m['registered_version']}" if m.get("registered_version") else self.name
        return f"{v}:{m['sha256'][:12]}"

    def answer(self, conversation: Conversation, explain: int = 8) -> tuple[str, float, list[str], list[int]]:
        """``(answer, confidence, because words, evidence turns)``; the document is read the way
        the model was trained (its metadata's ``document.reads``)."""
        reads = (self.metadata.get("document") or {}).get("reads", "whole")
        if self.reference or getattr(self.fast, "analyzer", None) is not tagged_features:
            label, conf, because, _ = self.fast.predict(question_document(conversation, reads), explain=explain)
        else:
            counts = question_counts(conversation, reads, self.fast.vocab, self._memo)
            label, conf, because, _ = self.fast.predict((), explain=explain, counts=counts)
        turns = (evidence_turns_reference if self.reference else evidence_turns)(conversation, because)
        words = []
        for f in because:
            w = shown_word(f)
            if w not in words and w not in BECAUSE_SKIP and not f.startswith(("f:", "end:", "len:")):
                words.append(w)
        return label, conf, words[:5], turns


@lru_cache(maxsize=32)
def load_answerer(models_dir: str, name: str) -> Answerer | None:
    """The installed question model ``models_dir/name`` (``models_dir`` as the configuration says:
    relative to the repository), verified like the other models, or None when none is installed
    (the question then stays unanswered — never guessed). Cached per process: a model bundle does
    not change under a running inspection, and this is asked once per question per conversation."""
    from ..config import resolve_path
    from ..models import inference
    from ..models.store import has_bundle, read_metadata, verify_artifact

    directory = resolve_path(models_dir) / name
    if not has_bundle(directory):
        return None
    meta = verify_artifact(directory, read_metadata(directory))
    fast = inference.load(directory, meta.get("sha256"))
    if fast is None:
        from ..models import _sklearn_without_pandas

        with _sklearn_without_pandas():
            from ..models.predict import LinearTextModel
            from ..models.store import load_bundle

            model, meta = load_bundle(directory)
            fast = LinearTextModel(model)
    return Answerer(name, fast, meta)


def validate_params(params: dict[str, Any], where: str) -> None:
    """A ``question`` rule's conditions, checked when rules.yaml loads (errors name the rule and the fix)."""
    from ..config import ConfigError

    if not isinstance(params.get("question"), str) or not params["question"].strip():
        raise ConfigError(f"{where}: 'question' must be the question in words, e.g. 客户的问题是否解决?")
    choices = params.get("choices")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise ConfigError(f"{where}: 'choices' must list the answers, e.g. [是, 否, 不确定]")
    if params.get("fails_on") is not None and params["fails_on"] not in choices:
        raise ConfigError(f"{where}: fails_on {params['fails_on']!r} is not one of the choices {choices}")
    answerer = params.get("answerer", "classifier")
    if answerer not in ("classifier", "endpoint"):
        raise ConfigError(f"{where}: answerer must be classifier (a model trained here, default) or endpoint "
                          f"(an OpenAI-compatible endpoint set in questions.endpoint), got {answerer!r}")
    if answerer == "classifier" and (not isinstance(params.get("model"), str) or not params["model"].strip()):
        raise ConfigError(f"{where}: 'model' must name the model folder under models/ that answers it, e.g. question_resolved")
    if params.get("reads", "whole") not in READS:
        raise ConfigError(f"{where}: reads must be one of {READS} (the part of the conversation the question is about)")
    for key in THRESHOLDS:
        v = params.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1):
            raise ConfigError(f"{where}: {key} must be a number between 0 and 1, got {v!r}")
    gold_map = params.get("gold_map")
    if gold_map is not None and (not isinstance(gold_map, dict) or not set(gold_map.values()) <= set(choices)):
        raise ConfigError(f"{where}: gold_map must map gold labels to the choices {choices}, got {gold_map!r}")
