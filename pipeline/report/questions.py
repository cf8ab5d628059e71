"""The scorecard questions in the report (issue 17): per question, how it was answered and how far
its answers can be trusted, and the in-conversation resolution rate beside repeat-contact FCR.

The answers come from the runs' ``questions_json`` column (pipeline/questions). A question whose
model is 试运行 (held-out macro-F1 below its accuracy floor) is shown with that label and its held-out
figures from the model's metadata — a director reads the rate *and* how often the model agrees with
people. Nothing here is a score: 试运行 answers never changed one.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from .keys import arrow_text

RESOLVED_QUESTION = "question.resolved"
RESOLVED_YES = "是"


ANSWER_COLUMNS = ["id", "agent_team", "question", "text", "answer", "needs_review", "status", "model"]
#: what the report reads of each answer in ``questions_json`` (the rest — confidence, evidence — stays in the run)
_ANSWER_FIELDS = {"id": "question", "question": "text", "answer": "answer", "needs_review": "needs_review",
                  "status": "status", "model": "model"}
_PARSE_CHUNK = 250_000  # conversations per Arrow JSON parse: bounded buffers (int32 offsets) at any history size


def answers_frame(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (conversation, question): id, agent_team, question id, text, answer,
    needs_review, status, model. Every conversation of a run carries its answers as a JSON string: over
    a month of runs that is millions of strings, so they are parsed by Arrow's JSON reader in chunks,
    not one ``json.loads`` each; a value Arrow can't type (not a string, a field of another type) takes
    the one-by-one path, which gives the same rows (tests/test_report_questions.py)."""
    import pyarrow as pa

    if "questions_json" not in results.columns:
        return pd.DataFrame(columns=ANSWER_COLUMNS)
    try:
        parts = [_parse_answers(results.iloc[i:i + _PARSE_CHUNK]) for i in range(0, len(results), _PARSE_CHUNK)]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _answers_one_by_one(results)
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ANSWER_COLUMNS)


