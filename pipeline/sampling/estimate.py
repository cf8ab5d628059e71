"""Defect rates per rule / scorecard item / team from reviewers' verdicts, with intervals.

Human label: a conversation has a defect for rule R when its counted review (reviewed, or signed
off: ``labels.counted_reviews``) leaves a deducting finding of R standing — a machine finding not
rejected (confirmed, or left without a verdict: it then counts in the human score too) or a
finding the reviewer added (missed). Machine prediction f: the run has a deducting finding of R.
By item: the same per scorecard item; by team: any deducting finding, within each team.

The human sample is the newest stratified sample loaded into the workbench (``zhijian sample
--load``): its reviewed conversations, in the strata of its design, recomputed for the whole
population of the runs. Without one, every reviewed conversation is used, stratified by machine
flag — reviewers chose those, so the estimate may be biased, and the output says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from .design import Design, DesignError, strata
from .population import Population
from .ppi import estimate

BY = ("rule", "item", "team")
ANY = "(任一扣分项)"


@dataclass
class HumanLabels:
    defects: dict[str, set[tuple[str, str]]]  # ext id → {("rule", R), ("item", I)} standing deducting findings
    notes: list[str] = field(default_factory=list)


def human_labels(session: Session, ext_ids: list[str]) -> HumanLabels:
    """The standing deducting findings of every counted review among ``ext_ids``."""
    from ..workbench.db import Conversation, Finding, Verdict
    from ..workbench.labels import counted_reviews

    counted = counted_reviews(session)
    wanted = set(ext_ids)
    ext = {cid: e for cid, e in session.execute(select(Conversation.id, Conversation.ext_id).where(Conversation.id.in_(list(counted))))
           if e in wanted} if counted else {}
    out: dict[str, set[tuple[str, str]]] = {e: set() for e in ext.values()}
    ids = list(ext)
    for chunk in range(0, len(ids), 1000):
        part = ids[chunk:chunk + 1000]
        verdicts = {(v.review_id, v.finding_id): v.verdict for v in session.scalars(
            select(Verdict).where(Verdict.review_id.in_([counted[c].id for c in part])))}
        for f in session.scalars(select(Finding).where(Finding.conversation_id.in_(part))):
            verdict = verdicts.get((counted[f.conversation_id].id, f.id))
            stands = verdict == "missed" if f.source == "human" else verdict != "rejected"
            if stands and ((f.points or 0) < 0 or f.severity == "fatal"):
                out[ext[f.conversation_id]] |= {("rule", f.rule)} | ({("item", f.item)} if f.item else set())
    return HumanLabels(out)


class SampleFileError(ValueError):
    """A --sample file that can't be used; the message says why and what to do."""


def read_sample_file(path: str | Path) -> dict:
    """The sample ``zhijian sample --out FILE`` wrote, in the shape of ``workbench.sampling.latest_sample``
    (ids, design, a name), so that ``estimate --sample FILE`` works without ``--load``."""
    import orjson

    p = Path(path)
    try:
        rows = [orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip()]
    except FileNotFoundError:
        raise SampleFileError(f"--sample {path}: no such file (zhijian sample … --out FILE writes it)") from None
    except orjson.JSONDecodeError as e:
        raise SampleFileError(f"--sample {path}: not JSON lines ({e})") from None
    if not rows:
        raise SampleFileError(f"--sample {path}: the file holds no sampled conversation")
    designs = {orjson.dumps(r.get("design"), option=orjson.OPT_SORT_KEYS) for r in rows}
    if any(not isinstance(r.get("design"), dict) or "conversation_id" not in r for r in rows) or len(designs) != 1:
        raise SampleFileError(f"--sample {path}: every line needs conversation_id and one and the same design (files written "
                              "before zhijian sample recorded its design lack it): draw the sample again with the same --seed")
    try:
        Design.from_dict(rows[0]["design"]).check()
    except (DesignError, TypeError) as e:
        raise SampleFileError(f"--sample {path}: its design is not usable ({e})") from None
    return {"ids": [str(r["conversation_id"]) for r in rows], "design": rows[0]["design"], "sample": p.name}


