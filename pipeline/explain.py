"""``zhijian explain``: one conversation in the terminal, findings highlighted, the score worked out."""

from __future__ import annotations

import sys


def find_conversation(path: str, conversation_id: str, config: dict, table_columns=None):
    from .ingest import read_inputs

    for record in read_inputs([path], config, table_columns):
        if record.id == conversation_id:
            return record
    return None


def points_text(finding) -> str:
    """How a finding's price reads: 「红线→0」 for a 红线 item (its own points are 0, the score is 0), else ±points."""
    return "红线→0" if finding.fatal else f"{finding.points:+g}"


def explain(path: str, conversation_id: str, config: dict, mask: bool = True, table_columns=None, console=None) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from .privacy import mask_text
    from .review_flags import review_in_words
    from .run import Inspector
    from .schema import Reject

    console = console or Console()
    record = find_conversation(path, conversation_id, config, table_columns)
    if record is None:
        print(f"zhijian: error: no record with id {conversation_id!r} in {path}", file=sys.stderr)
        return 2
    if isinstance(record, Reject):
        console.print(f"[bold red]rejected[/] {record.reason}: {record.detail} ({record.source.path}:{record.source.line or record.source.row})")
        return 3
    inspector = Inspector(config, mask=mask)
    result = inspector.inspect(record)
    mask_char = config["privacy"]["mask_char"]
    by_turn: dict[int, list] = {}
    for f in result.findings:
        if f.turn is not None:
            by_turn.setdefault(f.turn, []).append(f)
    head = f"[bold]{result.id}[/]  channel={result.channel}  agent={(result.agent or {}).get('name')}"
    console.print(head)
    for turn in record.turns:
        shown = mask_text(turn.text, turn.pii, mask_char) if mask and turn.pii else turn.text
        line = Text(shown)
        marks = []
        for f in by_turn.get(turn.index, []):
            style = "bold white on red" if f.points < 0 or f.severity == "fatal" else "bold black on green"
            if f.start is not None and f.end is not None and f.end > f.start:
                line.stylize(style, f.start, f.end)
            marks.append(f"{f.rule}({points_text(f)})")
        ts = f"{turn.ts:>7.1f}s" if turn.ts is not None else "       -"
        role = {"agent": "坐席", "customer": "客户", "bot": "机器人", "system": "系统"}.get(turn.role, turn.role)
        prefix = Text(f"{turn.index:>3} {ts} {role:<3} ")
        suffix = Text("  ← " + ", ".join(marks), style="yellow") if marks else Text("")
        console.print(prefix + line + suffix)
    table = Table(title="findings", show_lines=False, expand=False)
    for col in ("rule", "turn", "evidence", "points", "item", "message"):
        # fold, never cut: at 80 columns a long rule id or evidence wraps onto the next line
        table.add_column(col, overflow="fold")
    for f in result.findings:
        table.add_row(f.rule, str(f.turn), f.evidence or "", points_text(f), f.item or "-", f.message)
    console.print(table)
    d = result.score_detail or {}
    console.print(f"score: base {d.get('base')}")
    for it in d.get("items", []):
        console.print(f"  item {it['item']}: {it['raw']:+g} → counted {it['counted']:+g} (cap)")
    for p in d.get("parts", []):
        console.print(f"  part {p['part']}: deductions {p['deductions']:+g} (limited to -{p['weight']:g}) + bonus {p['bonus']:+g} = {p['counted']:+g}")
    if d.get("fatal"):
        console.print(f"  [bold red]红线 {d['fatal']} → score 0[/]")
    console.print(f"[bold]= {result.score:g}  grade {result.grade}[/]   {review_in_words(result.review)}")
    console.print(f"metrics: {result.metrics}")
    return 0
