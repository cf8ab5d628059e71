"""People's answers back to the model (issue 17, item 2), end to end on the real parts: answers given in
the workbench database → ``zhijian export-labels`` → ``zhijian train question ID --extra-labels FILE``
(a slice of the gold set, one C: seconds, not the shipped model's minutes) → a new MLflow version whose
metadata and tags name the label file; an answer on a held-out gold chat is never trained on. And a
question with no gold label trains on people's answers alone, held out on a fixed share of them."""

from __future__ import annotations

import json
import os

import orjson
import pytest
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


def _answered_database(tmp_path, sample_run, cfg, key: str, n: int, answer_of) -> str:
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            load_run(s, sample_run, config=cfg)
            insp = users.create_user(s, "insp", "insp-password-1", "inspector", config=cfg)
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
    held = [i for i in ids if _extra_split(i)]
    assert data["test_n"] == len(held) > 0 and data["train_n"] == len(ids) - len(held)
    assert data["gold_label"] is None and "people's answers" in data["test_split"]
    assert data["extra_labels"][0]["held_out_here"] == len(held) and data["extra_labels"][0]["path"] == str(labels)


def test_training_a_question_with_no_answers_at_all_says_what_to_do(cfg):
    from pipeline.config import ConfigError
    from pipeline.questions.train import train_question

    with pytest.raises(ConfigError, match="no gold_label and no --extra-labels.*zhijian export-labels"):
        train_question("question.needs_asked", "data/gold", cfg, log=lambda m: None)
    with pytest.raises(ConfigError, match="added in the workbench"):
        train_question("question.refund_time", "data/gold", cfg, log=lambda m: None)
