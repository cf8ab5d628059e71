"""Loaders for the public corpora in ``../shared/data/raw`` (or a user's own files of the same shape):
real dialogues and reviews, each in the split splits.py fixes for its content.

Sources (provenance and licences: each folder's SOURCE.md; nothing is copied into the repository):

* ``csds_topic/val.json`` — 777 JD dialogues, one row per topic-labelled QA segment.
* ``jddc_uss/valid_jddc.txt`` (+ ``act_jddc.txt``) — 330 JD dialogues in a windowed format, with an
  intent per customer turn and a satisfaction label (0 / 1 / 2) per customer turn from the 4th on.
* ``chinese_sentiment/*`` — ~80,000 binary product / hotel / take-away reviews.
* ``stc3_dch/train_data_cn.json.gz`` — 3,700 Weibo customer–helpdesk dialogues, 19 annotators'
  dialogue-level customer-satisfaction scores (-2 … 2).
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import REPO_ROOT, ConfigError
from .features import strip_placeholders
from .splits import content_key, split_of

JDDC_SATISFACTION = {0: "negative", 1: "neutral", 2: "positive"}  # 0 dissatisfied · 1 neutral · 2 satisfied
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "raw"

# file names inside a data directory laid out like ../shared/data/raw
CSDS_FILE = "csds_topic/val.json"
JDDC_FILE = "jddc_uss/valid_jddc.txt"
JDDC_ACTS = "jddc_uss/act_jddc.txt"
REVIEW_FILES = {
    "htl": "chinese_sentiment/ChnSentiCorp_htl_all.csv",
    "waimai": "chinese_sentiment/waimai_10k.csv",
    "shopping": "chinese_sentiment/online_shopping_10_cats.zip",
}
STC3_FILE = "stc3_dch/train_data_cn.json.gz"


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise ConfigError(
            f"{what} not found: {path} — pass the folder holding the public corpora with --data-dir "
            f"(default {DEFAULT_DATA_DIR}) or the file itself with its own option"
        )
    return path


# --------------------------------------------------------------------------- dialogues and texts


@dataclass
class Dialogue:
    """A real dialogue: turns as (role, text), its labels, and where it came from."""

    key: str
    source: str
    turns: list[tuple[str, str]]
    split: str
    issue_type: str | None = None
    fine_topics: list[str] = field(default_factory=list)
    # per turn (aligned with ``turns``): sentiment label of a customer turn, or None
    turn_sentiment: list[str | None] = field(default_factory=list)
    sentiment: str | None = None  # dialogue-level customer satisfaction, where the corpus has it
    # CSDS: (topic, the annotators' summary of that QA segment) — extra short examples of the topic
    segments: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class TextExample:
    """One text with a sentiment label (a customer turn or a review)."""

    key: str  # the unit the split is decided on (dialogue or review)
    source: str
    text: str
    label: str
    split: str
    context: str = ""  # the agent turn just before a customer turn, if any


# --------------------------------------------------------------------------- CSDS


def load_csds(path: Path, source: str = "csds", split: str | None = None) -> list[Dialogue]:
    """One Dialogue per distinct CSDS dialogue; label from its segments' topics (labelled later).
    ``split`` forces every dialogue into one split (reviewers' labels: always ``train``)."""
    from ..convert import CSDS_ROLES, CSDS_SEPARATOR

    try:
        rows = json.loads(_need(path, "CSDS topic file").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not JSON ({e}); expected a CSDS topic file (a list of {{Dialogue, Topic}})") from None
    topics: dict[str, list[str]] = {}
    segments: dict[str, list[tuple[str, str]]] = {}
    for n, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("Dialogue"), str):
            raise ConfigError(f"{path}: row {n} has no 'Dialogue' text; expected a CSDS topic file (a list of {{Dialogue, Topic}})")
        topics.setdefault(row["Dialogue"], []).append(row.get("Topic") or "")
        segments.setdefault(row["Dialogue"], []).append((row.get("Topic") or "", row.get("QASumm") or ""))
    out = []
    for text, tops in topics.items():
        turns = []
        for utt in text.split(CSDS_SEPARATOR):
            speaker, _, body = utt.partition(":")
            turns.append((CSDS_ROLES.get(speaker, "customer"), body))
        key = content_key("csds", text)
        out.append(Dialogue(key, source, turns, split or split_of(key), fine_topics=tops,
                            segments=[(t, s) for t, s in segments[text] if s]))
    return out


# --------------------------------------------------------------------------- JDDC (USS / USDA)


def read_jddc_acts(path: Path) -> dict[int, str]:
    acts = {}
    for line in _need(path, "JDDC act list").read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            i, name = line.split("\t", 1)
            acts[int(i)] = name.strip()
    return acts


def load_jddc(path: Path, acts_path: Path) -> list[Dialogue]:
    """Rebuild whole dialogues from the windowed lines (SOURCE.md): each line adds one customer
    turn; the previous element's agent reply is complete once the next line exists; a dialogue
    ends with the element ``OVERALL|||`` whose label is the dialogue's satisfaction."""
    acts = read_jddc_acts(acts_path)
    dialogues: list[Dialogue] = []
    cur: dict[str, Any] | None = None
    lines = _need(path, "JDDC file").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        try:
            ctx_s, ints_s, lab_s = line.split("\t")
            ctx = ast.literal_eval(ctx_s)
            ints = ast.literal_eval(ints_s)
            label = int(lab_s)
        except (ValueError, SyntaxError) as e:
            raise ConfigError(f"{path}:{n}: not a JDDC line (context<TAB>intents<TAB>label): {e}") from None
        pairs = [c.split("|||", 1) if "|||" in c else [c, ""] for c in ctx]
        if cur is None:
            cur = {"pairs": [list(p) for p in pairs], "intents": list(ints), "sat": [None] * len(pairs)}
        else:
            cur["pairs"][-1][1] = pairs[-2][1]
            cur["pairs"].append(list(pairs[-1]))
            cur["intents"].append(ints[-1])
            cur["sat"].append(None)
        cur["sat"][-1] = label
        if ctx[-1] == "OVERALL|||":
            overall = cur["sat"].pop()
            cur["pairs"].pop()
            cur["intents"].pop()
            turns: list[tuple[str, str]] = []
            turn_sent: list[str | None] = []
            for (user, agent), sat in zip(cur["pairs"], cur["sat"]):
                turns.append(("customer", user))
                turn_sent.append(JDDC_SATISFACTION.get(sat) if sat is not None else None)
                if agent:
                    turns.append(("agent", agent))
                    turn_sent.append(None)
            key = content_key("jddc", *[u for u, _ in cur["pairs"]])
            dialogues.append(
                Dialogue(
                    key,
                    "jddc",
                    turns,
                    split_of(key),
                    fine_topics=[acts.get(i, "OTHER") or "OTHER" for i in cur["intents"]],
                    turn_sentiment=turn_sent,
                    sentiment=JDDC_SATISFACTION.get(overall),
                )
            )
            cur = None
    return dialogues


def _customer_set(d: Dialogue, min_chars: int = 8) -> set[str]:
    """The dialogue's customer utterances of ≥ ``min_chars`` characters once placeholders and
    spaces are gone (measured after stripping: a placeholder-only turn is not an utterance)."""
    out = set()
    for r, t in d.turns:
        if r == "customer":
            u = strip_placeholders(t).replace(" ", "")
            if len(u) >= min_chars:
                out.add(u)
    return out


def drop_overlap(keep: list[Dialogue], other: list[Dialogue], min_shared: int = 2) -> tuple[list[Dialogue], int]:
    """``other`` without the dialogues that share ≥ ``min_shared`` customer utterances (≥ 8 chars)
    with a dialogue of ``keep`` (CSDS and JDDC both come from JDDC: a few dialogues are in both)."""
    index: dict[str, set[int]] = {}
    for i, d in enumerate(keep):
        for u in _customer_set(d):
            index.setdefault(u, set()).add(i)
    out, dropped = [], 0
    for d in other:
        c = Counter(i for u in _customer_set(d) for i in index.get(u, ()))
        if c and c.most_common(1)[0][1] >= min_shared:
            dropped += 1
            continue
        out.append(d)
    return out, dropped


# --------------------------------------------------------------------------- reviews


def _read_csv_rows(fh) -> list[dict[str, str]]:
    import csv

    return list(csv.DictReader(fh))


def load_reviews(data_dir: Path, files: dict[str, str] | None = None) -> tuple[list[TextExample], dict[str, int]]:
    """Binary reviews (1 → positive, 0 → negative), de-duplicated across all sets by their text
    (whitespace removed): a text met twice is one example, a text met with both labels is dropped."""
    files = files or REVIEW_FILES
    seen: dict[str, tuple[str, str, str]] = {}  # norm text -> (label, source, text)
    conflicted: set[str] = set()
    stats: Counter[str] = Counter()
    for name, rel in files.items():
        path = _need(Path(data_dir) / rel, f"review file {name}")
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                member = next(m for m in z.namelist() if m.endswith(".csv"))
                with z.open(member) as raw:
                    rows = _read_csv_rows(io.TextIOWrapper(raw, encoding="utf-8-sig"))
        else:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                rows = _read_csv_rows(fh)
        for row in rows:
            text = (row.get("review") or "").strip().lstrip("\ufeff")
            if not text or row.get("label") not in ("0", "1"):
                stats["empty_or_unlabelled"] += 1
                continue
            label = "positive" if row["label"] == "1" else "negative"
            source = f"{name}:{row['cat']}" if row.get("cat") else name
            norm = "".join(text.split())
            stats["rows"] += 1
            if norm in seen:
                stats["duplicates"] += 1
                if seen[norm][0] != label:
                    conflicted.add(norm)
                continue
            seen[norm] = (label, source, text)
    out = []
    for norm, (label, source, text) in seen.items():
        if norm in conflicted:
            continue
        key = content_key("review", norm)
        out.append(TextExample(key, source, text, label, split_of(key)))
    stats["conflicting_labels_dropped"] = len(conflicted)
    stats["examples"] = len(out)
    return out, dict(stats)


# --------------------------------------------------------------------------- STC-3 DCH


def stc3_label(scores: list[int]) -> str:
    """Dialogue-level customer satisfaction from the annotators' S scores (-2 … 2): the mean,
    bucketed at ±0.5 (SOURCE.md: 1,102 / 2,096 / 502 dialogues)."""
    mean = sum(scores) / len(scores)
    return "negative" if mean <= -0.5 else "positive" if mean >= 0.5 else "neutral"


def load_stc3(path: Path, source: str = "stc3", split: str | None = None) -> list[Dialogue]:
    path = _need(path, "STC-3 DCH file")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        try:
            raw = json.load(fh)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not JSON ({e}); expected an STC-3 DCH file (a list of {{id, turns, annotations}})") from None
    out = []
    for d in raw:
        turns = []
        for t in d["turns"]:
            role = "customer" if t["sender"] == "customer" else "agent"
            text = " ".join(u for u in t["utterances"] if u)
            turns.append((role, text))
        scores = [a["quality"]["S"] for a in d.get("annotations", [])]
        key = content_key("stc3", str(d["id"]), *[t for _, t in turns])
        out.append(Dialogue(key, source, turns, split or split_of(key), sentiment=stc3_label(scores) if scores else None))
    return out


# --------------------------------------------------------------------------- where the corpora are


@dataclass
class DataPaths:
    """Where the corpora are: a data directory laid out like ../shared/data/raw, or single files."""

    data_dir: Path = DEFAULT_DATA_DIR
    csds: Path | None = None
    jddc: Path | None = None
    jddc_acts: Path | None = None
    stc3: Path | None = None

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        self.csds = Path(self.csds) if self.csds else self.data_dir / CSDS_FILE
        self.jddc = Path(self.jddc) if self.jddc else self.data_dir / JDDC_FILE
        self.jddc_acts = Path(self.jddc_acts) if self.jddc_acts else self.data_dir / JDDC_ACTS
        self.stc3 = Path(self.stc3) if self.stc3 else self.data_dir / STC3_FILE

    def review_paths(self) -> dict[str, Path]:
        return {k: self.data_dir / v for k, v in REVIEW_FILES.items()}


def unique(dialogues: list[Dialogue]) -> list[Dialogue]:
    """The first of dialogues with the same content key (JDDC holds a dialogue twice)."""
    seen: set[str] = set()
    out = []
    for d in dialogues:
        if d.key not in seen:
            seen.add(d.key)
            out.append(d)
    return out


def write_subset(src: Path, dst: Path, dialogues: int = 40, reviews: int = 200) -> Path:
    """A small real subset of a data directory, laid out the same way (for quick runs, tests and
    the notebook check): the first ``dialogues`` dialogues of each corpus, and ``reviews`` reviews
    of each review set taken evenly through the file (the files are sorted by label)."""
    import csv

    src, dst = Path(src), Path(dst)
    # CSDS: rows of the first N distinct dialogues
    rows = json.loads((src / CSDS_FILE).read_text(encoding="utf-8"))
    keep: list[str] = list(dict.fromkeys(r["Dialogue"] for r in rows))[:dialogues]
    keep_set = set(keep)
    (dst / CSDS_FILE).parent.mkdir(parents=True, exist_ok=True)
    (dst / CSDS_FILE).write_text(json.dumps([r for r in rows if r["Dialogue"] in keep_set], ensure_ascii=False), encoding="utf-8")
    # JDDC: lines up to the N-th OVERALL
    out, n = [], 0
    for line in (src / JDDC_FILE).read_text(encoding="utf-8").splitlines():
        out.append(line)
        if "'OVERALL|||']" in line.split("\t", 1)[0]:
            n += 1
            if n >= dialogues:
                break
    (dst / JDDC_FILE).parent.mkdir(parents=True, exist_ok=True)
    (dst / JDDC_FILE).write_text("\n".join(out) + "\n", encoding="utf-8")
    (dst / JDDC_ACTS).write_bytes((src / JDDC_ACTS).read_bytes())
    # reviews: evenly spaced rows
    for rel in REVIEW_FILES.values():
        path = src / rel
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                member = next(m for m in z.namelist() if m.endswith(".csv"))
                with z.open(member) as raw:
                    rows_ = list(csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig")))
        else:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                rows_ = list(csv.reader(fh))
        header, body = rows_[0], rows_[1:]
        step = max(1, len(body) // reviews)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(body[::step][:reviews])
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".zip":
            with zipfile.ZipFile(dst / rel, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(Path(rel).stem + ".csv", buf.getvalue())
        else:
            (dst / rel).write_text(buf.getvalue(), encoding="utf-8")
    # STC-3: the first N dialogues
    if (src / STC3_FILE).exists():
        with gzip.open(src / STC3_FILE, "rt", encoding="utf-8") as fh:
            stc3 = json.load(fh)[: dialogues * 2]
        (dst / STC3_FILE).parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(dst / STC3_FILE, "wt", encoding="utf-8") as fh:
            json.dump(stc3, fh, ensure_ascii=False)
    return dst
