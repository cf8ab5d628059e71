"""``zhijian sample`` (draw, load into the queue, or ``--plan``) and ``zhijian estimate``.

Only argparse at import time; pandas, numpy and SQLAlchemy load inside the commands.
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_USAGE = 0, 2


def _err(message: str) -> int:
    print(f"zhijian: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _pct(v) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def cmd_sample(args) -> int:
    from ..config import load_config
    from .design import Design, DesignError, draw, plan, strata
    from .population import PopulationError, read_population

    config = load_config(args.config)
    s = config["sampling"]
    try:
        pop = read_population(args.runs, config)
        if args.plan:
            return _plan(pop, args, s, plan)
        if args.size is None:
            return _err("--size N is needed (how many conversations to draw), or --plan to see how many a margin needs")
        design = Design(by=_split(args.by), bands=args.bands or s["bands"], score_cuts=list(s["score_cuts"]),
                        allocation=args.allocation or s["allocation"],
                        min_per_stratum=s["min_per_stratum"] if args.min_per_stratum is None else args.min_per_stratum,
                        seed=s["seed"] if args.seed is None else args.seed)
        if args.size < 1:
            return _err(f"--size {args.size}: draw at least 1 conversation")
        sample = draw(pop.conversations, design, args.size, float(s["sd_floor"]))
    except (DesignError, PopulationError) as e:
        return _err(str(e))
    # each row carries the design, so the file alone is enough for ``zhijian estimate --sample FILE``
    sample.assign(design=[design.as_dict()] * len(sample)).to_json(args.out, orient="records", lines=True, force_ascii=False)
    summary = sample.groupby("stratum").agg(N_h=("stratum_size", "first"), n_h=("stratum_sample", "first"), weight=("weight", "first"))
    summary["machine_rate"] = pop.conversations["defect"].groupby(strata(pop.conversations, design)).mean()
    print(f"{'层 (stratum)':<40} {'N_h':>7} {'n_h':>5} {'权重 N_h/n_h':>12} {'机器缺陷率':>10}")
    for key, r in summary.iterrows():
        print(f"{key:<40} {int(r.N_h):>7} {int(r.n_h):>5} {r.weight:>12.2f} {_pct(r.machine_rate):>10}")
    print(f"{'合计':<40} {int(summary.N_h.sum()):>7} {int(summary.n_h.sum()):>5}")
    print(f"zhijian: {len(sample)} conversations drawn ({design.allocation}, seed {design.seed}) → {args.out}", file=sys.stderr)
    if args.load:
        return _load(args, config, sample, design, pop.runs)
    return EXIT_OK


def _plan(pop, args, s, plan) -> int:
    margin = s["plan_margin"] if args.margin is None else args.margin
    coverage = s["interval"] if args.confidence is None else args.confidence
    table = plan(pop.conversations, _split(args.by), margin, coverage, float(s["plan_unknown_p"]))
    print(f"为使缺陷率误差在 ±{margin * 100:g} 个百分点内 (置信度 {coverage:.0%}) 需复核的会话数 — 按组简单随机抽样, 含有限总体校正")
    print(f"{'组':<24} {'会话数':>7} {'机器缺陷率':>10} {'所用 p':>8}  {'p 来源':<14} {'需复核':>6} {'保守 (p=0.5)':>12}")
    for r in table.itertuples():
        source = "机器的比率" if r.p_source == "machine" else "未知,取保守值"
        print(f"{r.group:<24} {r.N:>7} {_pct(r.machine_rate):>10} {r.p:>8.3f}  {source:<14} {r.n:>6} {r.n_conservative:>12}")
    print(f"{'合计':<24} {int(table.N.sum()):>7} {'':>10} {'':>8}  {'':<14} {int(table.n.sum()):>6} {int(table.n_conservative.sum()):>12}")
    print("注: 机器缺陷率漏检时偏低; 没有把握时按保守列安排 (p = 0.5 是最坏情况)。")
    return EXIT_OK


def _load(args, config, sample, design, runs) -> int:
    from ..workbench.database import database_url, open_database, session_scope
    from ..workbench.sampling import SampleNotLoaded, mark_sampled

    _, factory = open_database(database_url(config, args.database_url))
    try:
        with session_scope(factory) as session:
            done = mark_sampled(session, list(sample["conversation_id"]), design.as_dict(), runs, config=config)
    except SampleNotLoaded as e:
        return _err(str(e))
    print(f"zhijian: sample {done['sample']}: {done['newly_marked']} conversations put in the review queue (分层抽样), "
          f"{done['already_marked']} already there", file=sys.stderr)
    return EXIT_OK


def cmd_estimate(args) -> int:
    import orjson

    from ..config import load_config
    from ..workbench.database import database_url, open_database, session_scope
    from ..workbench.sampling import latest_sample
    from .estimate import SampleFileError, estimate_table, format_table, human_labels, read_sample_file
    from .population import PopulationError, read_population

    config = load_config(args.config)
    coverage = float(config["sampling"]["interval"])
    try:
        pop = read_population(args.runs, config)
        from_file = read_sample_file(args.sample) if args.sample else None
    except (PopulationError, SampleFileError) as e:
        return _err(str(e))
    _, factory = open_database(database_url(config, args.database_url))
    with session_scope(factory) as session:
        labels = human_labels(session, list(pop.conversations["id"]))
        sample = from_file or latest_sample(session)
    table, notes = estimate_table(pop, labels, sample, args.by, coverage)
    if args.json:
        print(orjson.dumps({"by": args.by, "coverage": coverage, "notes": notes, "rows": table.to_dict("records")},
                           option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode())
    else:
        print(format_table(table, args.by, notes, coverage))
    return EXIT_OK


def add_subcommands(sub) -> None:
    sp = sub.add_parser("sample", help="draw a stratified random sample of inspected conversations for review (or --plan its size)",
                        description="Draw a stratified random sample of the runs' conversations: strata = --by columns × machine "
                                    "risk band, proportional or Neyman allocation, at least --min-per-stratum each, design weights "
                                    "N_h/n_h; --load puts it in the workbench review queue (分层抽样). docs/SAMPLING.md")
    sp.add_argument("runs", nargs="+", metavar="RUN_DIR")
    sp.add_argument("--size", type=int, help="conversations to draw")
    sp.add_argument("--by", help="stratum columns, comma-separated: team, channel, agent (e.g. team,channel)")
    sp.add_argument("--bands", choices=["flagged", "score"], help="machine risk bands (default: sampling.bands)")
    sp.add_argument("--allocation", choices=["proportional", "neyman"], help="default: sampling.allocation")
    sp.add_argument("--min-per-stratum", type=int, help="at least this many per stratum (default: sampling.min_per_stratum)")
    sp.add_argument("--seed", type=int, help="default: sampling.seed")
    sp.add_argument("--out", default="sample.jsonl", help="the sample, one JSON line per conversation (default sample.jsonl)")
    sp.add_argument("--load", action="store_true", help="mark the sampled conversations for review in the workbench (zhijian load them first)")
    sp.add_argument("--database-url", help="workbench database (default: env ZHIJIAN_DATABASE_URL, else workbench.database_url)")
    sp.add_argument("--plan", action="store_true", help="print how many reviews per group a margin needs; draw nothing")
    sp.add_argument("--margin", type=float, help="--plan: ± this on the defect rate (default: sampling.plan_margin, 0.03)")
    sp.add_argument("--confidence", type=float, help="--plan: coverage (default: sampling.interval, 0.95)")
    sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
    sp.set_defaults(func=cmd_sample)

    sp = sub.add_parser("estimate", help="defect rates per rule / item / team from reviewers' verdicts: Wilson and prediction-powered intervals",
                        description="Defect rates from the counted reviews of the loaded stratified sample, with the classical "
                                    "(Wilson) and the prediction-powered estimate that adds the machine's findings on every "
                                    "conversation of the runs. docs/SAMPLING.md")
    sp.add_argument("runs", nargs="+", metavar="RUN_DIR")
    sp.add_argument("--by", choices=["rule", "item", "team"], default="rule")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.add_argument("--sample", metavar="FILE", help="the file zhijian sample --out wrote: its conversations and design are the "
                                                   "human sample (default: the newest sample loaded into the workbench)")
    sp.add_argument("--database-url", help="workbench database (default: env ZHIJIAN_DATABASE_URL, else workbench.database_url)")
    sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
    sp.set_defaults(func=cmd_estimate)
