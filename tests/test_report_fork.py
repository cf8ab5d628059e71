"""The seed KPIs computed in a forked child (report/fork.py, issue 13 item 5) give the same report as
computed in-process, and a child that fails costs time, never a number. No timing here:
bench/report_history.py --scale measures (docs/PERFORMANCE.md)."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: Linux / macOS only")


def _square_in_child_only(x, parent):
    return x * x if os.getpid() != parent else -1  # tells the two apart


def _fails_in_child(x, parent):
    if os.getpid() != parent:
        raise RuntimeError("the child fails")
    return x + 1


def _dies_in_child(x, parent):
    if os.getpid() != parent:
        os._exit(3)  # killed, no result at all
    return x + 2


def test_the_result_comes_from_the_child():
    from pipeline.report.fork import ForkedCall

    call = ForkedCall(_square_in_child_only, 7, os.getpid())
    assert call.forked and call.result() == 49
    inline = ForkedCall(_square_in_child_only, 7, os.getpid(), fork=False)
    assert not inline.forked and inline.result() == -1


@pytest.mark.parametrize("fn, expected", [(_fails_in_child, 6), (_dies_in_child, 7)])
def test_a_failed_child_costs_time_not_a_number(fn, expected):
    from pipeline.report.fork import ForkedCall

    assert ForkedCall(fn, 5, os.getpid()).result() == expected  # computed again by the parent


def _same(a, b, path="report"):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=path)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True, obj=path)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_a_report_with_its_seed_kpis_forked_is_the_report_computed_in_process(tmp_path):
    """Three weeks of generated runs (customer ids for FCR, answers for the questions, verdicts): every
    table and number of the report the same whether the seed KPIs ran in a child or not."""
    from datetime import datetime

    sys.path.insert(0, str(REPO))
    from bench.report_history import generate_history
    from pipeline.config import load_config
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    runs = generate_history(tmp_path, days=21, per_day=300, seed=3, end=datetime(2026, 11, 20).date())
    config = load_config()
    config["report"]["fork_from_conversations"] = 0
    forked = compute(load_runs(runs), config, now=datetime(2026, 11, 21, 8, 0))
    config["report"]["fork_from_conversations"] = 10**9
    inline = compute(load_runs(runs), config, now=datetime(2026, 11, 21, 8, 0))
    assert any(k.key == "fcr" and k.value is not None for k in inline.seed["rows"]) and inline.questions is not None
    _same(forked, inline)