def _parse_answers(results: pd.DataFrame) -> pd.DataFrame:
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    raw = arrow_text(results["questions_json"])  # the loader leaves it as Arrow strings: no copy
    rows = np.flatnonzero(pc.fill_null(pc.greater(pc.utf8_length(raw), 0), False).to_numpy(zero_copy_only=False))
    if not len(rows):
        return pd.DataFrame(columns=ANSWER_COLUMNS)
    # each value is a JSON list: wrapped as {"q": …}, one per line, it is a JSON Lines document Arrow reads in C++
    valid = raw if len(rows) == len(raw) else raw.take(pa.array(rows))
    lines = pc.binary_join_element_wise(pa.scalar('{"q":', pa.large_string()), valid,
                                        pa.scalar("}\n", pa.large_string()), pa.scalar("", pa.large_string()))
    _, offsets, data = lines.buffers()  # no nulls: the value bytes back to back are the document
    ends = np.frombuffer(offsets, dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    text = data.to_pybytes()[ends[0]:ends[-1]]
    fields = [pa.field(k, pa.bool_() if k == "needs_review" else pa.string()) for k in _ANSWER_FIELDS]
    schema = pa.schema([pa.field("q", pa.list_(pa.struct(fields)))])
    table = pj.read_json(io.BytesIO(text), read_options=pj.ReadOptions(block_size=1 << 26),
                         parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
    if table.num_rows != len(rows):  # a value that was not one JSON document: the careful path says where
        raise pa.ArrowInvalid("questions_json: rows and JSON documents differ")
    lists = table.column("q").combine_chunks()
    answers = pc.list_flatten(lists)
    owner = rows[pc.list_parent_indices(lists).to_numpy()]
    if answers.null_count:  # an answer that is not an object: as json.loads + .get would fail, say so there
        raise pa.ArrowInvalid("questions_json: an answer is not an object")
    out = pd.DataFrame({"id": results["id"].to_numpy(dtype=object)[owner],
                        "agent_team": results["agent_team"].to_numpy(dtype=object)[owner]})
    for key, column in _ANSWER_FIELDS.items():
        values = answers.field(key)
        if key == "needs_review":
            out[column] = pc.fill_null(values, False).to_numpy(zero_copy_only=False)
        elif values.null_count == len(values):  # pandas infers object for a column of None: so does this
            out[column] = np.full(len(values), None, dtype=object)
        else:  # Arrow-backed strings: the dtype pandas infers for Python strings, without making them
            out[column] = values.to_pandas()
    return out[ANSWER_COLUMNS]


def _answers_one_by_one(results: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for cid, team, raw in zip(results["id"], results["agent_team"], results["questions_json"]):
        if not isinstance(raw, str) or not raw:
            continue
        for q in json.loads(raw):
            rows.append({"id": cid, "agent_team": team, "question": q.get("id"), "text": q.get("question"),
                         "answer": q.get("answer"), "needs_review": bool(q.get("needs_review")),
                         "status": q.get("status"), "model": q.get("model")})
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)


def _held_out(model: str | None, config: dict) -> dict[str, Any]:
    """The held-out figures of the model that answered (``name@vN:sha`` → models/<name>/metadata.json)."""
    from ..config import resolve_path

    if not model or model.startswith("endpoint:"):
        return {}
    name = model.split("@")[0].split(":")[0]
    path = resolve_path(config["paths"]["models"]) / name / "metadata.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    held, base = meta.get("held_out") or {}, meta.get("majority_baseline") or {}
    return {"held_out_macro_f1": held.get("macro_f1"), "held_out_kappa": held.get("kappa"),
            "baseline_macro_f1": base.get("macro_f1"), "held_out_n": held.get("n")}


def question_section(a: pd.DataFrame, config: dict) -> dict[str, Any] | None:
    """``{"table", "by_team", "note"}`` from :func:`answers_frame`'s rows — None when no run carries answers."""
    if a.empty:
        return None
    rows = []
    for qid, g in a.groupby("question", sort=True):
        answered = g[g["answer"].notna()]
        shares = answered["answer"].value_counts(normalize=True)
        model = g["model"].dropna().iloc[-1] if g["model"].notna().any() else None
        status = g["status"].dropna().iloc[-1] if g["status"].notna().any() else None
        rows.append({"question": qid, "text": g["text"].dropna().iloc[0] if g["text"].notna().any() else qid,
                     "conversations": len(g), "answered": len(answered), "needs_review_share": float(g["needs_review"].mean()),
                     "yes_share": float(shares.get("是", 0.0)) if len(answered) else None,
                     "no_share": float(shares.get("否", 0.0)) if len(answered) else None,
                     "other_share": float(1 - shares.get("是", 0.0) - shares.get("否", 0.0)) if len(answered) else None,
                     "status": status, "model": model, **_held_out(model, config)})
    table = pd.DataFrame(rows)
    by_team = None
    res = a[(a["question"] == RESOLVED_QUESTION) & a["answer"].notna()]
    if not res.empty:
        by_team = (res.assign(unresolved=res["answer"] == "否", team=res["agent_team"].fillna("(未知团队)"))
                   .groupby("team").agg(answered=("id", "size"), unresolved_share=("unresolved", "mean")).reset_index()
                   .sort_values("unresolved_share", ascending=False))
    trial = table[table["status"] == "试运行"]["question"].tolist()
    note = ("试运行的问题:答案只作参考,不计分、不进复核队列;它们的模型在保留的真实对话上与人的一致程度见「保留集 macro-F1」"
            f"(docs/QUESTIONS.md)。试运行:{'、'.join(trial)}") if trial else ""
    return {"table": table, "by_team": by_team, "note": note}


def resolution_kpi(a: pd.DataFrame, config: dict):
    """对话内解决率 — the share of answered conversations (:func:`answers_frame`'s rows) the 问题是否解决
    model calls 是; beside repeat-contact FCR (seed 001: 首次解决率), flagged 试运行 while its model is."""
    from .seed_kpi import make_kpi

    seed = "seed 001 首次解决率 ≥ 80 %(此处为模型对单个对话的判断)"
    formula = "问题「客户的问题是否解决?」回答为「是」的会话 ÷ 有回答的会话(不含低置信度、未回答的)"
    source = "results.parquet questions_json(question.resolved 的模型答案)"
    res = a[(a["question"] == RESOLVED_QUESTION)]
    answered = res[res["answer"].notna()]
    if answered.empty:
        why = "没有 question.resolved 的答案(没有安装它的模型,或运行早于 issue 17)"
        return make_kpi("resolved_in_chat", "对话内解决率(模型)", "pct", None, 0, config, seed, formula, source, why)
    value = float((answered["answer"] == RESOLVED_YES).mean())
    model = answered["model"].dropna().iloc[-1] if answered["model"].notna().any() else None
    held = _held_out(model, config)
    status = answered["status"].dropna().iloc[-1] if answered["status"].notna().any() else ""
    note = f"{status}" + (f":模型在 {held['held_out_n']} 个保留的真实对话上 macro-F1 {held['held_out_macro_f1']:.2f}"
                          f"(总答「是」为 {held['baseline_macro_f1']:.2f}),仅作参考" if held.get("held_out_macro_f1") is not None else "")
    return make_kpi("resolved_in_chat", "对话内解决率(模型)", "pct", value, len(answered), config, seed, formula, source, note)
