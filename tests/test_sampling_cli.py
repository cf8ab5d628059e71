"""``zhijian sample`` and ``zhijian estimate`` end to end on the bundled sample run: strata and
sizes, weights, reproducibility, the workbench queue and audit entry, the planner, and estimates
from reviews made with the workbench's own workflow functions."""

from __future__ import annotations

import shutil

import orjson
import pandas as pd
import pytest
from sqlalchemy import select

from pipeline.cli import main
from pipeline.workbench import review, users
from pipeline.workbench.database import make_engine, make_session_factory, upgrade
from pipeline.workbench.db import AuditEntry, Conversation
from pipeline.workbench.load import load_run


def _sample(tmp_path, sample_run, name, *extra) -> pd.DataFrame:
    out = tmp_path / name
    assert main(["sample", str(sample_run), "--out", str(out), *extra]) == 0
    return pd.read_json(out, lines=True)


def test_sample_strata_sizes_weights_and_seed(tmp_path, sample_run, capsys):
    results = pd.read_parquet(sample_run / "results.parquet")
    s = _sample(tmp_path, sample_run, "a.jsonl", "--size", "60", "--by", "team,channel", "--min-per-stratum", "3")
    assert len(s) == 60 and s["conversation_id"].is_unique
    teams, channels = set(results["agent_team"]), set(results["channel"])
    assert {k.split(" | ")[0] for k in s["stratum"]} == teams and {k.split(" | ")[1] for k in s["stratum"]} == channels
    per = s.groupby("stratum").agg(N=("stratum_size", "first"), n=("conversation_id", "size"), w=("weight", "sum"))
    assert (per["n"] >= per["N"].clip(upper=3)).all()  # the minimum per stratum
    assert per["w"].to_numpy() == pytest.approx(per["N"].to_numpy())  # weights add up to each stratum's size
    assert per["N"].sum() == len(results)
    assert (s["inclusion_probability"] * s["weight"]).to_numpy() == pytest.approx(1.0)
    again = _sample(tmp_path, sample_run, "b.jsonl", "--size", "60", "--by", "team,channel", "--min-per-stratum", "3")
    assert again.equals(s)
    other = _sample(tmp_path, sample_run, "c.jsonl", "--size", "60", "--by", "team,channel", "--min-per-stratum", "3", "--seed", "7")
    assert set(other["conversation_id"]) != set(s["conversation_id"])
    assert "热线服务组 | phone | flagged" in capsys.readouterr().out


def test_neyman_and_score_bands_and_oversampling(tmp_path, sample_run):
    prop = _sample(tmp_path, sample_run, "p.jsonl", "--size", "40", "--bands", "score", "--min-per-stratum", "0")
    over = _sample(tmp_path, sample_run, "o.jsonl", "--size", "40", "--bands", "score", "--min-per-stratum", "10")
    ney = _sample(tmp_path, sample_run, "n.jsonl", "--size", "40", "--allocation", "neyman")
    assert {k for k in prop["stratum"]} <= {"score<60", "60≤score<85", "score≥85"}
    low = lambda df: (df["stratum"] == "score<60").sum()  # noqa: E731 — the rare high-risk band
    assert low(over) == min(10, int(over.loc[over["stratum"] == "score<60", "stratum_size"].iloc[0])) > low(prop)
    assert len(ney) == 40 and set(ney["stratum"]) == {"flagged", "not_flagged"}


