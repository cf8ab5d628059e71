"""The README runs as written (issue 16): every ```bash block, in order, in a fresh directory holding
what a clone has (``data/``), after the set-up command — so a newcomer following it reaches a report
and the workbench without an error, and the README can't go stale. Also the ```python blocks, and
the output example, which must be the real result of ``s-0002``.

A block is skipped only when the line before it says why, in an HTML comment (invisible on GitHub):
``<!-- readme-test: skip (REASON) -->`` with a reason of :data:`SKIP_REASONS` — a server, credentials,
the tests themselves, or training that replaces the shipped models. ``<!-- readme-test: setup -->``
marks the set-up command: it runs without its ``pip install … &&`` (the test environment is installed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MARK = re.compile(r"<!--\s*readme-test:\s*(setup|skip)\s*(?:\((?P<reason>[^)]*)\))?\s*-->")
SKIP_REASONS = ("starts a server", "needs credentials", "runs the tests", "replaces the shipped models")
INSTALL_PREFIX = re.compile(r"^pip install [^&]+&&\s*")
BLOCK_TIMEOUT_S = 900  # the evaluate block inspects 660 real chats three times


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    mark: str | None  # setup | skip | None
    reason: str = ""


def readme_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w+)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while not lines[j].startswith("```"):
            j += 1
        prev = lines[i - 1] if i else ""
        mark = MARK.search(prev)
        out.append(Block(i + 1, m.group(1), "\n".join(lines[i + 1:j]), mark.group(1) if mark else None,
                         (mark.group("reason") or "") if mark else ""))
        i = j + 1
    return out


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_every_skipped_block_says_why_and_the_reason_is_allowed():
    marked = [b for b in BLOCKS if b.mark == "skip"]
    assert marked, "the test command block at least is marked"
    for b in marked:
        assert any(r in b.reason for r in SKIP_REASONS), f"README.md:{b.line}: skip reason {b.reason!r} not in {SKIP_REASONS}"
    setups = [b for b in BLOCKS if b.mark == "setup"]
    assert len(setups) == 1 and INSTALL_PREFIX.match(setups[0].code), "one set-up block: pip install … && the main job"


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A directory with what a fresh clone has for the examples (data/), after the set-up command."""
    if shutil.which("zhijian") is None:
        pytest.skip("the zhijian command is not installed (pip install -e .)")
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "data", work / "data")
    env = dict(os.environ)
    env.pop("ZHIJIAN_DATABASE_URL", None)  # the README's workbench.db in the working directory
    (setup,) = [b for b in BLOCKS if b.mark == "setup"]
    _run(INSTALL_PREFIX.sub("", setup.code), work, env, setup.line)
    return work, env


def _run(code: str, cwd: Path, env: dict, line: int) -> subprocess.CompletedProcess:
    script = "set -euo pipefail\n" + code + "\n"
    r = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    assert r.returncode == 0, f"README.md:{line} failed (exit {r.returncode}):\n{code}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    return r


def test_the_bash_blocks_run_as_written_in_order(clone):
    work, env = clone
    ran = 0
    for b in BLOCKS:
        if b.lang != "bash" or b.mark is not None:
            continue
        _run(b.code, work, env, b.line)
        ran += 1
    assert ran >= 5
    # a newcomer reached a report, the nightly run and the workbench database
    assert (work / "report.html").stat().st_size > 10_000
    assert (work / "workbench.db").exists()
    assert (work / "runs").is_dir()


def test_the_python_blocks_run_as_written(clone):
    work, env = clone
    for b in BLOCKS:
        if b.lang == "python" and b.mark is None:
            r = subprocess.run([sys.executable, "-c", b.code], cwd=work, env=env, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, f"README.md:{b.line} failed:\n{b.code}\n{r.stderr[-3000:]}"


def _same(shown, real, path="") -> list[str]:
    """Where the README example differs from the real result; "…" in the example stands for anything."""
    if shown == "…":
        return []
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{path}: README has an object, the run {real!r}"]
        diffs = [f"{path}.{k}: not in the real result" for k in shown if k not in real]
        return diffs + [d for k in shown if k in real for d in _same(shown[k], real[k], f"{path}.{k}")]
    if isinstance(shown, list):
        if shown and shown[-1] == "…":  # the first items, then more
            shown, real = shown[:-1], real[:len(shown) - 1] if isinstance(real, list) else real
        if not isinstance(real, list) or len(real) != len(shown):
            return [f"{path}: README lists {len(shown)}, the run {real!r}"]
        return [d for i, (s, r) in enumerate(zip(shown, real)) for d in _same(s, r, f"{path}[{i}]")]
    return [] if shown == real else [f"{path}: README {shown!r}, the run {real!r}"]


def test_the_output_example_is_the_real_result(clone):
    work, _ = clone
    (example,) = [b for b in BLOCKS if b.lang == "json" and '"id": "s-0002"' in b.code]
    shown = json.loads(example.code)
    real = next(json.loads(x) for x in (work / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()
                if json.loads(x)["id"] == "s-0002")
    diffs = _same(shown, real)
    assert not diffs, (f"README.md:{example.line}: the output example is stale; the real s-0002 is\n"
                       + json.dumps(real, ensure_ascii=False)[:4000] + "\n" + "\n".join(diffs))


def test_the_layout_lists_every_doc():
    text = README.read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):]
    missing = [p.name for p in sorted((REPO / "docs").glob("*.md")) if p.name not in layout]
    assert not missing, f"README.md Layout does not list {missing}"

