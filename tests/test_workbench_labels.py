"""Verdicts back to the machine: ``export-labels`` files read by the project's own loaders (ingest, the
trainers' CSDS / STC-3 loaders, the report), per-rule precision and score agreement."""

from __future__ import annotations

import shutil

import orjson
import pytest
from sqlalchemy import select

from pipeline.config import load_config
from pipeline.workbench import labels, review, users
from pipeline.workbench.database import make_engine, make_session_factory, upgrade
from pipeline.workbench.db import Conversation
from pipeline.workbench.load import load_run


@pytest.fixture()
def run_copy(sample_run, tmp_path):
    """A writable copy of the sample run (export --into-runs writes verdicts.jsonl into it)."""
    shutil.copytree(sample_run.parent, tmp_path / "w")
    return tmp_path / "w" / "run"


@pytest.fixture()
def reviewed(db_url, run_copy, cfg):
    """The sample run loaded, with reviews in every state. Returns (factory, what was decided)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    with factory() as s:
        load_run(s, run_copy, config=cfg)
        people = {n: users.create_user(s, n, f"{n}-password", role, agent_id=agent, config=cfg)
                  for n, role, agent in [("sup", "supervisor", None), ("sup2", "supervisor", None), ("i1", "inspector", None),
                                         ("i2", "inspector", None)]}
        convs = [c for c in s.scalars(select(Conversation).order_by(Conversation.ext_id)) if len(c.findings) >= 2]
        with_pii = next(c for c in s.scalars(select(Conversation).order_by(Conversation.ext_id))
                        if any(c.pii[f.turn] for f in c.findings if f.turn is not None and f.start is not None))
        convs = [with_pii] + [c for c in convs if c.id != with_pii.id]
        i1, i2, sup, sup2 = people["i1"], people["i2"], people["sup"], people["sup2"]
        decided = {"counted": {}, "labels": {}, "scores": {}}

        def do_review(conv, who, verdicts, score=None, issue_type=None, sentiment=None, missed=False):
            r = review.start_review(s, conv, who)
            for f, v in zip([f for f in conv.findings if f.source == "machine"], verdicts):
                review.set_verdict(s, r, f, v, f"{v} by {who.username}", who)
            if missed:
                review.add_missed_finding(s, r, rule="empathy.missing", turn=0, start=None, end=None, points=-5,
                                          comment="未安抚", actor=who, config=cfg)
            review.submit_review(s, r, human_score=score, issue_type=issue_type, sentiment=sentiment, actor=who, config=cfg)
            return r

        types = review.issue_type_labels()
        # 0..3: plain round-1 reviews, counted
        for k, conv in enumerate(convs[:4]):
            verdicts = ["confirmed", "rejected"] if k % 2 else ["confirmed", "confirmed"]
            r = do_review(conv, i1 if k % 2 else i2, verdicts, score=max(0.0, conv.machine_score - (10 if k % 2 else 0)),
                          issue_type=types[k], sentiment=["negative", "neutral", "positive", None][k], missed=k == 0)
            decided["counted"][conv.ext_id] = r.id
            decided["labels"][conv.ext_id] = (types[k], ["negative", "neutral", "positive", None][k])
        # 4: disputed, round 2 overturns it, signed off — round 2 counts
        c = convs[4]
        do_review(c, i1, ["rejected", "rejected"], score=95, issue_type=types[0])
        d = review.open_dispute(s, c, "dispute", "两项都不是误报", sup)
        r2 = do_review(c, i2, ["confirmed", "confirmed"], score=70, issue_type=types[5], sentiment="negative")
        review.sign_off(s, d, final_score=72, decision="overturned", comment="结束语属实,酌情加 2 分", actor=sup2,
                       config=cfg)
        decided["counted"][c.ext_id] = r2.id
        decided["labels"][c.ext_id] = (types[5], "negative")
        # 5: disputed and still open — nothing counts; 6: a draft — nothing counts
        do_review(convs[5], i1, ["confirmed", "confirmed"], issue_type=types[1])
        review.open_dispute(s, convs[5], "dispute", "再看看", sup)
        r = review.start_review(s, convs[6], i2)
        review.set_verdict(s, r, convs[6].findings[0], "rejected", None, i2)
        s.commit()
        decided["scores"] = {c.ext_id: (c.machine_score, c.human_score) for c in convs[:5]}
        decided["pii_conv"] = with_pii.ext_id
    yield factory, decided
    engine.dispose()


def test_counted_reviews_match_the_workflow(reviewed):
    factory, decided = reviewed
    with factory() as s:
        bulk = labels.counted_reviews(s)
        assert {s.get(Conversation, cid).ext_id: r.id for cid, r in bulk.items()} == decided["counted"]
        for conv in s.scalars(select(Conversation)):
            one = review.counted_review(s, conv)
            assert (one.id if one else None) == (bulk[conv.id].id if conv.id in bulk else None)


def test_export_labels_files_are_read_by_the_projects_loaders(reviewed, tmp_path, run_copy, cfg):
    from pipeline.ingest import read_inputs
    from pipeline.models.datasets import Taxonomy, load_csds, load_stc3
    from pipeline.schema import Conversation as Conv

    factory, decided = reviewed
    out = tmp_path / "labels"
    with factory() as s:
        info = labels.export_labels(s, out, config=cfg, into_runs=True)
        pii_texts = [c.turns[i]["text"][a:b] for c in s.scalars(select(Conversation)) for i, spans in enumerate(c.pii)
                     for a, b, _ in spans]
    assert info["conversations"] == len(decided["counted"]) and info["runs"] == [str(run_copy.resolve())]

    # (a) finding verdicts: only the counted reviews' (round 2 for the overturned one), masked evidence
    rows = [orjson.loads(x) for x in (out / "finding_verdicts.jsonl").read_bytes().splitlines()]
    assert {r["conversation_id"] for r in rows} == set(decided["counted"])
    overturned = [r for r in rows if r["round"] == 2]
    assert overturned and {r["verdict"] for r in overturned} == {"confirmed"} and {r["reviewer"] for r in overturned} == {"i2"}
    assert sum(r["verdict"] == "missed" for r in rows) == 1
    assert all(set(r) >= {"rule", "entry", "evidence", "turn", "start", "end", "verdict", "comment", "round"} for r in rows)
    with_pii = [r for r in rows if r["conversation_id"] == decided["pii_conv"] and r["evidence"] and "*" in r["evidence"]]
    assert with_pii
    blob = (out / "finding_verdicts.jsonl").read_text(encoding="utf-8") + (out / "conversations.jsonl").read_text(encoding="utf-8")
    assert not [t for t in pii_texts if len(t) >= 7 and t in blob]  # no phone / e-mail / ID leaves unmasked

    # (b) corrected labels: SPEC input for ingest, CSDS for the issue-type trainer, STC-3 for sentiment
    read = [r for r in read_inputs([str(out / "conversations.jsonl")], None) if isinstance(r, Conv)]
    got = {c.id: (c.labels.get("issue_type"), c.labels.get("sentiment")) for c in read}
    assert got == decided["labels"]
    taxonomy = Taxonomy.load()
    csds = {d.key: taxonomy.dialogue_label(d.fine_topics) for d in load_csds(out / "issue_type.csds.json")}
    assert sorted(csds.values()) == sorted(t for t, _ in decided["labels"].values())
    stc3 = load_stc3(out / "sentiment.stc3.json")
    assert sorted(d.sentiment for d in stc3) == sorted(v for _, v in decided["labels"].values() if v)
    assert all(any(role == "customer" for role, _ in d.turns) for d in stc3)

    # (c) the report reads the verdicts written into the run directory: every row matches a conversation
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    report = compute(load_runs([run_copy]), load_config())
    assert report.verdicts["unmatched"] == 0 and report.verdicts["rows"] == info["files"]["verdicts.jsonl"]
    assert report.verdicts["scores"]["n"] == len(decided["counted"])


def test_rule_precision_and_score_agreement(reviewed, cfg):
    factory, decided = reviewed
    with factory() as s:
        table = labels.rule_precision(s, cfg)
        scores = labels.score_agreement(s, cfg)
        counted = labels.counted_reviews(s)
        expected: dict[str, list[int]] = {}
        for r in counted.values():
            for v in r.verdicts:
                e = expected.setdefault(v.finding.rule, [0, 0, 0])
                e[("confirmed", "rejected", "missed").index(v.verdict)] += 1
    assert {r.rule: [r.confirmed, r.rejected, r.missed] for r in table.itertuples()} == expected
    for r in table.itertuples():
        if r.n:
            assert r.precision == r.confirmed / r.n and r.ci_low <= r.precision <= r.ci_high
    assert list(table["n"]) == sorted(table["n"], reverse=True)
    pairs = list(decided["scores"].values())
    assert scores["n"] == len(pairs)
    assert scores["mean_abs_diff"] == pytest.approx(sum(abs(m - h) for m, h in pairs) / len(pairs))
    assert scores["within_tolerance"] == pytest.approx(sum(abs(m - h) <= 5 for m, h in pairs) / len(pairs))


@pytest.mark.parametrize("k, n, low, high", [(8, 10, 0.4902, 0.9433), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0)])
def test_wilson_interval_published_values(k, n, low, high):
    lo, hi = labels.wilson_interval(k, n, 0.95)
    assert (lo, hi) == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4))
    assert labels.wilson_interval(0, 0, 0.95) == (None, None)


def test_agreement_and_export_commands(reviewed, db_url, tmp_path, capsys):
    from pipeline.cli import main

    factory, decided = reviewed
    assert main(["agreement", "--database-url", db_url]) == 0
    text = capsys.readouterr().out
    assert "规则准确率" in text and f"reviewed conversations      {len(decided['scores'])}" in text
    assert main(["agreement", "--json", "--database-url", db_url]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["scores"]["n"] == len(decided["scores"]) and data["rules"]
    assert main(["export-labels", "--out", str(tmp_path / "x"), "--database-url", db_url]) == 0
    assert "finding_verdicts.jsonl" in capsys.readouterr().err
    assert (tmp_path / "x" / "conversations.jsonl").exists()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_reviewer_labels_flow_into_a_new_model_version_appended_to_the_real_corpora(reviewed, tmp_path, cfg, capsys, monkeypatch):
    """The loop end to end (issue 11): workbench verdicts → export-labels → ``train --extra-labels`` →
    a registered version that learned from the real corpora *and* the reviewers' labels, and whose
    metadata names the label files it used."""
    import json
    import os

    from conftest import SHARED_DATA
    from pipeline.cli import main
    from pipeline.models.datasets import write_subset

    if not (SHARED_DATA / "jddc_uss" / "valid_jddc.txt").exists():
        pytest.skip("../shared/data not present")
    factory, decided = reviewed
    out = tmp_path / "labels"
    with factory() as s:
        labels.export_labels(s, out, config=cfg)
    n_issue = len(orjson.loads((out / "issue_type.csds.json").read_bytes()))
    n_sent = len(orjson.loads((out / "sentiment.stc3.json").read_bytes()))
    assert n_issue == len(decided["labels"]) and n_sent == sum(1 for _, v in decided["labels"].values() if v)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    data = write_subset(SHARED_DATA, tmp_path / "data", dialogues=30, reviews=100)
    models = tmp_path / "models"
    common = ["--data-dir", str(data), "--C", "1", "--cv-folds", "2", "--extra-labels", str(out), "--promote", "--models-dir", str(models)]
    assert main(["train", "issue-type", *common, "--cv-repeats", "1"]) == 0
    assert main(["train", "sentiment", *common]) == 0
    printed = capsys.readouterr()
    assert "REPLACES" not in printed.err  # appending: no replacement warning

    issue = json.loads((models / "issue_type" / "metadata.json").read_text(encoding="utf-8"))
    used = issue["training_data"]["extra_labels"]
    assert [u["file"] for u in used] == [str(out / "issue_type.csds.json")] and used[0]["dialogues"] == n_issue
    assert issue["training_data"]["reviewer_dialogues"] == n_issue
    assert issue["training_data"]["dialogues_train"] > n_issue  # the real corpora are still there
    assert issue["registered_version"] == "1"
    sent = json.loads((models / "sentiment" / "metadata.json").read_text(encoding="utf-8"))
    assert [u["file"] for u in sent["training_data"]["extra_labels"]] == [str(out / "sentiment.stc3.json")]
    assert sent["training_data"]["reviewer_turns"] == n_sent and sent["training_data"]["counts"]["jddc_train"] > n_sent

    # replacing a corpus stays possible, but says so
    assert main(["train", "issue-type", "--data-dir", str(data), "--csds", str(out / "issue_type.csds.json"), "--C", "1",
                 "--cv-folds", "2", "--cv-repeats", "1"]) == 0
    assert "REPLACES the CSDS topic file" in capsys.readouterr().err
    assert os.environ["MLFLOW_TRACKING_URI"].endswith("mlruns.db")


def test_extra_labels_folder_that_is_not_there_is_an_error(tmp_path):
    from pipeline.config import ConfigError
    from pipeline.models.datasets import load_extra_issue_labels

    with pytest.raises(ConfigError, match="export-labels"):
        load_extra_issue_labels([tmp_path / "nope"])
    assert load_extra_issue_labels([tmp_path]) == ([], [])  # a folder without the file adds nothing
