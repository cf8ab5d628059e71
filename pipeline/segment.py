"""tokenize: split each turn's normalized text into words with jieba's algorithm and dictionary.

Adds ``Turn.tokens``. Two backends give the same tokens: ``rjieba`` (jieba-rs, the default:
~16× faster) and ``jieba`` (the pure-Python reference). The user dictionary — every lexicon
phrase plus ``lexicons/domain_words.txt`` — is added once per process, so a phrase like
服务很好 or 价保 stays one token. Rules never match on tokens (they match characters); tokens
feed the models and token-pattern features.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from .config import ConfigError
from .schema import Conversation

# A user-dictionary word gets this frequency unless its line gives one: high enough that jieba
# keeps the word whole, the value jieba's own ``suggest_freq`` tends to settle on for phrases.
USER_WORD_FREQ = 2000

_BACKENDS: dict[tuple[str, tuple[tuple[str, int], ...]], object] = {}


def read_domain_words(path: Path) -> list[tuple[str, int]]:
    """``word [freq]`` per line; ``#`` starts a comment."""
    words: list[tuple[str, int]] = []
    if not path.exists():
        return words
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise ConfigError(f"{path}:{n}: expected 'WORD' or 'WORD FREQ', got {line!r}")
        words.append((parts[0], int(parts[1]) if len(parts) == 2 else USER_WORD_FREQ))
    return words


# jieba-rs keeps runs like ``chen_jing@163.com`` or ``wi-fi`` as one token where Python jieba
# splits them at the symbols (its finalseg ``re_skip``); only texts holding one of these symbols
# between letters or digits need the (rare, cheap) re-split that makes the two backends agree.
_JOINED = re.compile(r"[a-zA-Z0-9][._%+#&\-]")
_PY_SKIP = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")


def _split_like_python(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for tok in tokens:
        if len(tok) > 1 and _JOINED.search(tok) and not tok.isalnum():
            out.extend(x for x in _PY_SKIP.split(tok) if x)
        else:
            out.append(tok)
    return out


class _RJieba:
    def __init__(self, words: Iterable[tuple[str, int]], hmm: bool):
        import rjieba

        self._jieba = rjieba.Jieba()
        for word, freq in words:
            self._jieba.add_word(word, freq, None)
        self.hmm = hmm

    def cut(self, text: str) -> list[str]:
        tokens = self._jieba.cut(text, self.hmm)
        if _JOINED.search(text):
            return _split_like_python(tokens)
        return tokens


class _PyJieba:
    def __init__(self, words: Iterable[tuple[str, int]], hmm: bool):
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        freq_of = self._jieba.FREQ
        for word, freq in words:
            old = freq_of.get(word, 0)
            self._jieba.add_word(word, freq)
            # jieba-rs replaces a known word's frequency in the total; Python jieba adds the new one
            # on top of the old. The difference shifts every probability a little and flips close
            # calls (超期未处理, 其他用户), so count it the jieba-rs way and both backends agree.
            self._jieba.total -= old
        self.hmm = hmm

    def cut(self, text: str) -> list[str]:
        return self._jieba.lcut(text, HMM=self.hmm)


BACKENDS = {"rjieba": _RJieba, "jieba": _PyJieba}


def load_segmenter(backend: str, words: Iterable[tuple[str, int]], hmm: bool = True):
    """One segmenter per (backend, user dictionary) per process: loading costs ~1 s."""
    merged: dict[str, int] = {}
    for word, freq in words:  # one frequency per word: the highest asked for
        if word.isdigit():
            continue  # a number as a word splits longer numbers (88 → 188号 becomes 1/88/号)
        merged[word] = max(freq, merged.get(word, 0))
    words = tuple(sorted(merged.items()))
    key = (f"{backend}:{hmm}", words)
    if key not in _BACKENDS:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown segmenter backend {backend!r}; choose one of {sorted(BACKENDS)}")
        _BACKENDS[key] = BACKENDS[backend](words, hmm)
    return _BACKENDS[key]


class Segmenter:
    """The tokenize stage."""

    name = "tokenize"

    def __init__(self, backend: str, words: Iterable[tuple[str, int]], hmm: bool = True):
        self.backend = backend
        self._seg = load_segmenter(backend, words, hmm)

    def cut(self, text: str) -> list[str]:
        return self._seg.cut(text)

    def __call__(self, conversation: Conversation) -> Conversation:
        cut = self._seg.cut
        for turn in conversation.turns:
            turn.tokens = cut(turn.norm) if turn.norm else []
        return conversation
