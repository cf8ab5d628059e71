"""Inference: the trained scikit-learn pipeline, evaluated the fast way.

A conversation has one issue-type document and ~10 customer turns. Calling scikit-learn's
``Pipeline.predict_proba`` for them costs ~3 ms per conversation in input validation and sparse
matrix set-up — more than the rest of the pipeline together. A TF-IDF → logistic-regression model
is only a dictionary, two vectors and a matrix, so :class:`LinearTextModel` takes them out of the
fitted pipeline at load time and computes the same probabilities directly (tested equal to
``predict_proba`` to 1e-9): counts → sublinear tf × idf → l2 norm → · coefᵀ + intercept → softmax.

``because`` = the tokens with the largest contribution to the predicted class: a token's tf-idf
weight × (its coefficient for that class − its mean coefficient over the classes), positive only.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

import numpy as np

from .features import AGENT_PREFIX, BECAUSE_SKIP, CHAR_PREFIX, clean_token
from .top_label import apply_top_label, top_label_row


MEMO_SIZE = 500_000  # distinct raw tokens remembered per model (bounded memory on open-ended input)
NGRAM_BITS = 21  # a Unicode code point fits in 21 bits
NGRAM_MAX = 3  # 3 × 21 bits: the longest character n-gram that fits an int64 code
NGRAM_JOIN = "\uffff"  # between texts in ngram_ids: a noncharacter, in no feature


def _ngram_code(gram: str) -> int:
    code = 0
    for ch in gram:
        code = (code << NGRAM_BITS) | (ord(ch) + 1)
    return code


def _cleaned_text(tokens: Sequence[str]) -> str:
    """The tokens the analyzer keeps (features.clean_token), joined: the text whose character n-grams count."""
    return "".join([c for c in map(clean_token, tokens) if c is not None])


class UnsupportedModel(TypeError):
    pass


class LinearTextModel:
    """The probabilities of a fitted ``Pipeline([TfidfVectorizer, LogisticRegression])`` or
    ``Pipeline([TfidfVectorizer, SoftmaxLinear])`` (calibration.py: a temperature-scaled linear
    SVM or logistic regression; its ``coef_`` already carries the temperature)."""

    def __init__(self, pipeline: Any):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from .calibration import SoftmaxLinear

        steps = getattr(pipeline, "steps", None)
        if not steps or len(steps) != 2:
            raise UnsupportedModel("expected a Pipeline of a TfidfVectorizer and a LogisticRegression or SoftmaxLinear")
        vec, clf = steps[0][1], steps[1][1]
        if not isinstance(vec, TfidfVectorizer) or not isinstance(clf, (LogisticRegression, SoftmaxLinear)):
            raise UnsupportedModel(f"expected TfidfVectorizer → LogisticRegression | SoftmaxLinear, got {type(vec).__name__} → {type(clf).__name__}")
        if not callable(vec.analyzer) or vec.binary or vec.norm not in ("l2", None) or not vec.use_idf:
            raise UnsupportedModel("the vectorizer must use a callable analyzer, counts (not binary), idf and l2 or no norm")
        coef = np.asarray(clf.coef_, dtype=np.float64)
        if coef.shape[0] == 1:  # predict_proba = [1 - σ(z), σ(z)]: the same as a softmax over [-z/2, z/2]
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
        else:
            intercept = np.asarray(clf.intercept_, dtype=np.float64)
        self._setup(analyzer=vec.analyzer, vocab=dict(vec.vocabulary_), idf=np.asarray(vec.idf_, dtype=np.float64),
                    coef_t=np.ascontiguousarray(coef.T), intercept=intercept, classes=[str(c) for c in clf.classes_],
                    sublinear=bool(vec.sublinear_tf), l2=vec.norm == "l2", top_label=getattr(clf, "top_label", None))
        self.pipeline = pipeline

    @classmethod
    def from_arrays(cls, *, analyzer: Any, vocab: dict[str, int], idf: np.ndarray, coef_t: np.ndarray, intercept: np.ndarray,
                    classes: list[str], sublinear: bool, l2: bool, top_label: dict[str, float] | None = None) -> LinearTextModel:
        """The same model from its arrays (models/inference.py): no scikit-learn import, no pickle."""
        self = cls.__new__(cls)
        self._setup(analyzer=analyzer, vocab=vocab, idf=idf, coef_t=coef_t, intercept=intercept, classes=classes,
                    sublinear=sublinear, l2=l2, top_label=top_label)
        self.pipeline = None  # the fitted scikit-learn pipeline: only when loaded from model.joblib
        return self

    def _setup(self, *, analyzer: Any, vocab: dict[str, int], idf: np.ndarray, coef_t: np.ndarray, intercept: np.ndarray,
               classes: list[str], sublinear: bool, l2: bool, top_label: dict[str, float] | None = None) -> None:
        self.analyzer, self.vocab, self.classes = analyzer, vocab, classes
        self.top_label = top_label  # the shape step after the softmax (top_label.py); None: softmax only
        self.idf, self.sublinear, self.l2 = idf, sublinear, l2  # tf-idf: log(tf) + 1 when sublinear, × idf, l2 norm
        self.coef_t, self.intercept = coef_t, intercept  # coef_t: (n_features, n_classes)
        self.centered_t = self.coef_t - self.coef_t.mean(axis=1, keepdims=True)
        self.names = {j: t for t, j in self.vocab.items()}
        self.showable = np.zeros(len(self.idf), dtype=bool)  # may a feature appear in `because`?
        for t, j in self.vocab.items():
            word = t[len(AGENT_PREFIX):] if t.startswith(AGENT_PREFIX) else t
            self.showable[j] = not t.startswith(CHAR_PREFIX) and word not in BECAUSE_SKIP
        # raw token → feature index (-1: none), memoised when the analyzer maps token by token;
        # an analyzer that adds character n-grams names its token-level part and its n-grams
        # (features.role_tokens_and_chars) so the same features come token by token too
        self.token_analyzer = getattr(self.analyzer, "token_analyzer", self.analyzer)
        self.char_ngrams = getattr(self.analyzer, "char_ngrams", None)
        self.per_token = bool(getattr(self.token_analyzer, "per_token", False))
        # an analyzer that adds the character n-grams of the whole text (features.tokens_and_text_chars)
        # names its prefix, n-gram range and text function: proba_rows_batched reads the n-grams straight
        self.text_chars = getattr(self.analyzer, "text_chars", None)
        # n-gram (without its prefix) → feature index
        prefix = self.char_ngrams[0] if self.char_ngrams else (self.text_chars[0] if self.text_chars else None)
        self._char_vocab = {t[len(prefix):]: j for t, j in self.vocab.items() if t.startswith(prefix)} if prefix else {}
        self._ngram_table: tuple[np.ndarray, np.ndarray] | None = None  # ngram_table(), built once
        self._memo: dict[str, int] = {}
        self._memo_agent: dict[str, int] = {}
        small = len(self.classes) <= 4
        self._rows = [tuple(r) for r in self.coef_t.tolist()] if small else None
        self._idf_list = self.idf.tolist() if small else None
        self._intercept_list = self.intercept.tolist()

    def _feature(self, tok: str, prefix: str = "") -> int:
        memo = self._memo_agent if prefix else self._memo
        j = memo.get(tok)
        if j is None:
            out = self.token_analyzer([prefix + tok])
            j = self.vocab.get(out[0], -1) if len(out) == 1 else -1
            if len(memo) < MEMO_SIZE:
                memo[tok] = j
        return j

    def features(self, tokens: Sequence[str], prefix: str = "") -> list[int]:
        """Feature indices of ``tokens`` (-1: not a feature), each token read as ``prefix + token``
        (``a:`` for agent tokens). Only for analyzers that map token by token."""
        get = (self._memo_agent if prefix else self._memo).get
        feats = [get(t, -2) for t in tokens]
        if -2 in feats:
            feats = [f if f != -2 else self._feature(t, prefix) for f, t in zip(feats, tokens)]
        return feats

    def ngram_table(self) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary's character n-grams as sorted integer codes and their feature indices (what
        ``ngram_ids`` searches), built once — at ``warm_up`` in a run, so the first conversations don't pay for it."""
        if self._ngram_table is None:
            items = [(g, j) for g, j in self._char_vocab.items() if 1 <= len(g) <= NGRAM_MAX and NGRAM_JOIN not in g]
            codes = np.array([_ngram_code(g) for g, _ in items], dtype=np.int64)
            order = np.argsort(codes)
            self._ngram_table = codes[order], np.array([j for _, j in items], dtype=np.intp)[order]
        return self._ngram_table

    def ngram_ids(self, texts: Sequence[str], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The character ``lo``–``hi``-grams of every text that are features: (text index, feature index)
        arrays, one entry per occurrence — what ``[_char_vocab.get(s[i:i + n]) …]`` gives, text by text,
        without a string per n-gram. Each n-gram is an integer (code point + 1, 21 bits each: 3-grams fit
        in 63 bits, and no character codes as 0, so an n-gram of another length can't equal it) looked up
        in the sorted codes of the vocabulary's n-grams; the texts are joined by U+FFFF, a noncharacter no
        feature holds, so no n-gram that spans two texts is found."""
        table, cols = self.ngram_table()
        if not texts or not len(table) or hi > NGRAM_MAX:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        chars = np.frombuffer(NGRAM_JOIN.join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64) + 1
        row_of = np.repeat(np.arange(len(texts)), [len(t) + 1 for t in texts])
        codes_, rows_ = [], []
        for n in range(lo, hi + 1):
            m = len(chars) - n + 1
            if m <= 0:
                continue
            code = chars[:m]
            for k in range(1, n):
                code = (code << NGRAM_BITS) | chars[k:k + m]
            codes_.append(code)
            rows_.append(row_of[:m])
        if not codes_:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        code, rows = np.concatenate(codes_), np.concatenate(rows_)
        at = np.minimum(np.searchsorted(table, code), len(table) - 1)
        hit = table[at] == code
        return rows[hit], cols[at[hit]]

    def char_features(self, customer_tokens: Sequence[str]) -> list[int]:
        """Feature indices (-1, or left out: not a feature) of the character n-grams of the customer's tokens
        (cleaned, joined) — what the analyzer adds to the token features; none for a model
        without them."""
        if not self.char_ngrams:
            return []
        lo, hi = self.char_ngrams[1]
        s = _cleaned_text(customer_tokens)
        if hi <= NGRAM_MAX:  # the features only, found as integer codes (ngram_ids)
            return self.ngram_ids([s], lo, hi)[1].tolist()
        get = self._char_vocab.get
        return [get(s[i:i + n], -1) for n in range(lo, hi + 1) for i in range(len(s) - n + 1)]

    def char_features_many(self, customer_tokens: Sequence[Sequence[str]]) -> list[list[int]]:
        """``char_features`` of several documents' customer tokens, from one ``ngram_ids`` call; each
        list in the order ``char_features`` gives it (a stable sort by document keeps each one's n-grams
        in their order)."""
        if not self.char_ngrams or self.char_ngrams[1][1] > NGRAM_MAX:
            return [self.char_features(tokens) for tokens in customer_tokens]
        lo, hi = self.char_ngrams[1]
        texts = [_cleaned_text(tokens) for tokens in customer_tokens]
        rows, cols = self.ngram_ids(texts, lo, hi)
        order = np.argsort(rows, kind="stable")
        bounds = np.searchsorted(rows[order], np.arange(len(texts) + 1)).tolist()
        cols = cols[order].tolist()
        return [cols[bounds[i]:bounds[i + 1]] for i in range(len(texts))]

    def _counts(self, doc: Sequence[str]) -> dict[int, int]:
        if self.per_token and not self.char_ngrams and not self.text_chars:
            counts = Counter(self.features(doc))
            counts.pop(-1, None)
            return counts
        vocab = self.vocab  # count first (in C), then one lookup per distinct feature
        return {vocab[t]: n for t, n in Counter(self.analyzer(doc)).items() if t in vocab}

    def _vector(self, doc: Sequence[str], counts: dict[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if counts is None:
            counts = self._counts(doc)
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear:
            tf = np.log(tf) + 1.0
        w = tf * self.idf[idx]
        if self.l2:
            w /= math.sqrt(float(w @ w))
        return idx, w

    def proba_rows(self, docs: Sequence[Sequence[str]]) -> list[list[float]]:
        """Probabilities for several short documents (a conversation's customer turns) as lists,
        equal to ``proba`` row by row. With few classes, plain Python beats array calls on a
        handful of features per turn (~10 µs a turn); otherwise ``proba_many``."""
        if self._rows is None or self.top_label:
            return self.proba_many(docs).tolist()
        if self.text_chars:
            return self.proba_rows_batched(docs)
        if len(self._intercept_list) == 3 and self.per_token and not self.char_ngrams:
            return self._proba_rows_3(docs)
        return self._proba_rows_loop(docs, self._counts)

    def proba_rows_batched(self, docs: Sequence[Sequence[str]]) -> list[list[float]]:
        """``proba_rows`` for an analyzer with a whole-text character part (the emotion model): each
        document's feature indices — tokens through the token memo, n-grams looked up as slices of
        the text, no feature strings built — then one set of array operations for all documents.
        Equal to ``proba_rows_reference`` up to float rounding (another summation order; measured
        ≤ 1e-12, tests/test_emotion_model.py)."""
        prefix, (lo, hi), text_of = self.text_chars
        idx: list[int] = []
        row: list[int] = []
        for r, doc in enumerate(docs):
            feats = [j for j in self.features(doc) if j >= 0]
            idx += feats
            row += [r] * len(feats)
        gram_rows, gram_cols = self.ngram_ids([text_of(doc) for doc in docs], lo, hi)
        n_docs, size = len(docs), len(self.idf)
        z = np.tile(self.intercept, (n_docs, 1))
        if idx or len(gram_cols):
            # np.unique sorts the (row, feature) keys: the same counts, in the same order, whatever order they came in
            keys, tf = np.unique(np.concatenate([np.asarray(row, dtype=np.int64) * size + np.asarray(idx, dtype=np.int64),
                                                 gram_rows.astype(np.int64) * size + gram_cols]), return_counts=True)
            rows, cols = keys // size, keys % size
            t = tf.astype(np.float64)
            if self.sublinear:
                t = np.log(t) + 1.0
            w = t * self.idf[cols]
            if self.l2:
                norm = np.sqrt(np.bincount(rows, weights=w * w, minlength=n_docs))
                w = w / norm[rows]
            for k in range(z.shape[1]):
                z[:, k] += np.bincount(rows, weights=w * self.coef_t[cols, k], minlength=n_docs)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).tolist()

    def proba_rows_reference(self, docs: Sequence[Sequence[str]]) -> list[list[float]]:
        """``proba_rows`` the plain way — the analyzer over each whole document (no token memo), a
        Counter, a loop over the classes: what the faster variants must equal float for float
        (tests/test_output_identity.py)."""
        if self._rows is None or self.top_label:
            return self.proba_many(docs).tolist()
        vocab = self.vocab
        return self._proba_rows_loop(docs, lambda doc: {vocab[t]: n for t, n in Counter(self.analyzer(doc)).items() if t in vocab})

    def _proba_rows_loop(self, docs: Sequence[Sequence[str]], counts_of) -> list[list[float]]:
        rows, idf, intercept, sub, l2 = self._rows, self._idf_list, self._intercept_list, self.sublinear, self.l2
        log, exp, sqrt = math.log, math.exp, math.sqrt
        out = []
        for doc in docs:
            z = [0.0] * len(intercept)
            ss = 0.0
            for j, c in counts_of(doc).items():
                w = ((log(c) + 1.0) if sub else float(c)) * idf[j]
                ss += w * w
                z = [a + w * b for a, b in zip(z, rows[j])]
            if ss and l2:
                n = sqrt(ss)
                z = [a / n + b for a, b in zip(z, intercept)]
            else:
                z = [a + b for a, b in zip(z, intercept)]
            m = max(z)
            e = [exp(a - m) for a in z]
            t = sum(e)
            out.append([a / t for a in e])
        return out

    def _proba_rows_3(self, docs: Sequence[Sequence[str]]) -> list[list[float]]:
        """``proba_rows`` for three classes (the sentiment model) and a token-by-token analyzer:
        the same operations in the same order — so the same floats — without a Counter per turn
        (tokens repeat rarely within a turn) and with the class loop unrolled."""
        rows, idf, sub, l2 = self._rows, self._idf_list, self.sublinear, self.l2
        b0, b1, b2 = self._intercept_list
        log, exp, sqrt = math.log, math.exp, math.sqrt
        features = self.features
        out = []
        for doc in docs:
            feats = features(doc)
            if -1 in feats:
                feats = [j for j in feats if j != -1]
            z0 = z1 = z2 = 0.0
            ss = 0.0
            if len(set(feats)) == len(feats):  # every count is 1: tf = log(1) + 1 = 1.0 (or 1.0), w = idf
                for j in feats:
                    w = idf[j]
                    ss += w * w
                    r0, r1, r2 = rows[j]
                    z0 = z0 + w * r0
                    z1 = z1 + w * r1
                    z2 = z2 + w * r2
            else:
                for j, c in Counter(feats).items():
                    w = ((log(c) + 1.0) if sub else float(c)) * idf[j]
                    ss += w * w
                    r0, r1, r2 = rows[j]
                    z0 = z0 + w * r0
                    z1 = z1 + w * r1
                    z2 = z2 + w * r2
            if ss and l2:
                n = sqrt(ss)
                z0, z1, z2 = z0 / n + b0, z1 / n + b1, z2 / n + b2
            else:
                z0, z1, z2 = z0 + b0, z1 + b1, z2 + b2
            m = max(z0, z1, z2)
            e0, e1, e2 = exp(z0 - m), exp(z1 - m), exp(z2 - m)
            t = sum((e0, e1, e2))
            out.append([e0 / t, e1 / t, e2 / t])
        return out

    def proba_many(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """Probabilities for several documents in one pass of array operations:
        (n_docs, n_classes), equal to ``proba`` row by row."""
        n = len(docs)
        z = np.tile(self.intercept, (n, 1))
        idx: list[int] = []
        tf: list[int] = []
        starts: list[int] = []
        rows: list[int] = []
        for r, doc in enumerate(docs):
            counts = self._counts(doc)
            if counts:
                rows.append(r)
                starts.append(len(idx))
                idx.extend(counts)
                tf.extend(counts.values())
        if idx:
            ix = np.asarray(idx, dtype=np.intp)
            t = np.asarray(tf, dtype=np.float64)
            if self.sublinear:
                t = np.log(t) + 1.0
            w = t * self.idf[ix]
            if self.l2:
                lengths = np.diff(np.append(starts, len(idx)))
                w /= np.repeat(np.sqrt(np.add.reduceat(w * w, starts)), lengths)
            z[rows] += np.add.reduceat(self.coef_t[ix] * w[:, None], starts, axis=0)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        return apply_top_label(p, self.top_label) if self.top_label else p

    def proba(self, doc: Sequence[str]) -> np.ndarray:
        idx, w = self._vector(doc)
        z = self.intercept + w @ self.coef_t[idx] if len(idx) else self.intercept.copy()
        z = z - z.max()
        e = np.exp(z)
        p = e / e.sum()
        return top_label_row(p, self.top_label) if self.top_label else p

    def predict(self, doc: Sequence[str], explain: int = 0, counts: dict[int, int] | None = None) -> tuple[str, float, list[str], np.ndarray]:
        """(label, confidence, because, probabilities) for one document (a token list), or for
        its feature ``counts`` when the caller has them (see ``features``)."""
        idx, w = self._vector(doc, counts)
        z = self.intercept + w @ self.coef_t[idx] if len(idx) else self.intercept.copy()
        z = z - z.max()
        e = np.exp(z)
        p = e / e.sum()
        if self.top_label:
            p = top_label_row(p, self.top_label)
        k = int(p.argmax())
        return self.classes[k], float(p[k]), self._because(idx, w, k, explain), p

    def predict_many(self, counts: Sequence[dict[int, int]], explain: int = 0) -> list[tuple[str, float, list[str], np.ndarray]]:
        """``predict`` of several documents given their feature ``counts``, with the array work done once
        for all of them: the same labels, the same words, probabilities equal up to float rounding (the
        sums run in another order; the outputs round them to 4 places)."""
        n = len(counts)
        sizes = [len(c) for c in counts]
        nnz = sum(sizes)
        idx = np.fromiter((j for c in counts for j in c), dtype=np.intp, count=nnz)
        tf = np.fromiter((v for c in counts for v in c.values()), dtype=np.float64, count=nnz)
        rows = np.repeat(np.arange(n), sizes)
        if self.sublinear:
            tf = np.log(tf) + 1.0
        w = tf * self.idf[idx]
        if self.l2 and nnz:
            w = w / np.sqrt(np.bincount(rows, weights=w * w, minlength=n))[rows]
        z = np.tile(self.intercept, (n, 1))
        if nnz:
            part = self.coef_t[idx] * w[:, None]
            for k in range(z.shape[1]):
                z[:, k] += np.bincount(rows, weights=part[:, k], minlength=n)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        if self.top_label:
            p = apply_top_label(p, self.top_label)
        best = p.argmax(axis=1).tolist()
        starts = np.cumsum([0] + sizes).tolist()
        return [(self.classes[k], float(p[r, k]), self._because(idx[starts[r]:starts[r + 1]], w[starts[r]:starts[r + 1]], k, explain), p[r])
                for r, k in enumerate(best)]

    def _because(self, idx: np.ndarray, w: np.ndarray, k: int, explain: int) -> list[str]:
        """The ``explain`` readable words that pushed hardest for class ``k``."""
        because: list[str] = []
        if explain and len(idx):
            # only words a person can read compete (no character n-grams, no function words)
            contrib = np.where(self.showable[idx], w * self.centered_t[idx, k], 0.0)
            top = min(explain * 2, len(contrib))  # agent and customer forms of a word collapse into one
            order = np.argpartition(-contrib, top - 1)[:top] if len(contrib) > top else np.arange(len(contrib))
            names = self.names
            for i in order[np.argsort(-contrib[order])].tolist():
                if contrib[i] <= 0 or len(because) >= explain:
                    break
                tok = names[int(idx[i])]
                tok = tok[len(AGENT_PREFIX):] if tok.startswith(AGENT_PREFIX) else tok
                if tok not in because:
                    because.append(tok)
        return because
