"""One seed KPI (种子指标) as the report shows it: its value with the denominator, target and verdict,
the seed that asks for it, its formula and where its numbers come from — or ``None`` with the reason
(无数据:…), never a zero or an estimate. :func:`make_kpi` is the one way a KPI is built
(customer_kpis.py, review_kpis.py, questions.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .measures import judge, targets_of


NO_DATA = "无数据"


@dataclass
class SeedKpi:
    key: str
    label: str
    kind: str  # pct | seconds | score | count | ratio
    value: float | None
    n: int  # the denominator (conversations, contacts, reviews …)
    target: float | None
    direction: str | None  # "min" | "max"
    met: bool | None
    seed: str  # which seed asks for it, and its figure
    formula: str  # the definition, in words a QA director reads
    source: str  # where the numbers come from (files, columns, the workbench)
    note: str = ""  # 无数据:why — or what was assumed

    @property
    def available(self) -> bool:
        return self.value is not None


def make_kpi(key: str, label: str, kind: str, value: float | None, n: int, config: dict, seed: str, formula: str,
         source: str, note: str = "") -> SeedKpi:
    t = targets_of(config).get(key)
    if value is not None and (isinstance(value, float) and math.isnan(value)):
        value = None
    if value is None and not note.startswith(NO_DATA):
        note = f"{NO_DATA}:{note}" if note else NO_DATA
    return SeedKpi(key, label, kind, None if value is None else float(value), int(n), t[0] if t else None, t[1] if t else None,
                   judge(value, t), seed, formula, source, note)
