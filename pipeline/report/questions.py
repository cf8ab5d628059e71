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

RESOLVED_QUESTION = "question.resolved"
RESOLVED_YES = "是"


def answers_frame(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (conversation, question): id, agent_team, question id, text, answer,
    needs_review, status, model."""
    cols = ["id", "agent_team", "question", "text", "answer", "needs_review", "status", "model"]
    if "questions_json" not in results.columns:
        return pd.DataFrame(columns=cols)
    rows = []
    for cid, team, raw in zip(results["id"], results["agent_team"], results["questions_json"]):
        if not isinstance(raw, str) or not raw:
            continue
        for q in json.loads(raw):
            rows.append({"id": cid, "agent_team": team, "question": q.get("id"), "text": q.get("question"),
                         "answer": q.get("answer"), "needs_review": bool(q.get("needs_review")),
                         "status": q.get("status"), "model": q.get("model")})
    return pd.DataFrame(rows, columns=cols)


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


def question_section(results: pd.DataFrame, config: dict) -> dict[str, Any] | None:
    """``{"table", "by_team", "note"}`` — None when no run carries answers."""
    a = answers_frame(results)
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


def resolution_kpi(results: pd.DataFrame, config: dict):
    """对话内解决率 — the share of answered conversations the 问题是否解决 model calls 是; beside
    repeat-contact FCR (seed 001: 首次解决率), flagged 试运行 while its model is."""
    from .kpis import _kpi

    seed = "seed 001 首次解决率 ≥ 80 %(此处为模型对单个对话的判断)"
    formula = "问题「客户的问题是否解决?」回答为「是」的会话 ÷ 有回答的会话(不含低置信度、未回答的)"
    source = "results.parquet questions_json(question.resolved 的模型答案)"
    a = answers_frame(results)
    res = a[(a["question"] == RESOLVED_QUESTION)]
    answered = res[res["answer"].notna()]
    if answered.empty:
        why = "没有 question.resolved 的答案(没有安装它的模型,或运行早于 issue 17)"
        return _kpi("resolved_in_chat", "对话内解决率(模型)", "pct", None, 0, config, seed, formula, source, why)
    value = float((answered["answer"] == RESOLVED_YES).mean())
    model = answered["model"].dropna().iloc[-1] if answered["model"].notna().any() else None
    held = _held_out(model, config)
    status = answered["status"].dropna().iloc[-1] if answered["status"].notna().any() else ""
    note = f"{status}" + (f":模型在 {held['held_out_n']} 个保留的真实对话上 macro-F1 {held['held_out_macro_f1']:.2f}"
                          f"(总答「是」为 {held['baseline_macro_f1']:.2f}),仅作参考" if held.get("held_out_macro_f1") is not None else "")
    return _kpi("resolved_in_chat", "对话内解决率(模型)", "pct", value, len(answered), config, seed, formula, source, note)
