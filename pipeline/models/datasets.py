"""Real training data for the models: the coarse issue taxonomy, the datasets built from the corpora
(corpora.py loads them; splits.py fixes the held-out split), and reviewers' corrected labels.
This module also names the loaders and the split, so that ``from pipeline.models.datasets import …``
reaches everything a training script needs.

The gold set's ``test`` chats are a third split, ``gold``, that no model trains or is measured on
(splits.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import REPO_ROOT, ConfigError, load_yaml
from ..io.hashing import sha256_file
from .corpora import (CSDS_FILE, DEFAULT_DATA_DIR, JDDC_ACTS, JDDC_FILE, JDDC_SATISFACTION, REVIEW_FILES, STC3_FILE,
                      DataPaths, Dialogue, TextExample, drop_overlap, load_csds, load_jddc, load_reviews, load_stc3,
                      read_jddc_acts, stc3_label, unique, write_subset)
from .splits import GOLD_DIR, SPLIT_SALT, TEST_FRACTION, content_key, dataset_hash, gold_keys, split_of

__all__ = [
    "CSDS_FILE", "DEFAULT_DATA_DIR", "GOLD_DIR", "JDDC_ACTS", "JDDC_FILE", "JDDC_SATISFACTION", "REVIEW_FILES",
    "SENTIMENT_LABELS", "SPLIT_SALT", "STC3_FILE", "TAXONOMY_PATH", "TEST_FRACTION", "DataPaths", "Dialogue", "Taxonomy",
    "TextExample", "content_key", "dataset_hash", "drop_overlap", "extra_label_files", "gold_keys", "issue_type_dialogues",
    "jddc_turn_examples", "last_customer_turn_examples", "load_csds", "load_extra_issue_labels",
    "load_extra_sentiment_labels", "load_jddc", "load_reviews", "load_stc3", "read_jddc_acts", "split_of", "stc3_label",
    "stc3_turn_examples", "unique", "write_subset",
]

SENTIMENT_LABELS = ("negative", "neutral", "positive")
TAXONOMY_PATH = REPO_ROOT / "data" / "issue_taxonomy.yaml"


# --------------------------------------------------------------------------- taxonomy


@dataclass
class Taxonomy:
    types: dict[str, dict[str, Any]]
    fine_to_coarse: dict[str, str]
    sha256: str
    version: int
    other: str = "其他"

    @classmethod
    def load(cls, path: str | Path = TAXONOMY_PATH) -> "Taxonomy":
        path = Path(path)
        raw = load_yaml(path, "issue taxonomy")
        if not isinstance(raw, dict) or not isinstance(raw.get("types"), dict):
            raise ConfigError(f"{path}: expected a mapping with 'types: {{coarse type: {{topics: [...]}}}}'")
        fine: dict[str, str] = {}
        for coarse, spec in raw["types"].items():
            if not isinstance(spec, dict) or not isinstance(spec.get("topics"), list):
                raise ConfigError(f"{path}: type {coarse!r} needs a 'topics' list")
            for t in spec["topics"]:
                if t in fine:
                    raise ConfigError(f"{path}: topic {t!r} is listed under both {fine[t]!r} and {coarse!r}")
                fine[t] = coarse
        return cls(raw["types"], fine, sha256_file(path), int(raw.get("version", 1)))

    @property
    def labels(self) -> list[str]:
        return list(self.types)

    def coarse(self, fine_topic: str) -> str:
        return self.fine_to_coarse.get(fine_topic, self.other)

    def dialogue_label(self, fine_topics: list[str]) -> str:
        """One label from a dialogue's segment topics / turn intents: the most frequent coarse type,
        ties to the one seen first; 其他 only when nothing else is there."""
        coarse = [self.coarse(t) for t in fine_topics if t and t != "OTHER"]
        specific = [c for c in coarse if c != self.other]
        if not specific:
            return self.other
        counts = Counter(specific)
        top = max(counts.values())
        return next(c for c in specific if counts[c] == top)

    def type_shares(self, fine_topics: list[str]) -> dict[str, float]:
        """A dialogue's coarse types with the share of its segments / turns of each (the soft
        label the issue-type model learns from: half the real dialogues hold two or more types);
        ``{其他: 1.0}`` when nothing else is there."""
        specific = [c for c in (self.coarse(t) for t in fine_topics if t and t != "OTHER") if c != self.other]
        if not specific:
            return {self.other: 1.0}
        counts = Counter(specific)
        return {c: n / len(specific) for c, n in counts.items()}

    def keywords(self) -> dict[str, list[str]]:
        return {k: [str(w).lower() for w in (v.get("keywords") or [])] for k, v in self.types.items()}


# --------------------------------------------------------------------------- reviewers' labels

EXTRA_ISSUE_FILE = "issue_type.csds.json"  # what `zhijian export-labels` writes (workbench/labels.py)
EXTRA_SENTIMENT_FILE = "sentiment.stc3.json"


def extra_label_files(directories: list[Path], name: str) -> list[Path]:
    """The ``name`` files of export-labels folders (a folder without one is skipped; a folder
    that is not there is an error: a typo must not train silently without the labels)."""
    out = []
    for d in directories:
        d = Path(d)
        if not d.is_dir():
            raise ConfigError(f"--extra-labels {d}: not a folder; pass the folder `zhijian export-labels --out DIR` wrote")
        if (d / name).exists():
            out.append(d / name)
    return out


def load_extra_issue_labels(directories: list[Path]) -> tuple[list[Dialogue], list[dict[str, Any]]]:
    """Reviewers' corrected issue types (export-labels' ``issue_type.csds.json``), all in the
    training split (the held-out split stays the public corpora's, so versions stay comparable)."""
    dialogues, used = [], []
    for path in extra_label_files(directories, EXTRA_ISSUE_FILE):
        got = load_csds(path, source="reviewers", split="train")
        dialogues += got
        used.append({"file": str(path), "sha256": sha256_file(path), "dialogues": len(got)})
    return dialogues, used


def load_extra_sentiment_labels(directories: list[Path]) -> tuple[list[Dialogue], list[dict[str, Any]]]:
    """Reviewers' corrected conversation sentiment (export-labels' ``sentiment.stc3.json``), all in
    the training split."""
    dialogues, used = [], []
    for path in extra_label_files(directories, EXTRA_SENTIMENT_FILE):
        got = [d for d in load_stc3(path, source="reviewers", split="train") if d.sentiment]
        dialogues += got
        used.append({"file": str(path), "sha256": sha256_file(path), "dialogues": len(got)})
    return dialogues, used


def last_customer_turn_examples(dialogues: list[Dialogue]) -> list[TextExample]:
    """A reviewer's conversation sentiment as a label of the customer's last turn with text: the
    conversation sentiment the pipeline reports is its last customer turn's (metadata
    ``conversation.aggregate``), so that is the turn the correction is about."""
    out = []
    for d in dialogues:
        last = next((t for r, t in reversed(d.turns) if r == "customer" and t.strip()), None)
        if last is not None and d.sentiment:
            out.append(TextExample(d.key, d.source, last, d.sentiment, d.split))
    return out


# --------------------------------------------------------------------------- the datasets


def issue_type_dialogues(paths: DataPaths, taxonomy: Taxonomy) -> tuple[list[Dialogue], dict[str, Any]]:
    """CSDS + JDDC dialogues with a coarse issue type; JDDC dialogues also in CSDS are dropped."""
    csds = unique(load_csds(paths.csds))
    jddc = unique(load_jddc(paths.jddc, paths.jddc_acts))
    jddc, dropped = drop_overlap(csds, jddc)
    dialogues = csds + jddc
    for d in dialogues:
        d.issue_type = taxonomy.dialogue_label(d.fine_topics)
    info = {
        "csds_dialogues": len(csds),
        "jddc_dialogues": len(jddc),
        "jddc_dropped_overlap_with_csds": dropped,
        "files": {p.name: sha256_file(p) for p in (paths.csds, paths.jddc, paths.jddc_acts)},
        "taxonomy_sha256": taxonomy.sha256,
    }
    return dialogues, info


def jddc_turn_examples(dialogues: list[Dialogue]) -> list[TextExample]:
    """Customer turns with a satisfaction label, each with the agent turn just before it."""
    out = []
    for d in dialogues:
        prev_agent = ""
        for (role, text), label in zip(d.turns, d.turn_sentiment):
            if role == "agent":
                prev_agent = text
                continue
            if label is not None:
                out.append(TextExample(d.key, d.source, text, label, d.split, context=prev_agent))
    return out


def stc3_turn_examples(dialogues: list[Dialogue]) -> list[TextExample]:
    """Weak labels: every customer turn of an STC-3 dialogue carries the dialogue's satisfaction."""
    return [
        TextExample(d.key, d.source, text, d.sentiment, d.split)
        for d in dialogues
        if d.sentiment
        for role, text in d.turns
        if role == "customer" and text.strip()
    ]
