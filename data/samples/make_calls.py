"""Write ``calls.jsonl``: six hotline calls whose timing shows what their words don't (issue 18).

    python data/samples/make_calls.py

Hand-written lines with hand-set times (``ts`` / ``end_ts`` in seconds); deterministic. Each call
shows one behaviour the call rules look for, and ``c-0001`` none:

| id | behaviour | rule expected |
| --- | --- | --- |
| c-0001 | a well-paced call | — |
| c-0002 | the agent talks over the customer three times (抢话) | call.interruption |
| c-0003 | 40 s of dead air, nothing announced (冷场) | call.silence |
| c-0004 | a hold announced with 请稍等 and thanked for: a long gap that is no silence | — |
| c-0005 | the agent reads at ~9 characters a second (语速过快) | call.speech_rate |
| c-0006 | a 70-second agent monologue | call.talk_share |
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
AGENT = {"id": "A030", "name": "周敏", "team": "热线服务组"}
GREETING = "您好，优品商城客服，工号9030，很高兴为您服务，请问有什么可以帮您？"
CLOSING = "好的，感谢您的来电，祝您生活愉快，再见！"


def turns(*rows: tuple[str, str, float, float]) -> list[dict]:
    return [{"role": role, "text": text, "ts": ts, "end_ts": end} for role, text, ts, end in rows]


CALLS = [
    ("c-0001", turns(
        ("agent", GREETING, 0.5, 8.0),
        ("customer", "你好，我想问一下订单JD20261120100001什么时候发货？", 9.0, 14.5),
        ("agent", "好的，我帮您看一下，这个订单已经打包，预计今天下午发出。", 15.5, 22.5),
        ("customer", "好的，那大概几天能到？", 23.2, 25.4),
        ("agent", "正常两到三天就能送到，发货后您会收到短信。", 26.3, 31.5),
        ("customer", "行，谢谢。", 32.2, 33.0),
        ("agent", "请问还有其他可以帮您的吗？", 33.8, 36.6),
        ("customer", "没有了。", 37.3, 38.0),
        ("agent", CLOSING, 38.6, 43.8),
    )),
    ("c-0002", turns(
        ("agent", GREETING, 0.4, 7.9),
        ("customer", "你好，我上周买的吸尘器，用了两天就开始有很大的噪音，我想问一下能不能换货或者", 8.8, 17.6),
        ("agent", "可以的，您是要换货对吧，我先帮您登记一下。", 15.2, 20.4),
        ("customer", "对，但是我还想问一下运费是谁出，因为上次退货的时候我自己出了运费，这次", 21.0, 28.9),
        ("agent", "质量问题运费我们承担的。", 26.1, 28.8),
        ("customer", "那上门取件要我自己约还是你们安排？我白天上班不在家，最好是周末或者晚上", 29.5, 38.0),
        ("agent", "我们会安排快递上门，时间您可以在短信里选。", 35.4, 40.6),
        ("customer", "好吧。", 41.3, 41.9),
        ("agent", CLOSING, 42.6, 47.8),
    )),
    ("c-0003", turns(
        ("agent", GREETING, 0.6, 8.1),
        ("customer", "你好，我的发票抬头开错了，能帮我重新开一张吗？", 9.0, 14.2),
        ("agent", "可以的，请问正确的抬头是什么？", 15.1, 18.6),
        ("customer", "优品科技有限公司。", 19.3, 21.5),
        ("agent", "好的，已经为您提交重开申请，新发票会发到您的邮箱。", 62.0, 68.4),
        ("customer", "刚才怎么半天没声音？", 69.0, 71.2),
        ("agent", "不好意思，刚才在提交申请。", 72.0, 74.8),
        ("customer", "好的，谢谢。", 75.5, 76.5),
        ("agent", CLOSING, 77.2, 82.4),
    )),
    ("c-0004", turns(
        ("agent", GREETING, 0.5, 8.0),
        ("customer", "你好，我的退款显示成功了，但是银行卡没收到钱。", 8.9, 14.3),
        ("agent", "好的，请您稍等，我帮您查询一下退款的进度。", 15.2, 20.6),
        ("customer", "好的。", 21.2, 21.8),
        ("agent", "感谢您的耐心等待，退款已经原路退回，银行入账一般需要一到三个工作日。", 72.0, 80.1),
        ("customer", "哦，那我再等等。", 80.8, 82.6),
        ("agent", "请问还有其他可以帮您的吗？", 83.4, 86.2),
        ("customer", "没有了，谢谢。", 86.9, 88.0),
        ("agent", CLOSING, 88.7, 93.9),
    )),
    ("c-0005", turns(
        ("agent", GREETING, 0.4, 4.6),
        ("customer", "你好，我想了解一下你们的以旧换新活动。", 5.5, 9.8),
        ("agent", "以旧换新活动是这样的您在下单新机的时候选择以旧换新选项然后填写旧机的型号和成色我们会给出估价"
                  "快递上门取旧机检测通过以后差价直接退到您的原支付账户整个流程大概需要七到十个工作日", 10.6, 20.6),
        ("customer", "啊？你说慢一点，我没听清。", 21.4, 24.0),
        ("agent", "好的就是下单新机时选以旧换新填写旧机信息我们估价上门取件检测通过后差价退回原支付账户", 24.9, 29.9),
        ("customer", "好吧，我自己再看看吧。", 30.7, 33.0),
        ("agent", CLOSING, 33.8, 37.5),
    )),
    ("c-0006", turns(
        ("agent", GREETING, 0.5, 8.0),
        ("customer", "你好，我想问会员积分怎么用。", 8.8, 11.6),
        ("agent", "会员积分可以在下单时抵扣现金，一百积分抵一元，每单最多抵扣订单金额的百分之二十；积分也可以在积分商城"
                  "兑换优惠券和实物礼品，兑换的优惠券有效期是三十天；另外积分每年十二月三十一日清零一次，清零的是上一年度"
                  "获得的积分；会员等级越高，购物获得的积分倍数越高，银卡一点二倍，金卡一点五倍，钻石卡两倍；参加每日签到"
                  "也能获得积分，连续签到七天额外奖励五十积分；评价晒单也有积分，带图评价二十积分，追评十积分；另外生日"
                  "当月购物双倍积分，还有积分抽奖活动每周三开放，每次消耗一百积分；如果您的积分即将过期，系统会提前三十天"
                  "短信提醒您，您也可以在我的页面查看积分明细和过期时间。", 12.5, 82.5),
        ("customer", "嗯。", 83.2, 83.6),
        ("agent", CLOSING, 84.4, 89.6),
    )),
]


def main() -> None:
    path = HERE / "calls.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i, (cid, rows) in enumerate(CALLS):
            record = {"id": cid, "channel": "phone", "started_at": f"2026-11-24T10:{i:02d}:00+08:00", "agent": AGENT,
                      "customer": {"id": f"U9{i:04d}"}, "turns": rows}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(CALLS)} calls → {path}")


if __name__ == "__main__":
    main()
