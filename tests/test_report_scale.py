"""The report's faster paths for 30 days × 100 k conversations (issue 13, item 5) give the same answers as
the per-row code they replaced. No timing here: bench/report_history.py --scale measures (docs/PERFORMANCE.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

RUNS = [0, 0, 1, 1, 2, 0]
IDS = ["a", "b", "a", "c", "a", "z"]


def keyed(results: pd.DataFrame, findings: pd.DataFrame) -> None:
    from pipeline.report.load import conversation_keys

    conversation_keys(results, findings)


@pytest.mark.parametrize("in_runs, in_ids", [([0, 1, 1], ["a", "a", "b"]), ([], []), ([2], ["a"]), ([0, 0], ["z", "z"])])
def test_key_isin_is_tuple_membership(in_runs, in_ids):
    from pipeline.report.keys import KEY, key_isin

    left = pd.DataFrame({"run": RUNS, "id": pd.Series(IDS, dtype=object)})
    right = pd.DataFrame({"run": pd.Series(in_runs, dtype=int), "conversation_id": pd.Series(in_ids, dtype=object)})
    keyed(left, right)
    want = [k in set(zip(in_runs, in_ids)) for k in zip(RUNS, IDS)]
    assert key_isin(left[KEY], right[KEY]).tolist() == want
    assert key_isin([], right[KEY]).tolist() == []


def test_conversation_keys_equal_exactly_when_the_pairs_are():
    from pipeline.report.keys import KEY

    results = pd.DataFrame({"run": RUNS, "id": pd.Series(IDS, dtype=object)})
    findings = pd.DataFrame({"run": [0, 1, 2, 2, 0], "conversation_id": pd.Series(["a", "a", "a", None, None], dtype=object)})
    keyed(results, findings)
    pairs = list(zip(results["run"], results["id"])) + list(zip(findings["run"], findings["conversation_id"]))
    keys = results[KEY].tolist() + findings[KEY].tolist()
    for i, (p, k) in enumerate(zip(pairs, keys)):
        for q, m in zip(pairs[i + 1:], keys[i + 1:]):
            assert (k == m) == (p == q and p[1] is not None), (p, q)  # a missing id matches nothing, not even another


def test_inner_join_is_the_merge():
    from pipeline.report.keys import KEY, inner_join

    # as the loader gives them: strings as object columns with None (load._coerce)
    left = pd.DataFrame({"run": [1, 0, 0, 1, 2, 0], "conversation_id": ["a", "b", "a", "x", "a", "b"], "item": list("pqrstu")},
                        dtype=object).astype({"run": int})
    right = pd.DataFrame({"run": [0, 0, 1, 2], "id": ["a", "b", "a", "b"], "agent_id": ["A1", None, "A3", "A4"],
                          "agent_team": ["一组", "二组", None, "一组"]}, dtype=object).astype({"run": int})
    keyed(right, left)
    got = inner_join(left, right, right_drop=("run", "id"))
    assert list(got.columns) == [*left.columns, "agent_id", "agent_team"]
    pd.testing.assert_frame_equal(got, left.merge(right.drop(columns=["run", "id"]), on=KEY, how="inner"))
    by_pair = left.drop(columns=[KEY]).merge(right.drop(columns=[KEY]), left_on=["run", "conversation_id"], right_on=["run", "id"])
    pd.testing.assert_frame_equal(got.drop(columns=[KEY]), by_pair.drop(columns=["id"]))  # the same rows as on the pair
    dup = pd.concat([right, right.iloc[:1]], ignore_index=True)  # a repeated key: merge's answer (rows multiply)
    pd.testing.assert_frame_equal(inner_join(left, dup, right_drop=("run", "id")),
                                  left.merge(dup.drop(columns=["run", "id"]), on=KEY, how="inner"))


def test_days_is_the_per_row_day():
    from pipeline.report.load import _day, _days

    values = ["2026-11-23T20:09:34+08:00", None, "x", "２０２６-１１-２３T00:00", "2026-1-2", "2026-11-23", "2026-11-2x"]
    for vals in (values, [None, None], [], ["2026-01-01T00:00:00Z"] * 3):
        s = pd.Series(vals, dtype=object)
        pd.testing.assert_series_equal(_days(s), s.map(_day))
        # as the loader leaves started_at (load._ARROW_TEXT): Arrow strings, the same days
        pd.testing.assert_series_equal(_days(s.astype("str")), s.map(_day))
    mixed = pd.Series(["2026-11-23T01:00", 5, None], dtype=object)  # not all strings: the per-row path
    pd.testing.assert_series_equal(_days(mixed), mixed.map(_day))


def test_hour_of_day_is_the_per_row_slice():
    from pipeline.report.customer_kpis import hour_of_day

    def per_row(started_at, dated):  # the code it replaced
        started = started_at.astype(object).where(dated, None)
        sep = started.str.slice(10, 11)
        hour = pd.to_numeric(started.str.slice(11, 13).where(sep.isin(["T", " "])), errors="coerce")
        return hour.where((hour >= 0) & (hour <= 23))

    values = ["2026-11-23T20:09:34+08:00", None, "2026-11-23 07:00", "2026-11-23X07", "2026-11-23T25:00", "2026-11-23T０８:00",
              "2026-11-23T7", "2026-11-23", "2026-11-23T-1:00"]
    for vals in (values, values[:1], [values[0], values[2]], [], ["2026-11-23T01:00", 5]):
        s = pd.Series(vals, dtype=object)
        dated = s.map(lambda v: v is not None)
        pd.testing.assert_series_equal(hour_of_day(s, dated), per_row(s, dated))
        if all(isinstance(v, str) or v is None for v in vals):  # the loader's Arrow strings
            pd.testing.assert_series_equal(hour_of_day(s.astype("str"), dated), per_row(s, dated))


def _fcr_flags_pandas(customer, ts, issue, window_days, same_issue_type, data_end=None):
    """FCR's repeat-contact flags the plain pandas way (grouped shifts and back-fills): what the numpy
    version in customer_kpis.fcr_flags replaced and must equal, row for row and in the same order."""
    from pipeline.report.load import string_codes

    customer_code, issue_code = string_codes([customer]), string_codes([issue])
    d = pd.DataFrame({"customer": customer_code, "ts": ts, "issue": np.where(issue_code >= 0, issue_code, np.nan)}, index=customer.index)
    d = d[(d["customer"] >= 0) & d["ts"].notna()]
    d = d.sort_values(["customer", "ts"], kind="stable")
    window = pd.Timedelta(days=float(window_days))
    next_any = d.groupby("customer", sort=False)["ts"].shift(-1)
    typed = d["issue"].notna()
    if same_issue_type and typed.any():
        next_same = d[typed].groupby(["customer", "issue"], sort=False)["ts"].shift(-1).reindex(d.index)
        untyped_ts = d["ts"].where(~typed)
        next_untyped = untyped_ts.groupby(d["customer"], sort=False).shift(-1).groupby(d["customer"], sort=False).bfill()
        next_return = pd.concat([next_same, next_untyped], axis=1).min(axis=1).where(typed, next_any)
    else:
        next_return = next_any
    end = d["ts"].max() if data_end is None else max(data_end, d["ts"].max())
    return pd.DataFrame({"repeat": ((next_return - d["ts"]) <= window).fillna(False).astype(bool),
                         "complete": (d["ts"] + window) <= end}, index=d.index)


@pytest.mark.parametrize("seed", range(40))
def test_fcr_flags_are_the_grouped_pandas_flags(seed):
    """Customers coming back the same day, hour or second (ties in time keep input order), missing ids,
    times and types, both FCR modes, with and without the data's end."""
    from pipeline.report.customer_kpis import fcr_flags

    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 300))
    customer = pd.Series(np.where(rng.random(n) < 0.1, None, rng.integers(0, n // 4, n).astype(str)).astype(object))
    step = int(rng.choice([1, 3600, 86400]))
    ts = pd.Series(pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta((rng.integers(0, 20 * 86400, n) // step) * step, unit="s"),
                   dtype="datetime64[ns, UTC]")
    ts[rng.random(n) < 0.05] = pd.NaT
    issue = pd.Series(np.where(rng.random(n) < 0.3, None, rng.choice(["发票", "配送物流", "退换货与退款"], n)).astype(object))
    same, window = bool(seed % 2), float(rng.choice([1, 3.5, 7]))
    end = None if seed % 3 else pd.Timestamp("2026-11-26", tz="UTC")
    got = fcr_flags(customer, ts, issue, window, same, end)
    expected = _fcr_flags_pandas(customer, ts, issue, window, same, end)
    assert got["repeat"].any() and not got["repeat"].all()  # the data exercise both answers
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


@pytest.mark.parametrize("dtype", ["str", object])
def test_the_dedupe_repeat_check_is_notna_and_duplicated(dtype):
    """The dedupe's check for ids held by several rows, on the loader's Arrow strings (one dictionary)
    and on Python objects alike, is ``notna() & duplicated(keep=False)``."""
    from pipeline.report.dedupe import _repeated

    rng = np.random.default_rng(5)
    values = pd.Series([None if rng.random() < 0.1 else f"会话-{rng.integers(0, 400)}" for _ in range(3000)], dtype=dtype)
    assert hasattr(values.array, "__arrow_array__") == (dtype == "str")
    expected = values.notna() & values.duplicated(keep=False)
    assert 0 < expected.sum() < len(values)
    pd.testing.assert_series_equal(_repeated(values), expected)
