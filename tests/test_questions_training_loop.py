"""People's answers back to the model (issue 17, item 2), end to end on the real parts: answers given in
the workbench database → ``zhijian export-labels`` → ``zhijian train question ID --extra-labels FILE``
(a slice of the gold set, one C: seconds, not the shipped model's minutes) → a new MLflow version whose
metadata and tags name the label file; an answer on a held-out gold chat is never trained on. And a
question with no gold label trains on people's answers alone, held out on a fixed share of them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil

import orjson
import pytest
import yaml
from sqlalchemy import select

from pipeline.cli import main
from pipeline.workbench import question_store, users
from pipeline.workbench.database import make_engine, make_session_factory, upgrade
from pipeline.workbench.db import Conversation, MachineAnswer
from pipeline.workbench.load import load_run


@pytest.fixture()
def tracking(tmp_path):
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlruns.db'}"
    yield os.environ["MLFLOW_TRACKING_URI"]
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture()
def small_gold(repo, tmp_path):
    gold = tmp_path / "gold"
    gold.mkdir()
    for split, n in (("dev", 160), ("test", 60)):
        lines = (repo / "data" / "gold" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:n]
        (gold / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return gold


def _answered_database(tmp_path, sample_run, cfg, key: str, n: int, answer_of, add: dict | None = None) -> str:
    """A workbench database holding the sample run, ``key`` answered by an inspector on the ``n``
    conversations whose machine answer (to any question) is least sure; ``add``: first add ``key``
    as a workbench question (text, choices, item) the way a QA lead does."""
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            load_run(s, sample_run, config=cfg)
            insp = users.create_user(s, "insp", "insp-password-1", "inspector", config=cfg)
            if add is not None:
                lead = users.create_user(s, "lead", "lead-password-1", "supervisor", config=cfg)
                question_store.create_question(s, cfg, lead, key=key, **add)
            rows = s.execute(select(Conversation, MachineAnswer).join(MachineAnswer, MachineAnswer.conversation_id == Conversation.id)
                             .order_by(MachineAnswer.confidence, Conversation.id).limit(n)).all()
            for k, (conv, m) in enumerate(rows):
                question_store.set_answer(s, cfg, conv, key, answer_of(k, m), insp)
            s.commit()
    finally:
        engine.dispose()
    return url


def test_workbench_answers_export_train_and_the_version_names_the_file(tmp_path, sample_run, cfg, small_gold, tracking, capsys):
    import mlflow

    url = _answered_database(tmp_path, sample_run, cfg, "question.resolved", 30,
                             lambda k, m: "否" if k % 3 == 0 else ("不确定" if k % 5 == 0 else "是"))
    out = tmp_path / "labels"
    assert main(["export-labels", "--out", str(out), "--database-url", url]) == 0
    assert "question_answers.jsonl: 30 rows" in capsys.readouterr().err
    labels = out / "question_answers.jsonl"
    records = [orjson.loads(line) for line in labels.read_bytes().splitlines()]
    # an answer on a chat of the held-out gold test split (say, loaded into the workbench): never trained on
    test_id = orjson.loads((small_gold / "test.jsonl").read_bytes().splitlines()[0])["id"]
    with open(labels, "ab") as fh:
        fh.write(orjson.dumps({**records[0], "id": test_id}) + b"\n")
    models = tmp_path / "models"
    code = main(["train", "question", "question.resolved", "--gold", str(small_gold), "--extra-labels", str(labels),
                 "--C", "0.3", "--promote", "--models-dir", str(models), "--run-name", "workbench-answers"])
    assert code == 0
    printed = capsys.readouterr()
    assert "30 answers added to training; left out: 1 of the held-out test" in printed.err
    meta = json.loads((models / "question_resolved" / "metadata.json").read_text(encoding="utf-8"))
    data = meta["training_data"]
    (extra,) = data["extra_labels"]
    assert extra["path"] == str(labels) and extra["used"] == 30 and extra["skipped_held_out"] == 1 and extra["rows"] == 31
    assert sum(extra["answers"].values()) == 30 and set(extra["answers"]) == {"是", "否", "不确定"}
    gold_dev = sum(1 for _ in (small_gold / "dev.jsonl").open())
    assert data["train_n"] == gold_dev + 30 - sum(1 for r in map(json.loads, (small_gold / "dev.jsonl").open())
                                                  if r["gold"].get("resolved") not in ("yes", "no", "unclear"))
    assert data["test_n"] <= 60 and data["test_split"] == "test"
    client = mlflow.MlflowClient(tracking, tracking)
    version = client.get_model_version("question_resolved", str(meta["registered_version"]))
    tagged = json.loads(version.tags["extra_labels"])
    assert tagged == [{"path": str(labels), "sha256": extra["sha256"], "used": 30}]
    run = client.get_run(version.run_id)
    assert str(labels) in run.data.params["extra_labels"]


def test_a_question_without_gold_labels_trains_on_peoples_answers_alone(tmp_path, sample_run, cfg):
    from pipeline.questions.train import _extra_split, train_question
    from pipeline.workbench.labels import export_labels

    url = _answered_database(tmp_path, sample_run, cfg, "question.needs_asked", 80, lambda k, m: "否" if k % 3 else "是")
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            export_labels(s, tmp_path / "labels", config=cfg)
    finally:
        engine.dispose()
    labels = tmp_path / "labels" / "question_answers.jsonl"
    ids = [orjson.loads(line)["id"] for line in labels.read_bytes().splitlines()]
    result = train_question("question.needs_asked", "unused", cfg, C_grid=(1.0,), log=lambda m: None,
                            extra_labels=(labels.parent,))  # the export's folder will do
    data = result.metadata["training_data"]
    held = [i for i in ids if _extra_split(i, cfg["questions"]["held_out_percent"])]
    assert data["test_n"] == len(held) > 0 and data["train_n"] == len(ids) - len(held)
    assert data["gold_label"] is None and "people's answers" in data["test_split"]
    assert data["extra_labels"][0]["held_out_here"] == len(held) and data["extra_labels"][0]["path"] == str(labels)


def test_training_a_question_with_no_answers_at_all_says_what_to_do(cfg):
    from pipeline.config import ConfigError
    from pipeline.questions.train import train_question

    with pytest.raises(ConfigError, match="no gold_label, no --database-url and no --extra-labels.*zhijian export-labels"):
        train_question("question.needs_asked", "data/gold", cfg, log=lambda m: None)
    with pytest.raises(ConfigError, match="added in the workbench"):
        train_question("question.refund_time", "data/gold", cfg, log=lambda m: None)


# --- a question added in the workbench: trained from the database, answered by inspect (no rules.yaml line) ---

WB_KEY = "question.result_explained"
WB_QUESTION = {"text": "坐席是否说明了处理结果?", "choices": ["是", "否", "不适用"], "item": "业务能力.服务流程"}


@pytest.fixture()
def own_models(tmp_path, repo):
    """A models folder of its own (the shipped bundles copied) and a --config file pointing at it:
    training promotes into it and inspect reads it; models/ of the repository is never touched."""
    models = tmp_path / "models"
    for name in ("issue_type", "sentiment", "question_resolved"):
        shutil.copytree(repo / "models" / name, models / name)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"paths": {"models": str(models)}}), encoding="utf-8")
    return models, config_file


def _results_of(run_dir):
    return [orjson.loads(line) for line in (run_dir / "results.jsonl").read_bytes().splitlines() if line.strip()]


def test_a_workbench_question_trains_from_the_database_and_inspect_answers_it(tmp_path, sample_run, cfg, tracking,
                                                                              own_models, repo, capsys):
    import mlflow

    from pipeline.questions import STATUS_LIVE, STATUS_TRIAL
    from pipeline.workbench.question_stats import question_agreement, question_agreement_rows

    models, config_file = own_models
    url = _answered_database(tmp_path, sample_run, cfg, WB_KEY, 80, lambda k, m: "是" if m.answer == "是" else "否",
                             add=WB_QUESTION)
    # not a rule of rules.yaml: training reads the question and people's answers from the database — no export step
    code = main(["train", "question", WB_KEY, "--database-url", url, "--C", "1", "--promote", "--config", str(config_file)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"zhijian inspect answers {WB_KEY}" in printed.out
    bundle = models / "question_result_explained"
    meta = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    assert meta["definition"] == {"key": WB_KEY, "text": WB_QUESTION["text"], "choices": WB_QUESTION["choices"],
                                  "item": WB_QUESTION["item"], "source": "workbench", "fails_on": "否", "reads": "whole"}
    assert meta["question_id"] == WB_KEY and meta["registered_version"] == "1"
    assert (meta["min_confidence"], meta["accuracy_floor"]) == (cfg["questions"]["min_confidence"], cfg["questions"]["accuracy_floor"])
    data = meta["training_data"]
    (source,) = data["extra_labels"]
    assert source["source"] == "database" and source["path"] == url and source["rows"] == 80
    assert data["train_n"] + data["test_n"] == 80 and data["test_n"] == meta["held_out"]["n"] > 0 and data["gold_label"] is None
    assert f"({cfg['questions']['held_out_percent']} % by conversation id)" in data["test_split"]
    # the records read are the ones export-labels writes: the same bytes
    assert main(["export-labels", "--out", str(tmp_path / "labels"), "--database-url", url]) == 0
    exported = (tmp_path / "labels" / "question_answers.jsonl").read_bytes()
    assert source["sha256"] == hashlib.sha256(exported).hexdigest()
    client = mlflow.MlflowClient(tracking, tracking)
    assert client.get_model_version("question_result_explained", "1").tags["extra_labels"] and not (repo / "models" / bundle.name).exists()

    # the nightly run answers it: inspect with that models folder
    (tmp_path / "in.jsonl").write_text("\n".join((repo / "data" / "samples" / "conversations.jsonl")
                                                 .read_text(encoding="utf-8").splitlines()[:25]) + "\n", encoding="utf-8")
    code = main(["inspect", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "run"), "--workers", "1", "--quiet",
                 "--config", str(config_file)])
    assert code in (0, 3)
    results = _results_of(tmp_path / "run")
    want = STATUS_LIVE if meta["held_out"]["macro_f1"] >= meta["accuracy_floor"] else STATUS_TRIAL
    answers = [next(q for q in r["questions"] if q["id"] == WB_KEY) for r in results]
    assert len(answers) == len(results) == 25
    for r, q in zip(results, answers):
        assert [x["id"] for x in r["questions"]] == ["question.resolved", WB_KEY]  # rules.yaml's first, then the bundle's
        assert q["question"] == WB_QUESTION["text"] and q["status"] == want and q["model"].startswith("question_result_explained@v1:")
        assert 0 < q["confidence"] <= 1 and isinstance(q["evidence_turns"], list)
        assert (q["answer"] in WB_QUESTION["choices"]) if not q["needs_review"] else q["answer"] is None
        if want == STATUS_TRIAL:
            assert not [f for f in r["findings"] if f["rule"] == WB_KEY]  # 试运行: shown, never scored
    assert any(q["evidence_turns"] for q in answers) and any(q["answer"] for q in answers)

    # the 评分表问题 page and the 一致性 page / zhijian agreement show the bundle's held-out figure
    seen = {**cfg, "paths": {**cfg["paths"], "models": str(models)}}
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            q = question_store.find_question(s, seen, WB_KEY)
            assert q.source == "workbench" and q.status == want and q.registered_version == "1"
            assert q.held_out == {k: meta["held_out"][k] for k in ("macro_f1", "accuracy", "kappa", "n")}
            (row,) = [r for r in question_agreement_rows(question_agreement(s, seen)) if r["question"] == WB_KEY]
            assert row["held_out"] == q.held_out and row["status"] == want and row["answered"] == 80
            assert question_store.find_question(s, cfg, WB_KEY).held_out is None  # the shipped models folder has no such bundle
    finally:
        engine.dispose()

    # its floor decides: a bundle at floor 0 is 正式 and a sure 「否」 costs the scorecard item's points;
    # a bundle claiming a rules.yaml id is not answered (rules.yaml wins)
    _live_question_costs_points_and_rules_yaml_wins(tmp_path, cfg, repo, bundle, meta)


def _live_question_costs_points_and_rules_yaml_wins(tmp_path, cfg, repo, bundle, meta):
    from pipeline.ingest import Validator
    from pipeline.run import Inspector

    live = tmp_path / "live-models"
    shutil.copytree(repo / "models" / "question_resolved", live / "question_resolved")
    shutil.copytree(bundle, live / bundle.name)
    shutil.copytree(bundle, live / "question_resolved_again")
    for folder, change in ((bundle.name, {"accuracy_floor": 0.0, "min_confidence": 0.0}),
                           ("question_resolved_again", {"definition": {**meta["definition"], "key": "question.resolved"}})):
        (live / folder / "metadata.json").write_text(json.dumps({**meta, **change}, ensure_ascii=False), encoding="utf-8")
    inspector = Inspector({**cfg, "paths": {**cfg["paths"], "models": str(live)}})
    assert inspector.workbench_questions == [WB_KEY]
    validator = Validator(inspector.config)
    lines = (repo / "data" / "samples" / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
    priced = None
    for line in lines:
        res = inspector.inspect(validator.validate(json.loads(line)))
        assert [q["id"] for q in res.questions] == ["question.resolved", WB_KEY]
        q = res.questions[1]
        assert q["status"] == "正式" and not q["needs_review"]
        found = [f for f in res.findings if f.rule == WB_KEY]
        assert bool(found) == (q["answer"] == "否")
        if found:
            priced = found[0]
            break
    assert priced is not None, "no sample conversation answered 否"
    assert priced.item == WB_QUESTION["item"] and priced.points == -3 and WB_QUESTION["text"] in priced.message
    assert priced.turn in q["evidence_turns"]


def test_training_a_workbench_question_says_what_is_missing(tmp_path, sample_run, cfg):
    from pipeline.config import ConfigError
    from pipeline.questions.train import train_question

    few = "question.few_answers"
    url = _answered_database(tmp_path, sample_run, cfg, few, 8, lambda k, m: "否" if k % 2 else "是",
                             add={"text": "坐席是否核对了地址?", "choices": ["是", "否"], "item": None})
    quiet = {"log": lambda m: None}
    with pytest.raises(ConfigError, match=rf"{few}: 8 conversations answered by people in {re.escape(url)}; training needs "
                                          rf"at least {cfg['questions']['min_answers']} \(questions.min_answers\).*/questions/{few}/queue"):
        train_question(few, "data/gold", cfg, database_url=url, **quiet)
    with pytest.raises(ConfigError, match=rf"'question.nope' is neither a rule of .*rules.yaml nor a question in the workbench "
                                          rf"database {re.escape(url)}: add it on the workbench's 评分表问题 page"):
        train_question("question.nope", "data/gold", cfg, database_url=url, **quiet)
    with pytest.raises(ConfigError, match=rf"no question rule '{few}'.*--database-url URL"):
        train_question(few, "data/gold", cfg, **quiet)
    missing = f"sqlite:///{tmp_path / 'nowhere.db'}"
    with pytest.raises(ConfigError, match="no such database file"):
        train_question(few, "data/gold", cfg, database_url=missing, **quiet)
    assert not (tmp_path / "nowhere.db").exists()
    # the CLI says it in one line and exits 2, naming the database
    assert main(["train", "question", "question.nope", "--database-url", url]) == 2
