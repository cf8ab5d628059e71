"""models: issue type (问题类型), customer sentiment and the customer's emotion.

Adds ``Conversation.predictions`` (SPEC output contract):

* ``issue_type = {"label", "confidence", "because": [tokens], "also": [{"label", "confidence"}]}`` —
  one label for the conversation, from all its customer and agent tokens, with a calibrated
  confidence; ``because`` = the words that pushed hardest for it; ``also`` = other types at or
  above ``models.issue_also_min_probability`` (half of real chats hold two issues);
* ``turn_sentiment = [{"turn", "label", "confidence"}]`` — one entry per customer turn
  (``negative`` / ``neutral`` / ``positive``; an empty turn gets ``null``s);
* ``sentiment = {"label", "confidence", "customer_end"}`` — the customer turns' probabilities
  combined as the model's metadata says (``conversation.aggregate``: mean, end-weighted mean or
  last turn — chosen at training time on real dialogue-level labels), and the label of the
  customer's last turn with text;
* ``turn_emotion = [{"turn", "label", "confidence"}]`` — one entry per customer turn with text
  (``emotion`` / ``none``): does the customer show their own clear anger, frustration, anxiety or
  distress — the anchor ``empathy.missing`` takes beside the ``negative_emotion`` lexicon. Learned
  from people's turn labels on the gold dev chats (emotion_training.py); read by the rules, not
  written to the results (a finding it anchors names ``model:emotion`` and its turn).

The models are the bundles in ``models/<name>/`` (``model.joblib`` + ``metadata.json``), verified
at start-up (store.py: sha256 and scikit-learn version, else ConfigError → exit 2) — or, when the
bundle's inference files match it, those arrays (inference.py: no scikit-learn import). A model that
isn't there predicts nothing: its fields stay ``null`` — never invented. Training, MLflow and
the CLI live in this package too (train.py, tracking.py, cli.py) and load only when used.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..schema import Conversation
from .features import AGENT_PREFIX, conversation_document

MODEL_NAMES = ("issue_type", "sentiment", "emotion")
# the per-turn models a rule may anchor on (``after: {model, label, min_confidence}``) and their labels
TURN_MODEL_LABELS = {"sentiment": ("negative", "neutral", "positive"), "emotion": ("emotion", "none")}
DEFAULTS = {"enabled": True, "because_tokens": 5, "issue_also_min_probability": 0.25, "issue_also_max": 2}


@contextmanager
def _sklearn_without_pandas():
    """Import scikit-learn without pandas when nothing has imported either yet.

    scikit-learn ≥ 1.8 imports pandas at import time (``sklearn.utils.fixes``: ``try: import
    pandas``), only to support DataFrame inputs; the models stage passes token lists, and pandas
    would add ~0.5 s of imports to every inspecting process. While scikit-learn is first imported
    here, ``import pandas`` fails as if pandas were absent; afterwards pandas imports normally.
    """
    import sys

    if "sklearn" in sys.modules or "pandas" in sys.modules:
        yield
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]  — makes `import pandas` raise ImportError
    try:
        import sklearn.utils.fixes  # noqa: F401 — the module that probes for pandas
        yield
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]


class LoadedModel:
    def __init__(self, name: str, fast: Any, metadata: dict[str, Any]):
        self.name = name
        self.fast = fast
        self.metadata = metadata

    @property
    def version(self) -> str:
        m = self.metadata
        v = f"{self.name}@v{m['registered_version']}" if m.get("registered_version") else self.name
        return f"{v}:{m['sha256'][:12]}"


class ModelsStage:
    name = "models"

    def __init__(self, models_dir: Path, config: dict | None = None):
        self.models_dir = Path(models_dir)
        cfg = {**DEFAULTS, **((config or {}).get("models") or {})}
        self.because_tokens = int(cfg["because_tokens"])
        self.also_min = float(cfg["issue_also_min_probability"])
        self.also_max = int(cfg["issue_also_max"])
        self.loaded: dict[str, LoadedModel] = {}
        if cfg["enabled"]:
            for name in MODEL_NAMES:
                self._load(name)
        issue = self.loaded.get("issue_type")
        self._issue = issue.fast if issue else None
        self._issue_roles = (issue.metadata.get("document") or {}).get("roles", "customer+agent") if issue else None
        sent = self.loaded.get("sentiment")
        self._sent = sent.fast if sent else None
        self.reference = False  # True: the plain computations the fast paths must equal (tests/test_output_identity.py)
        self._aggregate = (sent.metadata.get("conversation") or {}).get("aggregate", "mean_of_turns") if sent else None
        emotion = self.loaded.get("emotion")
        self._emotion = emotion.fast if emotion else None

    def _load(self, name: str) -> None:
        from .store import has_bundle

        directory = self.models_dir / name
        if not has_bundle(directory):
            return
        from ..config import ConfigError
        from . import inference
        from .store import read_metadata, verify_artifact

        meta = verify_artifact(directory, read_metadata(directory))  # a changed model.joblib is refused either way
        fast = inference.load(directory, meta.get("sha256"))  # arrays: no scikit-learn, no pickle
        if fast is not None:
            self.loaded[name] = LoadedModel(name, fast, meta)
            return
        with _sklearn_without_pandas():
            from .predict import LinearTextModel, UnsupportedModel
            from .store import load_bundle

            model, meta = load_bundle(directory)
        try:
            fast = LinearTextModel(model)
        except UnsupportedModel as e:
            raise ConfigError(f"{directory}: {e}") from None
        self.loaded[name] = LoadedModel(name, fast, meta)

    @property
    def versions(self) -> dict[str, str | None]:
        i, s, e = self.loaded.get("issue_type"), self.loaded.get("sentiment"), self.loaded.get("emotion")
        return {"issue_model": i.version if i else None, "sentiment_model": s.version if s else None,
                "emotion_model": e.version if e else None}

    def warm_up(self) -> None:
        """Build the models' n-gram tables now, not inside the first conversations."""
        for m in self.loaded.values():
            if m.fast.char_ngrams or m.fast.text_chars:
                m.fast.ngram_table()

    def emotion_many(self, conversations: list[Conversation]) -> list[list[list[float]]] | None:
        """The emotion model's probabilities for the customer turns with text of many conversations, from
        one batched call (half the cost of one call per conversation: the array work is shared), split
        back per conversation — what ``__call__`` computes for each, float for float (np.unique sorts each
        turn's features the same way). None without the model or on the reference path."""
        if self._emotion is None or self.reference:
            return None
        per_conv = [[t.tokens for t in c.turns if t.role == "customer" and t.tokens] for c in conversations]
        flat = self._emotion.proba_rows([d for docs in per_conv for d in docs]) if any(per_conv) else []
        out, k = [], 0
        for docs in per_conv:
            out.append(flat[k:k + len(docs)])
            k += len(docs)
        return out

    def issue_many(self, conversations: list[Conversation]) -> list[tuple[str, float, list[str], Any]] | None:
        """The issue-type model's ``predict`` for many conversations: their character n-grams found in one
        call and their scores in one set of array operations (LinearTextModel.predict_many) — the labels,
        words and rounded confidences ``__call__`` gives each alone. None without the model, on the
        reference path, or for an analyzer that does not map token by token."""
        issue = self._issue
        if issue is None or self.reference or not issue.per_token:
            return None
        parts = [self._issue_tokens(c) for c in conversations]
        chars = issue.char_features_many([customer for _, customer in parts])
        counts = []
        for (feats, _), char in zip(parts, chars):
            c = Counter(feats + char)
            c.pop(-1, None)
            counts.append(c)
        return issue.predict_many(counts, explain=self.because_tokens)

    def predict_many(self, conversations: list[Conversation]) -> list[dict[str, Any]]:
        """What the batched models give each of ``conversations`` — ``{"emotion": rows, "issue": prediction}``,
        a key left out where there is nothing batched — for ``__call__`` to use."""
        out: list[dict[str, Any]] = [{} for _ in conversations]
        for key, rows in (("emotion", self.emotion_many(conversations)), ("issue", self.issue_many(conversations))):
            if rows is not None:
                for d, row in zip(out, rows):
                    d[key] = row
        return out

    def _issue_tokens(self, conversation: Conversation) -> tuple[list[int], list[str]]:
        """The issue-type model's token features of a conversation (what ``conversation_document`` would give,
        straight from the turns' tokens) and the customer's tokens, whose character n-grams it adds."""
        issue, roles = self._issue, self._issue_roles
        feats: list[int] = []
        customer_tokens: list[str] = []
        for t in conversation.turns:
            if t.tokens and (t.role == "customer" or (t.role == "agent" and roles != "customer")):
                feats += issue.features(t.tokens, AGENT_PREFIX if t.role == "agent" and roles == "customer+agent" else "")
                if t.role == "customer":
                    customer_tokens += t.tokens
        return feats, customer_tokens

    def __call__(self, conversation: Conversation, batched: dict[str, Any] | None = None) -> Conversation:
        """Predict for one conversation; ``batched``: its entry of :meth:`predict_many`, when already computed."""
        if self._issue is None and self._sent is None and self._emotion is None:
            return conversation
        batched = batched or {}
        preds = conversation.predictions
        turns = conversation.turns
        if self._issue is not None:
            issue = self._issue
            if "issue" in batched:
                label, conf, because, proba = batched["issue"]
            elif issue.per_token and not self.reference:  # the batched path, for a batch of one
                label, conf, because, proba = self.issue_many([conversation])[0]
            else:
                doc = conversation_document(((t.role, t.tokens or ()) for t in turns), self._issue_roles)
                label, conf, because, proba = issue.predict(doc, explain=self.because_tokens)
            # half of real chats hold two issues (a refund *and* an invoice): the other likely ones
            also = sorted(((p, c) for c, p in zip(issue.classes, proba.tolist()) if c != label and p >= self.also_min), reverse=True)
            preds["issue_type"] = {"label": label, "confidence": round(conf, 4), "because": because,
                                   "also": [{"label": c, "confidence": round(p, 4)} for p, c in also[: self.also_max]]}
        if self._sent is not None:
            fast = self._sent
            classes = fast.classes
            customer = [t for t in turns if t.role == "customer"]
            with_text = [t for t in customer if t.tokens]
            probs = self._proba_rows(fast, with_text)
            by_turn = {row["turn"]: row for row in _turn_labels(classes, with_text, probs)}
            preds["turn_sentiment"] = [by_turn.get(t.index) or {"turn": t.index, "label": None, "confidence": None} for t in customer]
            end = by_turn[with_text[-1].index]["label"] if with_text else None
            if probs:
                if self._aggregate == "last_turn":
                    m = probs[-1]
                else:
                    w = range(1, len(probs) + 1) if self._aggregate == "end_weighted" else [1] * len(probs)
                    total = sum(w)
                    m = [sum(wi * p[k] for wi, p in zip(w, probs)) / total for k in range(len(classes))]
                top = max(m)
                preds["sentiment"] = {"label": classes[m.index(top)], "confidence": round(top, 4), "customer_end": end}
            else:
                preds["sentiment"] = None  # no customer text: nothing to judge
        if self._emotion is not None:
            with_text = [t for t in turns if t.role == "customer" and t.tokens]
            probs = batched["emotion"] if "emotion" in batched else self._proba_rows(self._emotion, with_text)
            preds["turn_emotion"] = _turn_labels(self._emotion.classes, with_text, probs)
        return conversation

    def _proba_rows(self, fast, turns) -> list[list[float]]:
        """The per-turn model's probabilities for ``turns`` (the reference path when asked)."""
        if not turns:
            return []
        return (fast.proba_rows_reference if self.reference else fast.proba_rows)([t.tokens for t in turns])


def _turn_labels(classes: list[str], turns, probs: list[list[float]]) -> list[dict[str, Any]]:
    """Each turn's most probable label and its probability: ``turn_sentiment`` / ``turn_emotion`` rows."""
    out = []
    for t, p in zip(turns, probs):
        top = max(p)
        out.append({"turn": t.index, "label": classes[p.index(top)], "confidence": round(top, 4)})
    return out