def estimate_table(population: Population, labels: HumanLabels, sample: dict | None, by: str, coverage: float) -> tuple[pd.DataFrame, list[str]]:
    """One row per rule / item / team: N, n, the machine's rate, classical and PPI estimates with
    intervals, the effective sample size. Returns the table and notes on what was used."""
    if by not in BY:
        raise ValueError(f"--by {by}: use one of {', '.join(BY)}")
    conv = population.conversations
    notes = []
    if sample:
        design = Design.from_dict(sample["design"])
        in_sample = set(sample["ids"])
        labelled = conv["id"].isin(in_sample) & conv["id"].isin(labels.defects)
        notes.append(f"人工样本:分层抽样 {sample['sample']}(抽取 {len(in_sample)} 个,已复核并计入 {int(labelled.sum())} 个);"
                     f"分层:{' × '.join(design.by + [design.bands])}")
    else:
        design = Design(bands="flagged")
        labelled = conv["id"].isin(labels.defects)
        notes.append(f"没有加载分层样本(zhijian sample … --load):用全部 {int(labelled.sum())} 个已复核会话,按机器是否标记分层——"
                     "这些会话是复核员挑的,估计可能有偏")
    stratum = strata(conv, design).to_numpy()
    f_keys = population.findings[population.findings["defect"]]
    machine: dict[tuple[str, str], set[str]] = {}
    for kind in ("rule", "item"):
        for key, ids in f_keys.groupby(kind)["conversation_id"]:
            machine[(kind, key)] = set(ids)
    any_defect = set(conv.loc[conv["defect"], "id"])
    human_any = {e for e, d in labels.defects.items() if d}
    rows = []
    if by == "team":
        targets = [(team, conv["team"] == team, any_defect, human_any) for team in sorted(conv["team"].unique())]
        targets.append((ANY, pd.Series(True, index=conv.index), any_defect, human_any))
    else:
        keys = sorted({k for kind, k in machine if kind == by} | {k for d in labels.defects.values() for kind, k in d if kind == by})
        targets = [(k, pd.Series(True, index=conv.index), machine.get((by, k), set()),
                    {e for e, d in labels.defects.items() if (by, k) in d}) for k in keys]
    for key, domain, machine_ids, human_ids in targets:
        dom = domain.to_numpy()
        ids = conv["id"].to_numpy()
        f = np.isin(ids, list(machine_ids)).astype(float)
        lab = dom & labelled.to_numpy()
        y = np.isin(ids[lab], list(human_ids)).astype(float)
        e = estimate(f[dom], stratum[dom], y, f[lab], stratum[lab], coverage)
        rows.append({by: key, **e.as_dict()})
    return pd.DataFrame(rows), notes


HEADERS = {"rule": "规则", "item": "评分项", "team": "团队"}


def format_table(table: pd.DataFrame, by: str, notes: list[str], coverage: float) -> str:
    """The terminal view: Chinese headers, rates in %, intervals in brackets."""
    pct = lambda v: "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v * 100:.1f}%"  # noqa: E731
    ci = lambda lo, hi: "—" if lo is None or (isinstance(lo, float) and np.isnan(lo)) else f"[{pct(lo)}, {pct(hi)}]"  # noqa: E731
    c = f"{coverage:.0%}"
    head = [HEADERS[by], "会话数 N", "已复核 n", "机器检出率", "人工估计", f"Wilson {c} 区间", "PPI 估计", f"PPI {c} 区间", "等效样本量"]
    body = [[str(r[by]), str(r["N"]), str(r["n"]), pct(r["machine_rate"]), pct(r["classical"]), ci(r["classical_low"], r["classical_high"]),
             pct(r["ppi"]), ci(r["ppi_low"], r["ppi_high"]),
             "—" if r["n_effective"] is None or np.isnan(r["n_effective"]) else f"{r['n_effective']:.0f}"]
            for r in table.to_dict("records")]
    from ..textwidth import display_width as width
    widths = [max(width(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda row: "  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip()  # noqa: E731
    out = [line(head)] + [line(r) for r in body]
    if not body:
        out.append("(没有扣分项)")
    return "\n".join(out + [""] + [f"注: {n}" for n in notes]
                     + ["注: 缺陷率 = 人工复核后仍成立的扣分项所在会话占比; PPI = 机器在全部会话上的检出率 + 样本上人工与机器之差 (docs/SAMPLING.md)"])
