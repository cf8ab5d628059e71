"""Features: what a classifier sees of a turn or a conversation.

Both models read the tokens the pipeline already made (``Turn.tokens``: rjieba over the normalized
text, with the lexicon phrases and domain words in the user dictionary), so training must tokenize
its data exactly the same way: :class:`TextPrep` builds the pipeline's own normalizer and segmenter
from the configuration.

``clean_tokens`` is the vectorizers' analyzer (a module-level function: the pickled model refers
to it by name). It drops whitespace, punctuation and anything holding a digit (order numbers,
amounts and the corpora's anonymisation placeholders carry no class information), and lower-cases
Latin letters.

Measured choice (docs/MODELS.md, bench/models_ablation.py): TF-IDF over these tokens — on the
issue-type data character 1–3-grams scored lower (held-out macro-F1 0.53 vs 0.58) with a 10×
larger vocabulary and slower transforms, and token bigrams lower still; the tokens also come free
from the tokenize stage.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from collections.abc import Iterable, Sequence

# anonymisation placeholders of the JD corpora: [数字], [数字x], [订单编号], [ORDERID_10031770],
# emoticon codes #E-s[数字x] …, also in full-width brackets (［数字］, issue 11) — removed from training text (real conversations hold real values,
# which clean_tokens drops anyway since they contain digits)
PLACEHOLDER = re.compile(
    r"#E-[a-z][\[［][^\]\[［］]{1,8}[\]］]|[\[［]ORDERID_\d+[\]］]"
    r"|[\[［](?:数字|订单编号|姓名|地址|金额|站点|时间|电话|日期|组织机构|邮箱|表情|身份证号|链接)x?[\]］]"
)

_DIGIT = re.compile(r"\d")
# a role tag the issue-type documents put in front of agent tokens: an agent saying 退款 is
# weaker evidence than a customer asking for one
AGENT_PREFIX = "a:"


def _is_symbolic(tok: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PSZC" for ch in tok)


def clean_tokens(tokens: Sequence[str]) -> list[str]:
    """The analyzer: the informative tokens of a document (a list of tokens), lower-cased."""
    out = []
    for tok in tokens:
        tok = tok.strip()
        if not tok or _DIGIT.search(tok) or _is_symbolic(tok):
            continue
        out.append(tok.lower())
    return out


clean_tokens.per_token = True  # each token maps on its own (predict.py memoises token → feature)


def tokens_with_bigrams(tokens: Sequence[str]) -> list[str]:
    """Analyzer variant: the cleaned tokens and their adjacent pairs (``退款_多久``)."""
    toks = clean_tokens(tokens)
    return toks + [f"{a}_{b}" for a, b in zip(toks, toks[1:])]


ANALYZERS = {"tokens": clean_tokens, "tokens+bigrams": tokens_with_bigrams}


def strip_placeholders(text: str) -> str:
    return PLACEHOLDER.sub(" ", text)


def conversation_document(turns: Iterable[tuple[str, Sequence[str]]], roles: str = "customer+agent") -> list[str]:
    """One token list for a whole conversation, for the issue-type model.

    ``turns`` are (role, tokens). ``roles``: ``customer`` (customer turns only), ``all`` (every
    turn, untagged) or ``customer+agent`` (customer tokens as they are, agent tokens tagged with
    ``a:`` so the two are separate features).
    """
    doc: list[str] = []
    for role, toks in turns:
        if role == "customer":
            doc.extend(toks)
        elif role == "agent" and roles != "customer":
            if roles == "customer+agent":
                doc.extend(AGENT_PREFIX + t for t in toks)
            else:
                doc.extend(toks)
    return doc


def agent_tag_analyzer(doc: Sequence[str]) -> list[str]:
    """``clean_tokens`` that keeps the ``a:`` tag of agent tokens."""
    out = []
    for tok in doc:
        if tok.startswith(AGENT_PREFIX):
            c = clean_tokens([tok[len(AGENT_PREFIX):]])
            if c:
                out.append(AGENT_PREFIX + c[0])
        else:
            out.extend(clean_tokens([tok]))
    return out


agent_tag_analyzer.per_token = True
ANALYZERS["tokens+role"] = agent_tag_analyzer

# character n-gram features carry this prefix so that they never collide with a token (退款 the
# word vs 退款 the bigram) and never show up in ``because``
CHAR_PREFIX = "~"
CHAR_NGRAMS = (2, 2)  # bigrams: 2–3-grams measured no better in CV and cost 13 % of pipeline throughput (docs/MODELS.md)


def role_tokens_and_chars(doc: Sequence[str]) -> list[str]:
    """``agent_tag_analyzer`` plus the character bigrams (``CHAR_NGRAMS``) of the customer's cleaned tokens.

    Why: the jieba tokens split a customer's 开发票 / 开票 / 发票抬头 three ways and miss typos;
    the customer's character n-grams see what they share. Measured on real chats (issue 11,
    docs/MODELS.md): +0.05–0.09 single-type macro-F1 on 495 held-out dialogues over tokens alone.
    Agent text stays at the token level (an agent's scripted phrasing would otherwise dominate).
    """
    out: list[str] = []
    customer: list[str] = []
    clean = clean_token
    for tok in doc:
        c = clean(tok)
        if c is not None:
            out.append(c)
            if not tok.startswith(AGENT_PREFIX):
                customer.append(c)
    s = "".join(customer)
    for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
        out.extend([CHAR_PREFIX + s[i:i + n] for i in range(len(s) - n + 1)])
    return out


@lru_cache(maxsize=200_000)
def clean_token(tok: str) -> str | None:
    """One raw token as ``agent_tag_analyzer`` reads it (``a:`` kept), or None; cached because the
    issue-type analyzer is not token-by-token and would otherwise re-clean every token of every
    conversation (bounded: open-ended input must not grow memory without end)."""
    if tok.startswith(AGENT_PREFIX):
        c = clean_tokens([tok[len(AGENT_PREFIX):]])
        return AGENT_PREFIX + c[0] if c else None
    c = clean_tokens([tok])
    return c[0] if c else None


# what the fast path needs to compute the same features without calling the analyzer on a whole
# conversation: token features one token at a time, n-grams from the customer's cleaned tokens
role_tokens_and_chars.token_analyzer = agent_tag_analyzer
role_tokens_and_chars.char_ngrams = (CHAR_PREFIX, CHAR_NGRAMS)
ANALYZERS["tokens+role+chars"] = role_tokens_and_chars

# tokens that say nothing about why a label was chosen: never in ``because`` (they stay features)
BECAUSE_SKIP = frozenset(
    "的 了 吗 呢 吧 啊 呀 哦 喔 哈 啦 嗯 额 么 嘛 是 在 我 你 您 他 她 它 我们 你们 这 那 这个 那个 一个 个 和 就 都 也 还 "
    "要 有 没 没有 不 会 能 可以 一下 什么 怎么 亲 亲亲 好 好的 请 请问 谢谢 到 给 把 被 让 吧 呃 哪 啥 下 上 对 又 再 就是 "
    "已经 现在 然后 还是 但是 因为 所以 如果 一 着 过 得 地 之 与 或 及 等".split()
)


class TextPrep:
    """The pipeline's normalize + tokenize, for training data (same code, same user dictionary)."""

    def __init__(self, config: dict | None = None):
        from ..config import load_config, resolve_path
        from ..lexicons import LexiconSet
        from ..normalize import Normalizer
        from ..segment import USER_WORD_FREQ, Segmenter, read_domain_words

        config = config if config is not None else load_config()
        lexicon_dir = resolve_path(config["paths"]["lexicons"])
        self.normalizer = Normalizer(lexicon_dir / "char_variants.txt")
        self.lexicons = LexiconSet.load(lexicon_dir, self.normalizer)
        words = read_domain_words(lexicon_dir / "domain_words.txt")
        words += [(p, USER_WORD_FREQ) for p in self.lexicons.user_words()]
        seg = config["segmenter"]
        self.segmenter = Segmenter(seg["backend"], words, seg["hmm"])
        self.description = {"segmenter": seg["backend"], "hmm": seg["hmm"], "lexicons": self.lexicons.version}

    def norm(self, text: str) -> str:
        return self.normalizer.text(strip_placeholders(text))

    def tokens(self, text: str) -> list[str]:
        norm = self.norm(text)
        return self.segmenter.cut(norm) if norm else []


# the emotion model's character n-grams: n = 1..3 over the turn's whole text, punctuation kept
EMOTION_CHAR_NGRAMS = (1, 3)
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


def tokens_and_text_chars(doc: Sequence[str]) -> list[str]:
    """The emotion model's analyzer: a customer turn's cleaned tokens plus the character 1–3-grams of
    its whole text (the tokens joined; digits as ``0``), **punctuation included**.

    Why: emotion is carried by what ``clean_tokens`` drops — 「?!」「???」「。。。」「啊!」 — and by short
    characters that jieba glues to their neighbours (急, 烦, 怕). Measured on the gold dev chats'
    turn labels (5-fold CV by chat, docs/ACCURACY.md "Round 6"): tokens alone reached turn AUC
    below the tokens + characters analyzer.
    """
    out = clean_tokens(doc)
    s = turn_text(doc)
    lo, hi = EMOTION_CHAR_NGRAMS
    for n in range(lo, hi + 1):
        out.extend([CHAR_PREFIX + s[i:i + n] for i in range(len(s) - n + 1)])
    return out


def turn_text(doc: Sequence[str]) -> str:
    """The text ``tokens_and_text_chars`` takes its character n-grams from: the tokens joined, runs of
    whitespace as one space, runs of digits as ``0``."""
    return _DIGITS.sub("0", _SPACES.sub(" ", "".join(doc)))


# what the fast path needs (predict.LinearTextModel.proba_rows_batched): the token part token by token,
# the character part as (prefix, n-gram range, the text it is taken from)
tokens_and_text_chars.token_analyzer = clean_tokens
tokens_and_text_chars.text_chars = (CHAR_PREFIX, EMOTION_CHAR_NGRAMS, turn_text)
ANALYZERS["tokens+text-chars"] = tokens_and_text_chars


def tagged_features(doc: Sequence[str]) -> list[str]:
    """The analyzer of question models (pipeline/questions): the document is already a list of
    tagged features (``c3:退款``, ``f:closing.missing``), built from the pipeline's tokens."""
    return list(doc)


ANALYZERS["tagged"] = tagged_features
