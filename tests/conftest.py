"""Shared fixtures. Anything that loads jieba, lexicons or spaCy is module- or session-scoped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data" / "raw"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def config():
    from pipeline.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def inspector(config):
    from pipeline.run import Inspector

    return Inspector(config)


def make_conversation(turns, channel="chat", cid="t-1", **kw):
    """Build a Conversation from (role, text, ts[, end_ts]) tuples."""
    from pipeline.schema import Conversation, Turn

    built = []
    for i, t in enumerate(turns):
        role, text, ts = t[0], t[1], t[2] if len(t) > 2 else None
        end_ts = t[3] if len(t) > 3 else None
        built.append(Turn(i, role, text, ts, end_ts))
    return Conversation(cid, built, channel=channel, **kw)


@pytest.fixture()
def lexicon_copy(tmp_path, repo) -> Path:
    """A private copy of lexicons/ a test may edit."""
    dst = tmp_path / "lexicons"
    shutil.copytree(repo / "lexicons", dst)
    return dst