def test_sample_refuses_what_cannot_be_drawn(tmp_path, sample_run, capsys):
    assert main(["sample", str(sample_run), "--size", "5", "--by", "team,channel", "--min-per-stratum", "5", "--out", str(tmp_path / "x")]) == 2
    assert "--min-per-stratum" in capsys.readouterr().err
    assert main(["sample", str(sample_run), "--size", "5", "--by", "colour", "--out", str(tmp_path / "x")]) == 2
    assert "team, channel, agent" in capsys.readouterr().err
    assert main(["sample", str(tmp_path), "--size", "5", "--out", str(tmp_path / "x")]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_plan_per_team(sample_run, capsys):
    assert main(["sample", str(sample_run), "--plan", "--by", "team", "--margin", "0.05"]) == 0
    out = capsys.readouterr().out
    results = pd.read_parquet(sample_run / "results.parquet")
    for team in set(results["agent_team"]):
        assert team in out
    assert "±5 个百分点" in out and "机器的比率" in out


@pytest.fixture()
def loaded(tmp_path, sample_run, cfg):
    shutil.copytree(sample_run.parent, tmp_path / "w")
    run = tmp_path / "w" / "run"
    url = f"sqlite:///{tmp_path / 'wb.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    yield run, url, factory
    engine.dispose()


def test_sample_load_needs_the_run_loaded(loaded, tmp_path, capsys):
    run, url, _ = loaded
    assert main(["sample", str(run), "--size", "10", "--load", "--database-url", url, "--out", str(tmp_path / "s")]) == 2
    assert "zhijian load" in capsys.readouterr().err


def test_sample_load_marks_the_queue_and_estimate_reads_the_reviews(loaded, tmp_path, cfg, capsys):
    run, url, factory = loaded
    with factory() as s:
        load_run(s, run, config=cfg)
        before = {c.ext_id: list(c.review_reasons) for c in s.scalars(select(Conversation))}
        risk_before = {c.ext_id: c.risk for c in s.scalars(select(Conversation))}
    weight = cfg["workbench"]["risk"]["reasons"]["sample.stratified"]
    out = tmp_path / "s.jsonl"
    assert main(["sample", str(run), "--size", "30", "--load", "--database-url", url, "--out", str(out)]) == 0
    ids = list(pd.read_json(out, lines=True)["conversation_id"])
    with factory() as s:
        convs = {c.ext_id: c for c in s.scalars(select(Conversation))}
        assert all(convs[i].review_needed and convs[i].review_reasons == before[i] + ["sample.stratified"] for i in ids)
        assert not any("sample.stratified" in c.review_reasons for e, c in convs.items() if e not in ids)
        # the sample's weight lifts it up the queue (reviewed soon), and a reload keeps it there
        assert weight > 0 and all(convs[i].risk == pytest.approx(risk_before[i] + weight) for i in ids)
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "sample.stratified")))
        assert len(entries) == 1 and entries[0].after["ids"] == ids and entries[0].after["newly_marked"] == 30
        load_run(s, run, config=cfg)  # loading the run again keeps the sample's reason
        s.expire_all()
        assert all("sample.stratified" in s.scalar(select(Conversation).where(Conversation.ext_id == i)).review_reasons for i in ids)
        assert all(s.scalar(select(Conversation).where(Conversation.ext_id == i)).risk == pytest.approx(risk_before[i] + weight)
                   for i in ids)
    results = pd.read_json(run / "results.jsonl", lines=True)
    assert not any("sample.stratified" in (r or {}).get("reasons", []) for r in results["review"])  # results untouched

    # review 20 sampled conversations with the workflow: reject every forbidden.phrase, confirm the rest, add one missed
    with factory() as s:
        insp = users.create_user(s, "i1", "i1-password", "inspector", config=cfg)
        rejected, added = set(), None
        for ext in ids[:20]:
            conv = s.scalar(select(Conversation).where(Conversation.ext_id == ext))
            r = review.start_review(s, conv, insp)
            for f in conv.findings:
                verdict = "rejected" if f.rule == "forbidden.phrase" else "confirmed"
                review.set_verdict(s, r, f, verdict, None, insp)
                if verdict == "rejected":
                    rejected.add(ext)
            if added is None and not any(f.rule == "empathy.missing" for f in conv.findings):
                review.add_missed_finding(s, r, rule="empathy.missing", turn=0, start=None, end=None, points=-5,
                                          comment="未安抚", actor=insp, config=cfg)
                added = ext
            review.submit_review(s, r, actor=insp, config=cfg)
        s.commit()
    capsys.readouterr()
    assert main(["estimate", str(run), "--database-url", url, "--json"]) == 0
    got = orjson.loads(capsys.readouterr().out)
    rows = {r["rule"]: r for r in got["rows"]}
    assert "分层抽样" in got["notes"][0] and "已复核并计入 20 个" in got["notes"][0]
    assert all(r["n"] == 20 and r["N"] == len(results) for r in rows.values())
    assert rows["forbidden.phrase"]["classical"] == 0 and rows["forbidden.phrase"]["machine_rate"] > 0
    assert rows["forbidden.phrase"]["ppi"] < rows["forbidden.phrase"]["machine_rate"]  # the rectifier takes the false alarms off
    e = rows["empathy.missing"]
    assert e["classical"] > 0 and e["classical_low"] <= e["classical"] <= e["classical_high"]
    assert e["ppi_low"] <= e["ppi"] <= e["ppi_high"]
    assert main(["estimate", str(run), "--database-url", url, "--by", "team"]) == 0
    table = capsys.readouterr().out
    assert "团队" in table and "PPI 估计" in table and "(任一扣分项)" in table

    # the report pointed at the workbench shows the same estimates (section 缺陷率估计, sheet 缺陷率估计)
    from pipeline.report.workbench import read_workbench

    wb = read_workbench(url, cfg, with_durations=False, run_dirs=[str(run)])
    shown = wb.estimates["table"].set_index("rule")
    for rule, r in rows.items():
        assert shown.loc[rule, "n"] == r["n"] and shown.loc[rule, "ppi"] == pytest.approx(r["ppi"], nan_ok=True)
    html = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(html), "--database-url", url]) == 0
    page = html.read_text(encoding="utf-8")
    assert 'id="estimates"' in page and "PPI 估计" in page and "分层抽样" in page
