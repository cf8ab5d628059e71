"""FCR and AHT from what `zhijian inspect` writes (issue 13): two days of input inspected by the real
command, the report over the two run folders, no workbench. Worked out by hand:

    day 1 (2026-11-02 10:00)        day 2 (2026-11-04)                       duration (turn times)
    a1  U1           40 s          b1  U1 again, 09:00 (47 h later)        a1 40, a2 60, a3 80 (end_ts), a4 —
    a2  U2           60 s          b2  13812345678 again, 08:00            b1 100, b2 20, b3 — (one timestamp)
    a3  13812345678  80 s          b3  U3, 20:00 (the data's last contact)
    a4  (no customer) —

With ``report.kpis.fcr_window_days: 2`` a day-1 contact's window ends 11-04 10:00, inside the data (last contact
11-04 20:00); day-2 windows run past it. Eligible: a1, a2, a3 (a4 has no customer) — a1 and a3 come back within
2 days → FCR 1 / 3. The phone-number customer id is masked (138****5678) the same way on both days, so its
return is still seen, and the report says such ids can merge customers. AHT = (40 + 60 + 80 + 100 + 20) / 5 = 60 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pq = pytest.importorskip("pyarrow.parquet")
openpyxl = pytest.importorskip("openpyxl")

PHONE = "13812345678"
MASKED = "138****5678"


def conv(cid: str, started_at: str, customer: str | None, times: list[tuple[float | None, float | None]]) -> dict:
    roles = ["customer", "agent"]
    texts = ["你好,我的快递还没到", "您好,很高兴为您服务,我帮您查一下", "好的谢谢", "感谢您的咨询,祝您生活愉快,再见"]
    turns = []
    for i, (ts, end_ts) in enumerate(times):
        t = {"role": roles[i % 2], "text": texts[i % 4]}
        if ts is not None:
            t["ts"] = ts
        if end_ts is not None:
            t["end_ts"] = end_ts
        turns.append(t)
    rec = {"id": cid, "channel": "chat", "started_at": started_at, "agent": {"id": "A1", "name": "王芳", "team": "一组"}, "turns": turns}
    if customer is not None:
        rec["customer"] = {"id": customer}
    return rec


def chat(seconds: float) -> list[tuple[float, None]]:
    return [(0.0, None), (5.0, None), (seconds / 2, None), (seconds, None)]


DAY1 = [conv("a1", "2026-11-02T10:00:00+08:00", "U1", chat(40)), conv("a2", "2026-11-02T10:00:00+08:00", "U2", chat(60)),
        conv("a3", "2026-11-02T10:00:00+08:00", PHONE, [(0.0, 3.0), (6.0, 20.0), (30.0, 50.0), (60.0, 80.0)]),
        conv("a4", "2026-11-02T10:00:00+08:00", None, [(None, None)] * 4)]
DAY2 = [conv("b1", "2026-11-04T09:00:00+08:00", "U1", chat(100)), conv("b2", "2026-11-04T08:00:00+08:00", PHONE, chat(20)),
        conv("b3", "2026-11-04T20:00:00+08:00", "U3", [(7.0, None), (None, None), (None, None), (None, None)])]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from pipeline.cli import main

    d = tmp_path_factory.mktemp("fcr")
    out = []
    for name, rows in (("day1", DAY1), ("day2", DAY2)):
        run = d / "runs" / name
        assert main(["inspect", str(write_jsonl(d / f"{name}.jsonl", rows)), "--out", str(run), "--workers", "1", "--quiet"]) == 0
        out.append(run)
    config = d / "window.yaml"
    config.write_text("report:\n  kpis:\n    fcr_window_days: 2\n    fcr_same_issue_type: false\n", encoding="utf-8")
    return d, out, config


def results(run: Path) -> dict[str, dict]:
    return {r["id"]: r for r in pq.read_table(run / "results.parquet").to_pylist()}


def test_inspect_writes_customer_id_and_duration(runs):
    _, (day1, day2), _ = runs
    r1, r2 = results(day1), results(day2)
    assert {k: r1[k]["customer_id"] for k in r1} == {"a1": "U1", "a2": "U2", "a3": MASKED, "a4": None}
    assert {k: r1[k]["duration_s"] for k in r1} == {"a1": 40.0, "a2": 60.0, "a3": 80.0, "a4": None}  # a3: the last end_ts
    assert {k: r2[k]["duration_s"] for k in r2} == {"b1": 100.0, "b2": 20.0, "b3": None}  # b3: one timestamp measures nothing
    # results.jsonl carries them as extensions after every contract field; the phone number appears nowhere
    lines = [json.loads(x) for x in (day1 / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    a3 = next(x for x in lines if x["id"] == "a3")
    assert list(a3)[-2:] == ["customer_id", "duration_s"] and (a3["customer_id"], a3["duration_s"]) == (MASKED, 80.0)
    for f in ("results.jsonl", "manifest.json"):
        assert PHONE not in (day1 / f).read_text(encoding="utf-8")
    assert PHONE.encode() not in b"".join(p.read_bytes() for p in (day1 / "results.parquet").iterdir())


def test_no_mask_keeps_the_customer_id(runs):
    from pipeline.cli import main

    d, _, _ = runs
    run = d / "unmasked"
    assert main(["inspect", str(d / "day1.jsonl"), "--out", str(run), "--workers", "1", "--no-mask", "--quiet"]) == 0
    assert results(run)["a3"]["customer_id"] == PHONE


def test_report_fcr_and_aht_from_inspect_output(runs):
    from pipeline.cli import main

    d, run_dirs, config = runs
    html_out, xlsx_out = d / "report.html", d / "report.xlsx"
    for out in (html_out, xlsx_out):
        assert main(["report", *map(str, run_dirs), "--out", str(out), "--config", str(config), "--quiet"]) == 0
    html = html_out.read_text(encoding="utf-8")
    assert "results.parquet 的 customer_id 列" in html and "results.parquet 的 duration_s" in html
    assert "33.3%" in html and PHONE not in html
    assert "不同客户可能遮盖成同一标识" in html  # the masked-id caveat
    ws = openpyxl.load_workbook(xlsx_out)["种子指标"]
    rows = {r[1]: r for r in ws.iter_rows(min_row=4, values_only=True) if r[1]}
    header = [c.value for c in ws[3]]
    value, n, source, note = (header.index(h) for h in ("值", "n", "数据来源", "说明"))
    fcr, aht = rows["fcr"], rows["aht_s"]
    assert fcr[value] == pytest.approx(1 / 3) and fcr[n] == 3 and "customer_id" in fcr[source]
    assert aht[value] == pytest.approx(60.0) and aht[n] == 5 and "duration_s" in aht[source]
    assert "2 个会话没有时长" in aht[note]
    row_of = {r[1].value: r for r in ws.iter_rows(min_row=4) if r[1].value}
    assert row_of["fcr"][value].number_format == "0.0%" and row_of["aht_s"][value].number_format == "0.0"


def test_report_without_customer_ids_names_the_field(runs, tmp_path):
    from pipeline.cli import main

    d, _, config = runs
    strip = [{k: v for k, v in r.items() if k != "customer"} for r in DAY1 + DAY2]
    run = tmp_path / "anon"
    assert main(["inspect", str(write_jsonl(tmp_path / "anon.jsonl", strip)), "--out", str(run), "--workers", "1", "--quiet"]) == 0
    assert all(r["customer_id"] is None for r in results(run).values())
    out = tmp_path / "report.xlsx"
    assert main(["report", str(run), "--out", str(out), "--config", str(config), "--quiet"]) == 0
    ws = openpyxl.load_workbook(out)["种子指标"]
    header = [c.value for c in ws[3]]
    fcr = next(r for r in ws.iter_rows(min_row=4, values_only=True) if r[1] == "fcr")
    assert fcr[header.index("值")] is None and fcr[header.index("说明")].startswith("无数据:需要字段 customer.id")
    html = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(html), "--config", str(config), "--quiet"]) == 0
    assert "需要字段 customer.id" in html.read_text(encoding="utf-8")
