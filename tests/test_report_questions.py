"""Scorecard questions in the report (issue 17, items 3–4): answers per question with the model's
held-out figures and its 试运行 status, 未解决 by team, and 对话内解决率 beside repeat-contact FCR.

Hand-built run (question.resolved answers):
    q1 一组 是 · q2 一组 否 · q3 二组 是 · q4 二组 null (needs review) · q5 二组 是 · q6 no questions at all
    answered 4 (q1 q2 q3 q5): 是 3/4 = 75 %, 否 1/4; needs review 1/5; 一组 未解决 1/2, 二组 0/2
"""

import json
from pathlib import Path

import pytest

from test_report_kpis import compute, seed, write_run

REPO = Path(__file__).resolve().parents[1]


def _answer(answer, needs_review=False):
    return json.dumps([{"id": "question.resolved", "question": "客户的问题是否解决?", "answer": answer, "confidence": 0.7,
                        "needs_review": needs_review, "because": [], "evidence_turns": [], "status": "试运行",
                        "model": "question_resolved@v6:b85f4a71e4ca"}], ensure_ascii=False)


ROWS = [{"id": "q1", "agent_team": "一组", "questions_json": _answer("是")},
        {"id": "q2", "agent_team": "一组", "questions_json": _answer("否")},
        {"id": "q3", "agent_team": "二组", "questions_json": _answer("是")},
        {"id": "q4", "agent_team": "二组", "questions_json": _answer(None, True)},
        {"id": "q5", "agent_team": "二组", "questions_json": _answer("是")},
        {"id": "q6", "agent_team": "二组", "questions_json": None}]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from pipeline.config import load_config

    run = write_run(tmp_path_factory.mktemp("q") / "run", ROWS)
    return compute([run], load_config())


def test_answers_per_question_by_hand(report):
    t = report.questions["table"].set_index("question").loc["question.resolved"]
    assert (t["conversations"], t["answered"]) == (5, 4)
    assert t["yes_share"] == pytest.approx(0.75) and t["no_share"] == pytest.approx(0.25)
    assert t["needs_review_share"] == pytest.approx(0.2) and t["status"] == "试运行"
    # the shipped model's held-out figures come from its metadata, beside the majority baseline
    meta = json.loads((REPO / "models" / "question_resolved" / "metadata.json").read_text(encoding="utf-8"))
    assert t["held_out_macro_f1"] == meta["held_out"]["macro_f1"] and t["baseline_macro_f1"] == meta["majority_baseline"]["macro_f1"]
    teams = report.questions["by_team"].set_index("team")["unresolved_share"].to_dict()
    assert teams == {"一组": pytest.approx(0.5), "二组": pytest.approx(0.0)}
    assert "试运行" in report.questions["note"]


def test_resolution_in_chat_sits_beside_fcr_and_says_it_is_on_trial(report):
    k = seed(report, "resolved_in_chat")
    assert k.value == pytest.approx(0.75) and k.n == 4
    assert k.note.startswith("试运行") and "macro-F1" in k.note
    keys = [r.key for r in report.seed["rows"]]
    assert keys.index("resolved_in_chat") == keys.index("fcr") + 1


def test_pages_and_sheets_show_the_section(report, tmp_path):
    from pipeline.report.html import render_html
    from pipeline.report.xlsx import render_xlsx

    html = render_html(report, {})
    assert 'id="questions"' in html and "评分表问题" in html and "保留集 macro-F1" in html
    render_xlsx(report, tmp_path / "r.xlsx")
    from openpyxl import load_workbook

    assert "评分表问题" in load_workbook(tmp_path / "r.xlsx").sheetnames


def test_runs_without_answers_have_no_section_and_say_why(tmp_path):
    from pipeline.config import load_config
    from pipeline.report.html import render_html

    r = compute([write_run(tmp_path / "run", [{"id": "x1"}, {"id": "x2"}])], load_config())
    assert r.questions is None and 'id="questions"' not in render_html(r, {})
    k = seed(r, "resolved_in_chat")
    assert k.value is None and k.note.startswith("无数据") and "question.resolved" in k.note


def _mixed_results(n: int, seed: int = 3):
    """Conversations as a month of runs holds them: answers with and without a text, abstentions, two
    questions on one conversation, no answers, an empty string, a missing team."""
    import random

    import pandas as pd

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        qs = [{"id": "question.resolved", "question": "客户的问题是否解决?", "answer": rng.choice(["是", "否", None]),
               "confidence": round(rng.random(), 4), "needs_review": rng.choice([True, False]), "because": ["退款"],
               "evidence_turns": [rng.randrange(20)], "status": rng.choice(["试运行", "正式"]), "model": "m@v1:abc"}]
        if rng.random() < 0.3:
            qs.append({"id": "question.needs_asked", "answer": "是"})  # no question text, no status, no model
        raw = rng.choice([json.dumps(qs, ensure_ascii=False), json.dumps(qs), None, "", "[]"])
        rows.append({"id": f"c{i}", "agent_team": rng.choice(["一组", "二组", None]), "questions_json": raw})
    return pd.DataFrame(rows, dtype=object)


def test_arrow_parse_of_answers_equals_json_loads_one_by_one(monkeypatch):
    import pandas as pd

    from pipeline.report import questions

    results = _mixed_results(700)
    expected = questions._answers_one_by_one(results)
    assert len(expected) > 300 and expected["answer"].isna().any() and expected["text"].isna().any()
    pd.testing.assert_frame_equal(questions._parse_answers(results), expected)  # Arrow itself, no fallback
    as_loaded = results.assign(questions_json=results["questions_json"].astype("str"))  # the loader's Arrow strings
    assert hasattr(as_loaded["questions_json"].array, "__arrow_array__")
    pd.testing.assert_frame_equal(questions._parse_answers(as_loaded), expected)
    monkeypatch.setattr(questions, "_PARSE_CHUNK", 97)  # chunk boundaries fall inside the data
    pd.testing.assert_frame_equal(questions.answers_frame(results), expected)
    # a value Arrow can't type as the report reads it (a numeric answer) takes the careful path: same rows
    odd = pd.concat([results, pd.DataFrame([{"id": "x", "agent_team": "一组",
                                             "questions_json": json.dumps([{"id": "question.resolved", "answer": 1}])}])],
                    ignore_index=True)
    pd.testing.assert_frame_equal(questions.answers_frame(odd), questions._answers_one_by_one(odd))
    # every answer abstained and no team known: columns of None, as pandas makes of them
    blank = pd.DataFrame([{"id": f"b{i}", "agent_team": None, "questions_json": _answer(None, True)} for i in range(3)], dtype=object)
    pd.testing.assert_frame_equal(questions._parse_answers(blank), questions._answers_one_by_one(blank))
    # not JSON at all: the error json.loads gives, not a silent drop
    bad = pd.DataFrame([{"id": "y", "agent_team": None, "questions_json": "[{"}], dtype=object)
    with pytest.raises(json.JSONDecodeError):
        questions.answers_frame(bad)
