"""Write the team's sample conversations: ``data/samples/`` (run: ``python data/samples/make_samples.py``).

Deterministic (fixed seed, no clock, no network): running it twice gives byte-identical files.

What it writes, next to this file:
* ``conversations.jsonl`` — ~220 conversations in the SPEC input contract (ids ``s-0001`` …);
* ``turns.csv``           — 20 more conversations (ids ``t-0001`` …) as a long table, one turn a row;
* ``expected_rules.json`` — for every id, the core rule ids the team *intended* to fire;
* ``hostile.jsonl``       — 18 records an ingest must reject (plus two valid ones);
* ``README.md``           — what is there and what it covers (numbers filled in from the data).

How: every line of dialogue below was written by hand for these samples (scenarios with several
openings, bodies and wrap-ups; greetings, closings, forbidden phrases, angry / complaint / praise
lines). A *plan* per conversation says which core rules must fire; the composer picks material,
injects the lines that make those rules fire, gives every turn a time, and then checks its own work
with a small reference reading of the rules (``evaluate``): every planned rule must fire under a
strict reading of the cue lists and timing definitions, and no unplanned rule may fire even under a
loose one. A composition that fails the check is redrawn. So ``expected_rules.json`` is a label the
team stands behind, not a guess — but it is still our reading of SPEC, not the pipeline's output.
"""

from __future__ import annotations

import csv
import json
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import opencc

# =================================================================================================
# Hand-written material
# =================================================================================================
# Hand-written dialogue material for ``make_samples.py``.
#
# Everything here was written by the team for the samples: scenarios (openings, bodies, wrap-ups),
# greetings, closings, forbidden phrases, angry / complaint / praise lines. ``make_samples.py`` only
# *composes* it. Placeholders in ``{braces}`` are filled per conversation (order ids, PII …).
#
# Conventions the composer relies on (checked by ``lint_material`` in make_samples.py):
# * body agent lines hold no greeting, closing, empathy, hold or forbidden wording — those are injected
#   deliberately, so a rule fires exactly where the plan says;
# * body customer lines are calm (no anger, complaint or praise cues);
# * a body step is ``("c", text)`` customer, ``("a", text)`` agent, or ``("L", hold_line | None,
#   result)`` — the agent puts the customer on hold to look something up and comes back with the
#   result (each body has exactly one ``L``).

AGENTS = [
    # id, name, team, nickname used in chat greetings
    ("A001", "王芳", "售前咨询组", "小芳"),
    ("A002", "李娜", "售前咨询组", "小娜"),
    ("A003", "张伟", "售前咨询组", "小张"),
    ("A004", "陈静", "售前咨询组", "小静"),
    ("A005", "刘洋", "售后服务组", "小洋"),
    ("A006", "赵敏", "售后服务组", "小敏"),
    ("A007", "黄丽", "售后服务组", "小丽"),
    ("A008", "吴婷", "售后服务组", "小婷"),
    ("A009", "杨磊", "热线服务组", "小杨"),
    ("A010", "孙悦", "热线服务组", "小悦"),
    ("A011", "徐强", "热线服务组", "小徐"),
    ("A012", "周倩", "热线服务组", "小倩"),
]

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何", "林"]
GIVEN = ["建国", "丽华", "晓明", "婷婷", "志强", "秀英", "浩然", "思雨", "子涵", "雪梅", "海燕", "俊杰"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "天津"]
ADDRESSES = [
    "北京市朝阳区望京街道阜通东大街6号院3号楼1502室",
    "上海市浦东新区张江镇碧波路690号2号楼301室",
    "广东省深圳市南山区粤海街道科技园南区高新南七道18号",
    "浙江省杭州市西湖区文三路478号华星时代广场A座12楼",
    "四川省成都市武侯区天府大道北段1700号环球中心W6区",
    "湖北省武汉市洪山区珞喻路1037号东湖小区7栋2单元402",
    "江苏省南京市鼓楼区中山北路88号金鹰花园5幢1101室",
    "天津市河西区友谊路35号城市大厦B座806",
]
COMPANIES = ["杭州云帆科技有限公司", "北京星河文化传媒有限公司", "深圳市优创电子有限公司", "成都蜀味餐饮管理有限公司"]
TAX_IDS = ["91330106MA27XK3L5Q", "91110105MA01B2C34D", "91440300MA5F7GH81K", "91510107MA6CJ9KX2P"]
EMAIL_USERS = ["wang.lihua", "zhangxm88", "chen_jing2020", "liuyang.work", "sunny_zhao", "hr-finance", "tianxin1990", "amy.huang"]
EMAIL_HOSTS = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "foxmail.com"]
BANKS = [("工商银行", "622202"), ("建设银行", "621700"), ("招商银行", "622588"), ("农业银行", "622848"), ("中国银行", "621661")]
ID_REGIONS = ["110105", "310104", "440305", "330106", "510107", "420111", "320106", "120103"]

# --- generic agent / customer lines ----------------------------------------------------------

GREET_CHAT = [
    "您好，很高兴为您服务，请问有什么可以帮您？",
    "亲，您好～我是客服{nick}，请问有什么可以帮您的吗？",
    "您好，有什么问题我可以帮您处理或解决呢？",
    "您好，欢迎光临{brand}，我是{nick}，很高兴为您服务😊",
    "亲爱的顾客您好，我是{nick}，请问有什么可以帮您？",
]
GREET_MORNING = ["早上好，{brand}客服{nick}很高兴为您服务～请问有什么可以帮您？"]
GREET_PHONE = [
    "您好，{brand}客服中心，工号{code}，很高兴为您服务，请问有什么可以帮您？",
    "您好，工号{code}为您服务，请问有什么可以帮您？",
    "您好，{brand}客服，{code}号客服代表很高兴为您服务。",
]
GREET_TRAD = ["妳好，請問有什麼可以幫您？", "您好，很高興為您服務，請問有什麼可以幫您？"]
# the agent skips the greeting (greeting.missing): curt, but not a forbidden phrase
NO_GREET_CHAT = ["请讲。", "在。", "请提供一下订单号。", "嗯，请说。"]
NO_GREET_PHONE = ["喂，请讲。", "嗯，请说。", "喂？请讲。"]

ACK_NEUTRAL_GENERIC = ["好的，这边为您查看。", "好的，收到。"]
ACK_EMP_GENERIC = ["非常抱歉给您带来不便，这边马上为您处理。"]
ACK_COLD_GENERIC = ["嗯。"]
BOT_LINES = [
    "您好，客服正在赶来的路上，请稍候～",
    "【自动回复】亲，欢迎光临{brand}，人工客服将尽快为您服务，请稍候。",
    "您好，当前咨询人数较多，正在为您转接人工客服…",
]
SYSTEM_START = ["用户从商品详情页进入咨询：{product}", "会话已转接至人工客服{nick}"]
SYSTEM_END = ["会话已结束", "用户已离开会话", "系统：本次会话已结束，邀请用户评价"]
IVR_LINES = [
    "您好，欢迎致电{brand}客服热线，正在为您转接人工服务，请稍候。",
    "欢迎致电{brand}，您的来电将被录音，正在为您接通人工客服。",
]
PHONE_HELLO = ["喂？你好，有人吗？", "喂，喂？", "喂，你好？"]
CHAT_PRELUDE = ["在吗", "在吗？", "有人吗", "你好"]

HOLD_LINES = [
    "请稍等，我帮您查询一下。",
    "好的，请您稍等，我这边帮您查询一下。",
    "稍等，我帮您核实一下。",
    "请稍等，我帮您查询一下处理进度。",
]
HOLD_ACK_PHONE = ["好的。", "嗯，好。", "行，我等着。"]
RETURN_PREFIX = ["感谢您的耐心等待，", "让您久等了，", "不好意思让您久等了，"]

CLOSE_CHAT = [
    [("a", "请问还有其他可以帮您的吗？"), ("c", "没有了，谢谢"), ("a", "感谢您的咨询，祝您生活愉快，再见！")],
    [("a", "亲，后续还有其他问题可以随时联系我们哦，祝您生活愉快～")],
    [("a", "请问还有其他可以帮您的吗？"), ("c", "没了"), ("a", "好的，感谢您的咨询，稍后麻烦您对我的服务做出评价，祝您生活愉快！")],
    [("a", "不客气，感谢您的咨询，再见～")],
    [("a", "请问还有其他问题吗？"), ("c", "没有了"), ("a", "好的，那祝您购物愉快，再见！")],
]
CLOSE_PHONE = [
    [("a", "请问还有其他可以帮您的吗？"), ("c", "没有了"), ("a", "好的，感谢您的来电，再见！")],
    [("a", "好的，那不打扰您了，感谢您的来电，祝您生活愉快，再见。"), ("c", "好，拜拜。")],
    [("a", "请问还有其他问题吗？"), ("c", "没了没了，谢谢"), ("a", "不客气，感谢您的来电，祝您生活愉快，再见。")],
]
CLOSE_TRAD = [[("a", "請問還有其他可以幫您的嗎？"), ("c", "沒有了，謝謝"), ("a", "感謝您的諮詢，祝您生活愉快，再見！")]]
# closing.missing: the agent just stops
CURT_CHAT = ["好的。", "嗯，就这样。", "有结果会短信通知。", "已经处理了。"]
CURT_PHONE = ["行，那就这样。", "嗯，好。"]

WRAP_NEUTRAL = ["好的，谢谢。", "嗯嗯，知道了，谢谢🙏", "好的，明白了。", "OK，谢谢", "好的，麻烦了"]
WRAP_PRAISE = [
    "好的，谢谢你，服务很好👍",
    "你很专业，给你点赞！",
    "问题解决了，给你五星好评！",
    "谢谢，你们客服服务很好。",
    "这么快就解决了，很专业，点赞👍",
]
WRAP_PRAISE_PHONE = ["好的好的，你们服务很好，谢谢你啊。", "你这个客服很专业，给你点个赞。", "行，谢谢，服务很好。"]
WRAP_NEGATIVE = ["行吧。", "哦。", "嗯。"]

# customer anger / distress in the middle of a conversation (empathy.missing anchors)
ANGRY_MID = [
    "你们这效率也太差了吧！😡",
    "气死了，每次问都是这几句话！",
    "太过分了，这都第三次找你们了！",
    "烦死了，到现在都没人给我一个准话",
    "无语，你们到底有没有人管？😡",
]
# the agent answers anger with empathy (clean) …
EMP_MID = [
    "非常抱歉让您反复联系，理解您的心情，这次由我来负责跟进到底。",
    "实在抱歉给您带来不便，您先别着急，我马上为您加急处理。",
    "非常理解您的心情，给您带来不便非常抱歉，这边一定尽快给您一个结果。",
]
# … or coldly (empathy.missing): no apology, no soothing
COLD = ["按流程处理中，有结果会通知。", "系统显示正在处理。", "这边已经登记了。", "处理结果会短信通知。"]

COMPLAINT = [
    "这个问题我已经反映三次了，再不解决我就打12315投诉你们！",
    "上次说好给我回电话，结果一直没消息，我要投诉，找你们领导来跟我说！",
    "你们再这样拖着，我就去网上曝光你们。",
    "拖了这么久，这事我已经准备去消协反映了。",
    "这样处理我不接受，你把工号报一下，我要投诉。",
]
COMPLAINT_SPACED = ["我要 投 诉 你们！", "再这样我就 投 诉 了"]
COMPLAINT_PHONE = ["你们再不处理，我就打12315投诉！", "你叫你们领导来接电话，我要投诉！"]
# complaint + anger in one line (used when the agent then stays cold: empathy.missing as well)
COMPLAINT_ANGRY = ["问题反映好几次了都没解决，太过分了，我要打12315投诉你们！😡",
                   "气死了，上次说好的回电到现在都没有，我要投诉，找你们领导来！"]
EMP_COMPLAINT = [
    "非常抱歉给您带来了不好的体验，您的心情我非常理解，我现在就为您升级加急处理，24小时内一定给您答复。",
    "非常抱歉，理解您的心情，您反映的问题我已经记录并提交给主管，会有专人优先跟进。",
]
COLD_COMPLAINT = ["要投诉可以通过官方渠道提交。", "这边已经登记了。"]
# negated threats: complaint.risk must NOT fire
NEGATED = [
    "我不是要投诉，就想问问什么时候能处理好。",
    "我没想投诉你们，就是希望快一点。",
    "放心，不会投诉的，你帮我催一下就行。",
    "我不想给差评，就是有点着急用。",
]
EMP_NEGATED = ["理解您着急的心情，我这边马上帮您催促处理。", "给您带来不便非常抱歉，我马上为您加急，尽快给您答复。"]

# forbidden phrases (服务忌语), each with the customer lines it answers.
# tags: spaced / trad / phone / price / fullwidth / fatal
ASK_AGAIN = ["我还是不太清楚，能再说一下吗？", "刚才没听明白，能再讲一遍吗？"]
ASK_HOW = ["那具体要怎么操作？", "这个我不太懂", "可是我在页面上没找到啊"]
ASK_WHY = ["为什么要走这么多步骤？", "就不能直接帮我办了吗？"]
ASK_HELP = ["那你们能不能帮我处理一下？", "这个你们不能直接帮我弄吗？"]
FOLLOW_UPS_PRICE = ["能不能再便宜点？", "别家比你们便宜一百多呢", "那能不能给我补点差价？"]
INTERRUPTS_PHONE = ["等等，那我之前那个……", "不是，我的意思是……", "那我现在要……"]
FORBIDDEN = [
    ("我再跟您说一遍，按刚才说的步骤操作就可以了。", set(), ASK_AGAIN),
    ("你明白吗？提交以后等审核就行了。", set(), ASK_HOW),
    ("你知道吗，这个流程大家都是这么走的。", set(), ASK_WHY),
    ("你什么意思？刚才不是已经说清楚了。", set(), ASK_AGAIN),
    ("这个不归我管，您找商家吧。", set(), ASK_HELP),
    ("页面上写得很清楚，你自己看。", set(), ASK_HOW),
    ("你 明 白 吗？按页面提示操作就行。", {"spaced"}, ASK_HOW),
    ("我 再 跟 您 说 一 遍，要先提交申请。", {"spaced"}, ASK_AGAIN),
    ("妳明白嗎？按頁面提示操作就行。", {"trad"}, ASK_HOW),
    ("妳知道嗎，這個流程大家都是這樣走的。", {"trad"}, ASK_WHY),
    ("你先听我说完好不好！", {"phone"}, INTERRUPTS_PHONE),
    ("你先听我说完好不好，我还没说完呢。", {"phone"}, INTERRUPTS_PHONE),
    ("爱买不买，价格就是这样。", {"price"}, FOLLOW_UPS_PRICE),
    ("你明白吗？ＯＫ？提交申请就行。", {"fullwidth"}, ASK_HOW),
    ("你是不是神经病啊，说了多少遍了！", {"fatal"}, ASK_AGAIN),
    ("你有病吧，页面上不是写着吗？", {"fatal"}, ASK_HOW),
    ("神经病，爱买不买。", {"fatal", "price"}, FOLLOW_UPS_PRICE),
]
REACT = ["你这什么态度？太过分了！", "你怎么这么说话？气死了！"]
APOLOGY_AFTER_FORBID = ["抱歉，刚才是我表达不好，我再给您详细说明。", "非常抱歉，是我语气不好，给您带来不便了。"]
# the customer (not the agent) uses a phrase from the forbidden list: must not fire
CUSTOMER_FORBIDDEN = [
    ("你知道吗，我上次也是这个问题。", "好的，这边为您记录，这次一并为您处理。"),
    ("你明白吗？我要的是明天之前能解决。", "好的，已经为您备注了，会尽量在明天之前处理完。"),
]

RATING_GOOD = ["服务很好", "很专业", "解决得很快，五星好评", "回复及时，态度好", "", "", "满意"]
RATING_BAD = {
    "forbidden.phrase": ["客服态度差", "说话很冲", "态度恶劣"],
    "empathy.missing": ["一点都不体谅人", "态度冷冰冰的", "问题没解决"],
    "response.slow": ["回复太慢", "等了半天没人理"],
    "response.first_slow": ["半天才有人回复", "回复太慢"],
    "hold.no_apology": ["让我等了好久", "查个东西等半天"],
    "complaint.risk": ["问题没解决", "处理太慢"],
    "greeting.missing": ["一般", ""],
    "closing.missing": ["一般", "", "没说完就不理人了"],
}

# --- scenarios ---------------------------------------------------------------------------------
# issue_type: the coarse label of the samples (labels.issue_type); weight: how often it is drawn.
# negative_opening: the opening reports something gone wrong → a good agent acknowledges it with
#   empathy (ack_emp); calm scenarios use ack_neutral.
# A body belongs to its openings: B(open=[calm openings], angry=[angry openings], steps=[…],
#   wrap=[the customer's last word before the closing]). A body without ``angry`` is never drawn
#   for a conversation that starts angry.

B = dict

SCENARIOS = {
    "logistics.delay": dict(
        issue_type="配送物流", brand="优品商城", phone_share=0.3, negative_opening=True, weight=2.0,
        products=["戴森吹风机HD15", "小米空气净化器4", "iPhone 15 手机壳", "三只松鼠坚果礼盒", "罗技MX Master 3S鼠标"],
        ack_emp=[
            "非常抱歉给您带来不便，理解您着急的心情，麻烦您提供一下订单号，这边马上为您跟进物流情况。",
            "非常抱歉，物流延误给您带来不便了，这边马上为您处理。",
        ],
        ack_neutral=["好的，麻烦您提供一下订单号。"],
        ack_cold=["订单号多少？", "物流要等快递公司反馈。"],
        bodies=[
            B(open=[["我{date}下的单，物流四天没更新了，什么情况？"],
                    ["咨询订单号：{order}", "这个快递什么时候能到啊？说好昨天到的"]],
              angry=[["等了一周还没到！你们这什么破物流，太差了！😡"]],
              steps=[("c", "订单号{order}"),
                     ("L", None, "查到了，您的包裹目前在{city}转运中心，近期件量较大有所延误，预计明天下午送达。"),
                     ("c", "明天一定能到吗？"),
                     ("a", "这边已经给您备注加急，并催促站点优先派送，快递员派送前会电话联系您。"),
                     ("c", "好的")],
              wrap=["好的，那我明天等着。", "行，我等快递员电话。"]),
            B(open=[["你好，我买的{product}显示已发货，但是一直没有派送信息"]],
              angry=[["订单{order}到底什么时候到？？说好三天，现在一周了还没到，气死了"]],
              steps=[("c", "{order}，收货电话是{phone}"),
                     ("L", "好的，请稍等，我帮您查询一下物流信息。",
                      "您的包裹昨天已经到达站点，今天正在派送中，配送员电话是{phone2}，您也可以直接联系他。"),
                     ("c", "那我今天要是不在家怎么办？"),
                     ("a", "您可以和配送员约定放到小区的快递柜，或者改约明天配送。"),
                     ("c", "那就放快递柜吧")],
              wrap=["好的，我跟配送员说一下。", "行，那就放快递柜。"]),
            B(open=[["我的快递好几天没动了，单号{tracking}"]],
              angry=[["等了一周还没到，打快递电话也没人接，气死了！"]],
              steps=[("c", "订单是{order}"),
                     ("L", None, "快递在{date2}已经发出，目前显示在途中。这边已经为您提交了催件工单，工单号{ticket}，24小时内会有专员跟进。"),
                     ("c", "好的，那我等通知"),
                     ("a", "工单处理结果会通过短信通知您，在“我的订单”里也能看到进度。")],
              wrap=["好的，那我再等等。"]),
            B(open=[["快递到了，但是箱子压坏了，里面的{product}也摔坏了"]],
              angry=[["收到的东西摔得稀烂，你们这什么破包装，太差了！😡"]],
              steps=[("c", "订单{order}，照片发你 [图片]"),
                     ("L", None, "照片已经收到，这属于运输破损，已经为您安排补发一件新的，明天发出，坏的那件快递员上门时一起取回。"),
                     ("c", "坏的要我自己寄回去吗？"),
                     ("a", "不需要您寄，补发的快递员送货时会一起带走。")],
              wrap=["好的，那我等新的。", "行，知道了。"]),
        ],
    ),
    "logistics.address": dict(
        issue_type="配送物流", brand="优品商城", phone_share=0.3, negative_opening=False, weight=1.0,
        products=["美的电饭煲", "小天鹅洗衣机", "九阳豆浆机", "乐高积木城市系列"],
        ack_emp=["非常抱歉给您带来不便，请您提供一下订单号和正确的地址，这边马上为您处理。"],
        ack_neutral=["好的，请您提供一下订单号和新的收货地址。", "好的，麻烦您提供一下订单号。"],
        ack_cold=["新地址发过来。"],
        bodies=[
            B(open=[["你好，我想改一下收货地址"], ["地址填错了，能改吗？"]],
              angry=[["地址改了三次还是送错地方，你们太过分了！"]],
              steps=[("c", "订单{order}，改成{addr}，电话{phone}"),
                     ("L", None, "订单目前还没有出库，地址可以修改，已经帮您改好了，刷新订单页面就能看到。"),
                     ("c", "那还是原来的时间送吗？"),
                     ("a", "配送时间不变，预计{date2}送达。")],
              wrap=["好的，知道了。"]),
            B(open=[["能不能改成周末送？工作日白天家里没有人在"]],
              steps=[("c", "订单号是{order}，周六上午可以送吗？"),
                     ("L", None, "可以的，已经为您预约了周六上午9点到12点配送。"),
                     ("c", "会提前打电话吗？"),
                     ("a", "会的，配送员出发前会给您打电话。")],
              wrap=["好的，那就周六上午。"]),
        ],
    ),
    "refund.return": dict(
        issue_type="退换货与退款", brand="优品商城", phone_share=0.25, negative_opening=False, weight=1.5,
        products=["优衣库羽绒服", "耐克Air Max跑鞋", "华为MatePad 11平板", "飞利浦电动牙刷"],
        ack_emp=["非常抱歉给您带来不便，麻烦您提供一下订单号，这边为您处理退货。"],
        ack_neutral=["好的，麻烦您提供一下订单号。", "可以的，请提供一下订单号，这边为您操作。"],
        ack_cold=["订单号发一下。"],
        bodies=[
            B(open=[["我买的{product}不想要了，能退吗？还没拆封"], ["衣服尺码小了，想退货，怎么操作？"]],
              angry=[["退个货这么麻烦，找了半天入口都找不到，气死了！"]],
              steps=[("c", "订单号{order}"),
                     ("L", None, "这个商品支持七天无理由退货，您在订单详情页点击“申请售后”，选择“退货”，填写原因提交就可以了。"),
                     ("c", "运费谁出？"),
                     ("a", "商品没有质量问题的话，退回运费需要您先垫付；您的订单有运费险，退款成功后会自动理赔{freight}元。"),
                     ("c", "快递员会上门取件吗？"),
                     ("a", "会的，提交申请时选择“上门取件”，快递员会在约定时间上门。")],
              wrap=["好的，那我去申请。", "好的，明白了。"]),
            B(open=[["收到的{product}有划痕，我要退货退款"]],
              angry=[["东西是坏的，申请退货还给我驳回了，太过分了！"]],
              steps=[("c", "{order}，屏幕边上有一道划痕"),
                     ("a", "麻烦您拍一张划痕的照片发过来。"),
                     ("c", "[图片]"),
                     ("L", None, "照片已经收到，这种情况属于商品质量问题，可以直接为您办理退货，运费由我们承担。已经为您提交了退货申请，服务单号{ticket}。"),
                     ("c", "退款多久能到？"),
                     ("a", "仓库收到退货并检测完成后，1到3个工作日原路退回。")],
              wrap=["好，我等退款。"]),
            B(open=[["我要退货，{product}不合适"]],
              steps=[("c", "我是货到付款的，钱退到哪里？"),
                     ("a", "货到付款的订单可以退到您本人的银行卡，麻烦提供一下开户行和卡号。"),
                     ("c", "{bank}，卡号{card}，户名{fullname}"),
                     ("L", None, "已经为您登记好了，退款会在审核通过后3到5个工作日到账。"),
                     ("c", "好的，到账会有通知吗？"),
                     ("a", "到账时银行会发短信提醒。")],
              wrap=["好，我等退款。", "好的，明白了。"]),
        ],
    ),
    "refund.progress": dict(
        issue_type="退换货与退款", brand="优品商城", phone_share=0.3, negative_opening=True, weight=1.5,
        products=["索尼WH-1000XM5耳机", "Switch游戏机", "雅诗兰黛小棕瓶"],
        ack_emp=["非常抱歉让您担心了，麻烦您提供一下订单号，这边马上为您跟进退款进度。"],
        ack_neutral=["好的，麻烦您提供一下订单号。"],
        ack_cold=["订单号。"],
        bodies=[
            B(open=[["我的退款申请一周了还没到账"], ["退款显示成功了，但是信用卡里没看到钱"]],
              angry=[["退款退了半个月还没到，你们是不是想骗钱？气死了"]],
              steps=[("c", "{order}"),
                     ("L", "请稍等，我帮您查询一下退款进度。",
                      "退款已经在{date}退回到您的原支付账户，银行处理一般需要1到3个工作日，您可以留意一下银行的入账短信。"),
                     ("c", "是退回到信用卡吗？"),
                     ("a", "是的，您下单时用的是信用卡支付，退款会原路退回到这张卡上。"),
                     ("c", "那我再留意一下")],
              wrap=["好的，那我再等等。", "行，我留意一下短信。"]),
            B(open=[["请问退款什么时候能到？订单{order}"]],
              angry=[["退款退了半个月还没到，你们是不是想骗钱？气死了"]],
              steps=[("c", "我用的是白条付的"),
                     ("L", None, "白条支付的订单，退款会退回到白条账户，并冲抵对应的账单，不会退到银行卡。"),
                     ("c", "那我这个月还要还这笔钱吗？"),
                     ("a", "不用的，这笔退款会直接抵扣您本期的白条账单，在白条账单详情里可以看到。")],
              wrap=["好的，明白了。"]),
            B(open=[["请问退款什么时候能到？订单{order}"], ["我的退款申请一周了还没到账"]],
              steps=[("c", "能不能给我发一个退款凭证？邮箱是{email}"),
                     ("L", None, "退款凭证已经生成，会在30分钟内发送到您的邮箱，请注意查收。"),
                     ("c", "好的，那银行那边多久能到？"),
                     ("a", "一般1到3个工作日，最晚不超过7个工作日。")],
              wrap=["好的，我看一下邮箱。", "行，我留意一下短信。"]),
        ],
    ),
    "refund.exchange": dict(
        issue_type="退换货与退款", brand="优品商城", phone_share=0.2, negative_opening=False, weight=1.0,
        products=["李宁运动鞋", "无印良品T恤", "Kindle电子书阅读器"],
        ack_emp=["非常抱歉给您带来不便，麻烦您提供一下订单号，这边马上为您安排换货。"],
        ack_neutral=["可以的，麻烦您提供一下订单号。"],
        ack_cold=["订单号发一下。"],
        bodies=[
            B(open=[["鞋子买小了一码，能换大一码吗？"]],
              steps=[("c", "订单{order}，42码换43码"),
                     ("L", None, "43码目前有库存，可以为您办理换货。在订单详情页申请换货，选择43码，快递员上门取件时会把新鞋一起带过来。"),
                     ("c", "需要我付运费吗？"),
                     ("a", "这次换货的运费由我们承担，您不需要额外支付。")],
              wrap=["好的，那我去申请换货。"]),
            B(open=[["{product}颜色发错了，我要的是黑色，收到的是白色"]],
              angry=[["又发错货了！这都第二次了，无语"]],
              steps=[("c", "订单{order}，我要换成黑色的"),
                     ("L", None, "黑色目前有货，已经为您提交换货申请，新的商品会在旧商品寄回后优先发出。"),
                     ("c", "那旧的要怎么寄回？"),
                     ("a", "快递员明天上门取件，把商品和配件放回原包装就可以。")],
              wrap=["好的，那我等快递员上门。"]),
        ],
    ),
    "invoice": dict(
        issue_type="发票", brand="优品商城", phone_share=0.2, negative_opening=False, weight=1.5,
        products=["联想ThinkPad X1笔记本", "惠普激光打印机", "得力办公椅"],
        ack_emp=["非常抱歉耽误您报销了，这边马上为您处理发票的问题。"],
        ack_neutral=["好的，麻烦您提供一下订单号。", "可以的，请问您需要开哪种发票呢？"],
        ack_cold=["订单号多少？"],
        bodies=[
            B(open=[["你好，我要开发票，公司报销用"]],
              angry=[["发票申请了半个月都没开出来，太差了吧！报销都过期了！"]],
              steps=[("c", "开增值税专用发票，公司名称{company}，税号{taxid}"),
                     ("a", "增值税专用发票还需要开户行、账号、注册地址和电话，麻烦您一并提供。"),
                     ("c", "注册地址{addr}，其他信息我发到你们邮箱可以吗？"),
                     ("L", None, "可以的，已经为您登记，专用发票会在商品签收后7个工作日内寄出，寄出后短信通知快递单号。"),
                     ("c", "好的")],
              wrap=["好的，那我等快递。"]),
            B(open=[["发票抬头写错了，能改吗？"]],
              steps=[("c", "订单{order}，抬头应该是{company}，我写成个人了"),
                     ("L", None, "发票已经开具，是电子普通发票，可以为您换开，已经提交了换开申请，新的发票会在1到2个工作日内重新发送。"),
                     ("c", "发到我邮箱{email}吧"),
                     ("a", "好的，已经备注了接收邮箱{email}。")],
              wrap=["好的，我等邮件。"]),
            B(open=[["请问{order}这个订单的发票在哪里下载？"]],
              steps=[("c", "在哪里能看到电子发票？"),
                     ("a", "在“我的订单”里找到这个订单，点击“查看发票”就能下载PDF版本。"),
                     ("c", "我找到了，但是打不开"),
                     ("L", None, "发票文件是正常的，建议用电脑浏览器下载，或者为您把发票重新发送到邮箱。"),
                     ("c", "那发到邮箱吧，{email}"),
                     ("a", "已经为您重新发送，请注意查收。")],
              wrap=["好的，收到了。", "好的，我看一下邮箱。"]),
        ],
    ),
    "price.protect": dict(
        issue_type="价格与价保", brand="优品商城", phone_share=0.2, negative_opening=False, weight=1.0,
        products=["海尔冰箱BCD-470", "戴森V12吸尘器", "小米14 Ultra手机", "SK-II神仙水"],
        ack_emp=["非常抱歉给您带来不好的购物体验，麻烦您提供一下订单号，这边为您申请价保。"],
        ack_neutral=["好的，麻烦您提供一下订单号。"],
        ack_cold=["订单号多少。"],
        bodies=[
            B(open=[["我前天买的{product}，今天降价了{diff}块，能补差价吗？"], ["价保怎么申请？"]],
              angry=[["刚买完就降价两百，你们这不是坑人吗？太过分了"]],
              steps=[("c", "订单{order}"),
                     ("L", None, "这个商品支持30天价保，当前价格比您购买时低{diff}元，符合价保条件，已经为您提交价保申请，差价会退回到原支付账户。"),
                     ("c", "多久能到账？"),
                     ("a", "价保审核通过后，一般1到3个工作日退回。")],
              wrap=["好的，那我等差价退回。"]),
            B(open=[["我前天买的{product}，今天降价了{diff}块，页面上点价保提示不支持"]],
              angry=[["刚买完就降价两百，价保还申请不了，太过分了"]],
              steps=[("c", "订单{order}"),
                     ("L", None, "这个商品现在是限时秒杀价，秒杀价格不在价保范围内，所以页面提示不支持。"),
                     ("c", "那有别的补偿吗？"),
                     ("a", "这边可以为您申请一张{coupon}元的优惠券作为补偿，下次购物可以使用。"),
                     ("c", "那也行")],
              wrap=["好的，知道了。"]),
        ],
    ),
    "coupon": dict(
        issue_type="价格与价保", brand="优品商城", phone_share=0.1, negative_opening=False, weight=0.8,
        products=["飞利浦空气炸锅", "科沃斯扫地机器人", "华为FreeBuds耳机"],
        ack_emp=["非常抱歉给您带来不便，麻烦您说一下购买的商品，这边为您核对。"],
        ack_neutral=["好的，请问您购买的是哪件商品呢？"],
        ack_cold=["买的什么？"],
        bodies=[
            B(open=[["我的满300减50优惠券为什么用不了？"]],
              angry=[["说好的优惠券又用不了，你们这不是坑人吗？无语"]],
              steps=[("c", "买的是{product}"),
                     ("L", None, "这张优惠券是指定品类券，只能用于家用电器类商品，您购买的商品不在可用范围内，所以结算时不能抵扣。"),
                     ("c", "那有能用的券吗？"),
                     ("a", "现在领券中心有一张全品类满299减20的券，您可以领取后使用。"),
                     ("c", "好，我去领")],
              wrap=["好的，明白了。"]),
            B(open=[["领的券结算的时候没有抵扣"]],
              steps=[("c", "{product}，总价{amount}元"),
                     ("L", None, "这张券需要商品实付满300元才能使用，您的订单扣除店铺满减后是{amount2}元，还差一点。"),
                     ("c", "那我再加一件小东西可以吗？"),
                     ("a", "可以的，凑够300元就能自动抵扣。")],
              wrap=["好的，那我再凑一件。"]),
        ],
    ),
    "payment.fail": dict(
        issue_type="支付", brand="优品商城", phone_share=0.3, negative_opening=True, weight=1.2,
        products=["苹果AirPods Pro 2", "佳能EOS R50相机", "茅台飞天53度"],
        ack_emp=["非常抱歉给您带来不便，这边马上为您核实支付情况。"],
        ack_neutral=["好的，麻烦您说一下使用的支付方式。"],
        ack_cold=["什么支付方式？"],
        bodies=[
            B(open=[["付款一直失败，提示银行卡异常"]],
              angry=[["付个款失败了五次，你们这什么破系统，气死了！"]],
              steps=[("c", "用的是{bank}的卡，卡号{card}"),
                     ("L", None, "支付失败的原因是这张卡的单笔限额不足，您可以换一张卡，或者在银行APP里调整网上支付限额。"),
                     ("c", "限额在哪里改？"),
                     ("a", "一般在银行APP的“安全中心”或“支付设置”里可以调整，调整后重新支付就可以了。")],
              wrap=["好的，我去改一下限额。"]),
            B(open=[["我付了两次钱，被扣了两笔"]],
              angry=[["付个款扣了我两次钱，气死了！"]],
              steps=[("c", "订单{order}，扣了两次{amount}元"),
                     ("L", None, "第二笔是重复支付，系统会自动退回，预计1到3个工作日原路退回到您的支付账户。"),
                     ("c", "不用我申请吗？"),
                     ("a", "不需要您操作，退回后会有短信提醒。")],
              wrap=["好的，那我等钱退回来。"]),
            B(open=[["微信支付一直转圈，付不了款"]],
              steps=[("c", "订单{order}，用的是微信支付"),
                     ("a", "麻烦您先检查网络是否正常，然后退出APP重新打开试试。"),
                     ("c", "试过了还是一样"),
                     ("L", None, "当前微信支付通道是正常的，建议您切换一下Wi-Fi和4G网络再试，或者换用银行卡支付。"),
                     ("c", "换4G可以了")],
              wrap=["好的，付成功了。"]),
        ],
    ),
    "order.modify": dict(
        issue_type="订单修改与取消", brand="优品商城", phone_share=0.25, negative_opening=False, weight=1.2,
        products=["iPhone 15 Pro", "华为Mate 60", "OPPO Find X7"],
        ack_emp=["非常抱歉给您带来不便，这边马上为您查看订单状态。"],
        ack_neutral=["好的，麻烦您提供一下订单号。", "可以的，请提供一下订单号。"],
        ack_cold=["订单号。"],
        bodies=[
            B(open=[["我想取消订单，买重复了"]],
              steps=[("c", "{order}"),
                     ("L", None, "订单目前还没有出库，已经为您提交了取消申请，取消成功后款项会原路退回。"),
                     ("c", "多久能取消成功？"),
                     ("a", "一般几分钟就会审核完成，刷新订单页面就能看到状态。")],
              wrap=["好的，我刷新看看。"]),
            B(open=[["下错单了，能改一下型号吗？"]],
              steps=[("c", "想把{product}的128G改成256G，订单{order}"),
                     ("a", "订单提交后型号暂时不能直接修改，可以先取消这个订单，再重新下单256G的。"),
                     ("c", "那优惠券还能用吗？"),
                     ("L", None, "取消后优惠券会在24小时内退回到您的账户，有效期不变，重新下单时可以继续使用。")],
              wrap=["好的，那我重新下单。"]),
            B(open=[["已经出库了还能取消吗？订单{order}"]],
              angry=[["我十分钟前就点了取消，现在还显示已出库，太差了吧"]],
              steps=[("c", "订单{order}"),
                     ("L", None, "订单已经在配送途中，暂时不能直接取消。您可以在快递员送达时拒收，拒收后商品退回仓库，款项会原路退回。"),
                     ("c", "拒收要付钱吗？"),
                     ("a", "拒收不会产生费用，退款会在仓库收到商品后1到3个工作日到账。")],
              wrap=["好的，那我到时候拒收。"]),
        ],
    ),
    "product.consult": dict(
        issue_type="商品咨询", brand="优品商城", phone_share=0.15, negative_opening=False, weight=1.2,
        products=["倍思65W氮化镓充电器", "Anker 20W快充头", "绿联Type-C充电器"],
        ack_emp=[],
        ack_neutral=["好的，请问您咨询的是哪一款商品呢？可以把商品链接发过来。", "好的，这边为您解答。"],
        ack_cold=["哪个商品？"],
        bodies=[
            B(open=[["这个{product}支持iPhone 15吗？"]],
              steps=[("c", "[商品链接] {product}"),
                     ("L", None, "这款充电器支持PD快充，iPhone 15系列都可以使用，最高支持20W快充。"),
                     ("c", "需要另外买线吗？"),
                     ("a", "包装里附带一根USB-C to USB-C的数据线，iPhone 15可以直接使用。"),
                     ("c", "OK")],
              wrap=["好的，那我下单了。"]),
            B(open=[["请问这款空气净化器适合多大的房间？"]],
              steps=[("c", "客厅大概30平米"),
                     ("L", None, "这款的CADR值是400立方米每小时，适用面积25到40平米，30平米的客厅可以覆盖。"),
                     ("c", "噪音大吗？"),
                     ("a", "睡眠模式下噪音只有28分贝，晚上开着基本听不到声音。")],
              wrap=["好的，我再考虑一下。", "好的，那我下单了。"]),
            B(open=[["这个手机壳能用在iPhone 15 Pro上吗"], ["你们家的东西是正品吗？"]],
              steps=[("c", "是正品吗？有保修吗？"),
                     ("a", "自营商品都是品牌官方直供的正品，支持全国联保一年。"),
                     ("c", "有现货吗？今天下单什么时候发？"),
                     ("L", None, "这款目前有现货，今天16点前下单当天出库，{city}地区预计明天送达。")],
              wrap=["好的，那我下单了。"]),
        ],
    ),
    "repair.install": dict(
        issue_type="售后维修与安装", brand="优品商城", phone_share=0.45, negative_opening=True, weight=1.5,
        products=["格力空调KFR-35GW", "海尔洗衣机EG100", "方太油烟机"],
        ack_emp=["非常抱歉给您带来不便，麻烦您提供一下订单号，这边马上为您跟进。", "非常抱歉，理解您的心情，这边马上为您安排。"],
        ack_neutral=["好的，麻烦您提供一下订单号和安装地址。"],
        ack_cold=["订单号和地址发一下。"],
        bodies=[
            B(open=[["我买的空调什么时候上门安装？"]],
              angry=[["约好今天上午安装，等了一上午没人来，电话也打不通，太过分了！"]],
              steps=[("c", "订单号{order}，地址{addr}"),
                     ("L", None, "安装工单已经派给当地服务网点，师傅会在24小时内电话联系您预约上门时间。"),
                     ("c", "安装要收费吗？"),
                     ("a", "标准安装是免费的，如果需要加长铜管或者打孔，会按照收费标准另外收取，师傅会提前告知。")],
              wrap=["好的，那我等师傅电话。"]),
            B(open=[["洗衣机用了三个月就不转了"]],
              angry=[["新买的洗衣机用了三个月就坏了，什么破质量，气死了！"]],
              steps=[("c", "开机以后指示灯闪，滚筒不转"),
                     ("a", "麻烦您说一下显示屏上的故障代码。"),
                     ("c", "显示E21"),
                     ("L", None, "E21是排水故障，可能是排水管堵塞。已经为您登记了上门维修，工单号{ticket}，师傅明天会联系您。"),
                     ("c", "维修要钱吗？"),
                     ("a", "商品在一年保修期内，非人为损坏的维修是免费的。")],
              wrap=["好的，那我等师傅电话。"]),
            B(open=[["{product}开不了机了，还在保修期内吗？"], ["空调装好以后一直不制冷"]],
              steps=[("c", "我手机号{phone}，你们师傅联系这个号码"),
                     ("L", None, "商品还在保修期内，已经为您登记了上门检修，联系电话更新为{phone}，师傅会在今天下午六点前联系您。"),
                     ("c", "好，我下午都在家")],
              wrap=["好的。"]),
        ],
    ),
    "member.account": dict(
        issue_type="账户与会员", brand="优品商城", phone_share=0.3, negative_opening=False, weight=1.2,
        products=["PLUS会员年卡"],
        ack_emp=["非常抱歉给您带来困扰，这边马上为您处理。"],
        ack_neutral=["好的，这边为您处理。"],
        ack_cold=["账号多少？"],
        bodies=[
            B(open=[["PLUS会员怎么取消自动续费？"]],
              angry=[["没经过我同意就自动扣了会员费，太过分了！"]],
              steps=[("c", "是在设置里关吗？"),
                     ("L", None, "在“我的-PLUS会员-会员设置”里找到“自动续费”，点击关闭就可以了，关闭后当前会员有效期不受影响。"),
                     ("c", "已经续费的这次能退吗？"),
                     ("a", "自动续费扣款后7天内未使用会员权益的话，可以申请退款，您还没有使用，已经帮您提交了退款申请。")],
              wrap=["好的，明白了。"]),
            B(open=[["我换手机号了，账号登录不上"]],
              steps=[("c", "原来的手机号{phone_old}不用了，新号是{phone}"),
                     ("a", "为了保障账户安全，需要先核验您的身份，麻烦提供一下实名认证的身份证号码。"),
                     ("c", "{idcard}"),
                     ("L", None, "身份已经核验通过，已经为您提交了换绑申请，新手机号会在10分钟内生效，之后可以用新号码登录。")],
              wrap=["好的，我试一下。"]),
            B(open=[["我的积分怎么少了？"]],
              steps=[("c", "积分上个月还有两千多，现在只剩三百了"),
                     ("L", None, "您有1800积分在11月1日到期自动清零了，积分有效期是获得后的一年。"),
                     ("c", "到期前有提醒吗？"),
                     ("a", "到期前一个月会通过短信和APP消息提醒，以后在积分页面可以看到即将过期的积分。")],
              wrap=["好的，明白了。"]),
        ],
    ),
    "complaint.agent": dict(
        issue_type="客服与投诉", brand="优品商城", phone_share=0.4, negative_opening=True, weight=0.4,
        products=["格力空调KFR-35GW", "华为MatePad 11平板"],
        ack_emp=["非常抱歉给您带来了不好的体验，理解您的心情，麻烦您说一下具体情况，这边认真记录。"],
        ack_neutral=[],
        ack_cold=["什么情况？"],
        bodies=[
            B(open=[["我要投诉昨天那个客服，态度太差了"]],
              angry=[["我要投诉！你们客服什么态度，气死了！😡"]],
              steps=[("c", "昨天问退款的事，客服说了一句“你自己看”就不理我了"),
                     ("a", "您反馈的情况这边已经详细记录，会提交给质检部门核实处理，核实后48小时内给您回复。"),
                     ("c", "那我的退款现在是什么情况？订单{order}"),
                     ("L", None, "退款已经审核通过，今天会原路退回到您的账户。")],
              wrap=["好的，那我等回复。"]),
            B(open=[["我投诉你们客服，问了三遍都没人回"]],
              steps=[("c", "客服说帮我加急，结果三天了也没有消息"),
                     ("L", None, "上次的加急工单还没有处理，已经重新为您提交并升级为优先处理，今天下午六点前会有专员给您回电。"),
                     ("c", "这次记得跟进"),
                     ("a", "这边会全程跟进，处理完成后第一时间告知您结果。")],
              wrap=["行，希望这次能解决。"]),
        ],
    ),
    "telecom.bill": dict(
        issue_type="其他", brand="星联通信", phone_share=0.85, negative_opening=True, weight=1.0,
        products=["129元畅享套餐"],
        ack_emp=["非常抱歉给您带来困扰，这边马上为您查询账单明细。", "理解您的心情，给您带来不便非常抱歉，这边为您核实扣费情况。"],
        ack_neutral=["好的，这边为您查询账单。"],
        ack_cold=["手机号多少？"],
        bodies=[
            B(open=[["你好，我这个月话费怎么扣了一百多？平时就五十几"]],
              angry=[["话费莫名其妙多扣了七十块，你们这是乱扣费，太过分了！"]],
              steps=[("c", "手机号{phone}"),
                     ("a", "为了保护您的信息安全，麻烦提供一下机主身份证号码。"),
                     ("c", "{idcard}"),
                     ("L", "好的，请您稍等，我帮您查询一下本月的账单明细。", "本月多出来的费用是国际漫游流量费68元，产生日期是11月8号。"),
                     ("c", "哦，那几天我在香港出差"),
                     ("a", "您当时没有开通漫游流量包，所以是按标准资费计费的。这边可以为您申请一次性减免一半，也就是34元，下个月账单返还。"),
                     ("c", "那行")],
              wrap=["好的，那就这样。"]),
            B(open=[["我没订过什么视频会员，每个月都在扣钱"]],
              angry=[["我从来没订过视频会员，每个月偷偷扣钱，太过分了！"]],
              steps=[("c", "手机号{phone}"),
                     ("L", None, "这个视频会员业务是10月12号通过短信验证码订购的，每月15元，已经为您退订，下个月起不再扣费。"),
                     ("c", "那之前扣的能退吗？"),
                     ("a", "这边为您申请退还最近两个月的费用共30元，3个工作日内返还到话费账户。")],
              wrap=["行，知道了。"]),
        ],
    ),
    "telecom.recharge": dict(
        issue_type="支付", brand="星联通信", phone_share=0.6, negative_opening=True, weight=0.8,
        products=["话费充值100元"],
        ack_emp=["非常抱歉给您带来不便，麻烦提供一下充值的手机号码，这边马上为您核实。"],
        ack_neutral=["好的，麻烦提供一下充值的手机号码。"],
        ack_cold=["号码多少？"],
        bodies=[
            B(open=[["我昨天充了100块话费，到现在还没到账"]],
              angry=[["充了话费一天了还没到，停机了都，气死了！"]],
              steps=[("c", "在你们APP上充的，手机号{phone}"),
                     ("L", None, "这笔充值因为运营商系统繁忙处于排队状态，预计2小时内到账，超过24小时未到账会自动退款。"),
                     ("c", "好的，那我晚点再看"),
                     ("a", "到账后会有短信提醒。")],
              wrap=["好的，那我再等等。"]),
            B(open=[["给家里老人充的话费一直没到账"]],
              steps=[("c", "号码是{phone}，付款记录显示成功了"),
                     ("L", None, "充值已经在刚才到账了，当前余额是103.5元，号码也已经恢复正常使用。"),
                     ("c", "好的，我看到短信了")],
              wrap=["好的，到账了。"]),
        ],
    ),
    "telecom.broadband": dict(
        issue_type="售后维修与安装", brand="星联通信", phone_share=0.85, negative_opening=True, weight=1.0,
        products=["300M光纤宽带"],
        ack_emp=["非常抱歉给您带来不便，这边马上为您排查。", "非常抱歉，理解您的心情，麻烦提供一下宽带账号，这边马上处理。"],
        ack_neutral=["好的，麻烦提供一下宽带账号和安装地址。"],
        ack_cold=["宽带账号多少？"],
        bodies=[
            B(open=[["我家宽带从昨天晚上就断了，一直连不上"]],
              angry=[["宽带断了两天了，打了三次电话都没人来修，烦死了！"]],
              steps=[("c", "宽带账号是{bb_account}，地址{addr}"),
                     ("a", "麻烦您观察光猫上的指示灯，LOS灯是不是红色在闪？"),
                     ("c", "对，红灯一直闪"),
                     ("L", "好的，请您稍等，我帮您查询一下线路状态。", "您家小区的线路正在抢修，预计今天下午五点前恢复，已经为您登记了故障单，恢复后会短信通知您。"),
                     ("c", "那这两天的网费怎么算？"),
                     ("a", "线路故障期间的费用会按天为您减免，下个月账单里自动扣除。")],
              wrap=["好的，那我等短信。"]),
            B(open=[["家里Wi-Fi特别慢，看视频一直卡"]],
              angry=[["网速慢得要命，交了300兆的钱只有十几兆，太差了！"]],
              steps=[("c", "主要是晚上特别慢"),
                     ("a", "您可以用手机连上Wi-Fi打开测速页面，告诉我一下下载速度是多少。"),
                     ("c", "测出来只有十几兆"),
                     ("L", None, "您办理的是300兆宽带，测速明显偏低，已经为您预约了装维师傅明天上午上门检测，师傅会提前电话联系您。")],
              wrap=["好的，那我等师傅电话。"]),
        ],
    ),
    "telecom.plan": dict(
        issue_type="账户与会员", brand="星联通信", phone_share=0.75, negative_opening=False, weight=0.8,
        products=["79元畅享套餐"],
        ack_emp=[],
        ack_neutral=["好的，这边为您看看合适的套餐。"],
        ack_cold=["现在什么套餐？"],
        bodies=[
            B(open=[["我想把套餐改成便宜一点的"]],
              steps=[("c", "现在是129的套餐，手机号{phone}"),
                     ("L", None, "您近三个月平均每月用流量12G、通话200分钟左右，推荐您办理79元套餐，包含20G流量和300分钟通话，完全够用。"),
                     ("c", "什么时候生效？"),
                     ("a", "套餐变更下个月1号生效，本月还是按原套餐计费。"),
                     ("c", "好的，那就办79的吧"),
                     ("a", "已经为您办理成功，稍后会收到短信确认。")],
              wrap=["好的。"]),
            B(open=[["流量老是不够用，有没有合适的流量包？"]],
              steps=[("c", "我每个月流量都超"),
                     ("L", None, "您可以办理每月30元的20G定向流量包，或者每月20元的10G通用流量包，本月办理立即生效。"),
                     ("c", "通用的吧"),
                     ("a", "已经为您开通10G通用流量包，立即生效，次月起自动续订，可以随时退订。")],
              wrap=["好的，谢谢。"]),
        ],
    ),
    "other.enterprise": dict(
        issue_type="其他", brand="优品商城", phone_share=0.3, negative_opening=False, weight=0.7,
        products=["联想ThinkPad E14笔记本", "华为MateBook 14笔记本", "戴尔Latitude 5440笔记本"],
        ack_emp=[],
        ack_neutral=["好的，这边为您解答。", "可以的，请问具体是什么需求呢？"],
        ack_cold=["什么需求？"],
        bodies=[
            B(open=[["你好，我们公司想批量采购一批笔记本电脑，有企业价吗？"]],
              steps=[("c", "大概50台，{product}"),
                     ("L", None, "50台以上可以走企业采购通道，享受企业专享价，并且支持对公转账和开具增值税专用发票。"),
                     ("c", "怎么联系企业采购？"),
                     ("a", "麻烦留一下联系人电话和邮箱，企业采购经理会在一个工作日内联系您。"),
                     ("c", "电话{phone}，邮箱{email}，姓{surname}")],
              wrap=["好的，那我等电话。"]),
            B(open=[["想问一下商家入驻需要什么资料"]],
              steps=[("c", "我们是做茶叶的"),
                     ("a", "入驻需要准备营业执照、食品经营许可证、品牌授权书或商标注册证，以及法人身份证件。"),
                     ("c", "保证金要多少？"),
                     ("L", None, "茶叶类目的保证金是1万元，平台使用费每年6000元，具体以入驻页面显示为准。")],
              wrap=["好的，我准备一下资料。"]),
        ],
    ),
}

# =====================================================================================================
# Composer: plans → conversations. Nothing below holds dialogue text of its own beyond glue.
# =====================================================================================================

SEED = 20261120
OUT = Path(__file__).resolve().parent
CST = timezone(timedelta(hours=8))
CORE_RULES = [
    "greeting.missing", "closing.missing", "forbidden.phrase", "empathy.missing", "hold.no_apology",
    "response.first_slow", "response.slow", "complaint.risk", "praise",
]
# thresholds of pipeline/defaults.yaml (the samples are written against them)
FIRST_SLA = {"chat": 30.0, "phone": 60.0}
REPLY_SLA = {"chat": 60.0, "phone": 90.0}
HOLD_S = 60.0

_T2S = opencc.OpenCC("t2s")
_S2T = opencc.OpenCC("s2t")

# ---------------------------------------------------------------------------------------------
# Reference cue lists for the self-check. NARROW = what any sensible lexicon surely holds (a
# planned hit must contain one); BROAD = anything a lexicon might plausibly hold (a conversation
# planned clean for a rule must not contain one where it would count). Normalized, simplified.
# ---------------------------------------------------------------------------------------------
GREET_N = ["您好", "你好", "亲", "早上好", "很高兴为您服务", "请问有什么可以帮您", "有什么问题我可以帮您处理或解决呢"]
GREET_B = GREET_N + ["上午好", "中午好", "下午好", "晚上好", "欢迎", "很高兴", "为您服务", "有什么可以帮", "请问有什么",
                     "在的", "hello", "hi", "哈喽", "嗨", "工号"]
CLOSE_N = ["还有其他可以帮您的吗", "还有其他问题吗", "感谢您的咨询", "感谢您的来电", "祝您生活愉快", "再见", "祝您购物愉快",
           "随时联系我们"]
CLOSE_B = CLOSE_N + ["还有其他", "还有什么", "其他问题", "感谢您", "谢谢您", "祝您", "愉快", "拜拜", "欢迎再次", "欢迎下次",
                     "随时联系", "随时咨询", "有问题可以", "评价", "满意", "不打扰"]
FORBID_N = ["你明白吗", "我再跟您说一遍", "你什么意思", "你先听我说完好不好", "你知道吗", "不归我管", "爱买不买", "你自己看",
            "神经病", "你有病吧"]
FORBID_FATAL = ["神经病", "你有病吧"]
FORBID_B = FORBID_N + ["明白吗", "懂吗", "听懂", "说一遍", "说过了", "不是说了", "什么意思", "听我说完", "知道吗", "不归我",
                       "不关我", "自己看", "自己去", "自己查", "有病", "滚", "不知道", "不清楚", "没办法", "不可能", "不行",
                       "规定", "没用", "随便", "怎么这么", "你怎么", "没空", "找别人", "不是我们", "我说了", "管不了", "没时间",
                       "自己", "急什么", "着什么急", "等着吧", "催也没用", "你去", "听不懂", "笨"]
EMP_N = ["非常抱歉", "抱歉", "理解您的心情", "理解您", "给您带来不便", "不好意思"]
EMP_B = EMP_N + ["对不起", "理解", "不便", "放心", "别着急", "别急", "着急", "辛苦", "见谅", "歉意", "久等", "感谢您的耐心",
                 "心情", "体谅", "安心", "谅解", "担心", "困扰", "感谢您的理解"]
NEG_N = ["太差了", "气死了", "还没到", "太过分了", "烦死了", "😡", "什么破", "无语"]
NEG_B = NEG_N + ["太差", "差劲", "垃圾", "气死", "生气", "愤怒", "过分", "烦死", "崩溃", "失望", "投诉", "12315", "曝光",
                 "消协", "领导", "怎么回事", "坑", "骗", "恶心", "离谱", "着急", "急死", "难受", "不满", "差评", "算了",
                 "指望不上", "到底", "怎么还", "为什么还", "这么久", "😠", "🤬", "什么态度", "怎么这么", "一周", "半个月",
                 "莫名其妙", "乱扣", "停机", "没人", "困扰"]
HOLD_N = ["请稍等", "稍等", "查询一下"]
HOLD_B = HOLD_N + ["稍候", "等一下", "等一等", "查一下", "看一下", "核实一下", "确认一下", "帮您查", "帮您看", "帮您核实",
                   "马上查", "请等待", "别挂"]
RET_N = ["感谢您的耐心等待", "让您久等了"]
RET_B = RET_N + ["久等", "耐心等待", "等待", "感谢您的耐心", "抱歉", "不好意思"]
COMPL_N = ["投诉", "12315", "曝光", "找你们领导", "消协"]
COMPL_B = COMPL_N + ["12345", "领导", "消费者协会", "工商", "媒体", "举报", "差评", "起诉", "律师", "法院", "维权", "315晚会",
                     "上级", "主管", "经理"]
NEGATION_CUES = ["不是要", "没想", "不会", "不想", "没说要", "不打算", "并不是", "不是想", "没打算"]
PRAISE_N = ["服务很好", "很专业", "点赞", "五星好评"]
PRAISE_B = PRAISE_N + ["服务好", "专业", "好评", "满意", "耐心", "态度好", "态度很好", "态度真好", "太棒", "真棒", "给力",
                       "厉害", "表扬", "周到", "辛苦了", "👍", "感谢你", "谢谢你"]

_GAP = re.compile(r"(?<=[\u4e00-\u9fff])[\s*~·•_^|/\u200b\u200c\u200d\ufeff]+(?=[\u4e00-\u9fff])")


def norm(text: str) -> str:
    """What the pipeline's normalize stage is specified to do (SPEC / LEXICONS.md)."""
    s = _T2S.convert(text).replace("妳", "你")  # OpenCC's t2s leaves 妳 alone
    s = unicodedata.normalize("NFKC", s).lower()
    return _GAP.sub("", s)


def has(text: str, cues) -> bool:
    n = norm(text)
    return any(c in n for c in cues)


def complaint_hits(text: str, cues, cue_window: int) -> bool:
    """A complaint cue not negated: no negation cue ending at most cue_window chars before it in
    the same clause."""
    n = norm(text)
    for c in cues:
        start = n.find(c)
        while start >= 0:
            end = start + len(c)
            if c.isdigit() and ((start and n[start - 1].isdigit()) or (end < len(n) and n[end].isdigit())):
                start = n.find(c, start + 1)  # 12315 inside a longer number is not the hotline
                continue
            clause = re.split(r"[,，。.!！?？;；]", n[:start])[-1]
            negated = False
            for neg in NEGATION_CUES:
                k = clause.find(neg)
                while k >= 0:
                    if len(clause) - (k + len(neg)) <= cue_window:
                        negated = True
                    k = clause.find(neg, k + 1)
            if not negated:
                return True
            start = n.find(c, start + 1)
    return False


# ---------------------------------------------------------------------------------------------
# PII generators (valid check digits, so masking has something real to find)
# ---------------------------------------------------------------------------------------------
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def make_id_card(rng) -> str:
    birth = datetime(1965, 1, 1) + timedelta(days=rng.randrange(0, 365 * 38))
    first17 = f"{rng.choice(ID_REGIONS)}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return first17 + id_check_digit(first17)


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d)
        if i % 2 == 0:  # the digit left of the (future) check digit is doubled
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, n in enumerate(reversed(digits)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def make_bank_card(rng, prefix: str, spaced: bool) -> str:
    length = rng.choice([16, 19])
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    card = body + luhn_check_digit(body)
    assert luhn_ok(card), card
    if spaced:
        card = " ".join(card[i:i + 4] for i in range(0, len(card), 4))
    return card


def make_phone(rng) -> str:
    return rng.choice(["13", "15", "17", "18", "19"]) + str(rng.randrange(0, 10)) + f"{rng.randrange(0, 10**8):08d}"


PII_KIND = {"phone": "phone", "phone_old": "phone", "phone2": "phone", "idcard": "id_card", "card": "bank_card",
            "email": "email", "addr": "address"}

# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


@dataclass
class Plan:
    rules: set
    mods: set = field(default_factory=set)
    channel: str | None = None
    scenario: str | None = None

    def __post_init__(self):
        self.rules, self.mods = set(self.rules), set(self.mods)


def build_plans(rng) -> list[Plan]:
    plans: list[Plan] = []

    def add(n, rules=(), mods=(), channel=None, scenario=None):
        for _ in range(n):
            plans.append(Plan(set(rules), set(mods), channel, scenario))

    # ---- clean (no deduction; praise is a bonus) -- about 40 %
    add(27)
    add(10, {"praise"})
    add(12, {"praise"}, {"angry_open"})                 # starts negative, ends positive
    add(4, (), {"angry_open"})                          # angry customer, agent empathises
    add(5, (), {"angry_mid"})
    add(9, (), {"hold_return"})                         # long hold, agent thanks for waiting
    add(6, (), {"negated"})                             # 我不是要投诉 …
    add(5, (), {"bot"}, "chat")                         # bot auto-reply, human agent fast
    add(4, (), {"ivr", "first_45"}, "phone")            # 45 s first reply: fine on the phone
    add(1, (), {"first_30"}, "chat")                    # exactly at the SLA: not later than it
    add(1, (), {"first_28"}, "chat")
    add(2, {"praise"}, {"trad"}, "chat")
    add(2, (), {"trad"}, "chat")
    add(2, (), {"customer_forbidden"})                  # the customer says 你知道吗: not the agent
    # ---- hits
    add(8, {"greeting.missing"})
    add(3, {"greeting.missing"}, {"bot"}, "chat")       # the bot greets, the agent doesn't
    add(3, {"greeting.missing"}, (), "phone")
    add(3, {"greeting.missing", "closing.missing"})
    add(8, {"closing.missing"})
    add(3, {"closing.missing"}, (), "phone")
    add(2, {"closing.missing", "praise"})
    add(7, {"forbidden.phrase"})
    add(3, {"forbidden.phrase"}, {"spaced"}, "chat")
    add(2, {"forbidden.phrase"}, {"trad"}, "chat")
    add(3, {"forbidden.phrase"}, {"listen"}, "phone")
    add(2, {"forbidden.phrase"}, {"price_forbid"})
    add(4, {"forbidden.phrase"}, {"fatal"})
    add(2, {"forbidden.phrase", "empathy.missing"}, {"react"})
    add(1, {"forbidden.phrase"}, {"fullwidth_forbid"}, "chat")
    add(6, {"empathy.missing"}, {"angry_open"})
    add(5, {"empathy.missing"}, {"angry_mid"})
    add(2, {"empathy.missing", "complaint.risk"}, {"complaint_angry"})
    add(9, {"hold.no_apology"})
    add(4, {"hold.no_apology"}, (), "phone")
    add(5, {"response.first_slow"}, (), "chat")
    add(4, {"response.first_slow"}, {"bot"}, "chat")
    add(4, {"response.first_slow"}, {"ivr"}, "phone")
    add(1, {"response.first_slow"}, {"first_32"}, "chat")
    add(8, {"response.slow"})
    add(4, {"response.slow"}, (), "phone")
    add(2, {"response.slow", "praise"})
    add(6, {"complaint.risk"})
    add(4, {"complaint.risk"}, (), None, "complaint.agent")
    add(2, {"complaint.risk"}, {"spaced_complaint"}, "chat")
    add(2, {"complaint.risk"}, (), "phone")
    pool = ["greeting.missing", "closing.missing", "forbidden.phrase", "empathy.missing", "hold.no_apology",
            "response.first_slow", "response.slow", "complaint.risk"]
    for k in [2] * 6 + [3] * 3:
        rules = set(rng.sample(pool, k))
        mods = set()
        if "empathy.missing" in rules:
            mods.add(rng.choice(["angry_open", "angry_mid"]))
        if "forbidden.phrase" in rules and rng.random() < 0.3:
            mods.add("fatal")
        plans.append(Plan(rules, mods))
    return plans


def finalize_plan(plan: Plan, rng) -> None:
    """Choose channel, scenario and cosmetic modifiers the case list left open."""
    m = plan.mods
    if plan.channel is None:
        if m & {"spaced", "trad", "bot", "fullwidth_forbid", "spaced_complaint", "first_30", "first_28", "first_32"}:
            plan.channel = "chat"
        elif m & {"ivr", "listen"}:
            plan.channel = "phone"
    if plan.scenario is None:
        candidates = []
        for key, sc in SCENARIOS.items():
            if key == "complaint.agent" and "complaint.risk" not in plan.rules:
                continue
            if "angry_open" in m and not any(b.get("angry") for b in sc["bodies"]):
                continue
            if "price_forbid" in m and key not in ("price.protect", "coupon", "product.consult"):
                continue
            if plan.channel == "phone" and sc["phone_share"] < 0.2:
                continue
            candidates.append(key)
        weights = [SCENARIOS[k]["weight"] for k in candidates]
        plan.scenario = rng.choices(candidates, weights)[0]
    sc = SCENARIOS[plan.scenario]
    if plan.channel is None:
        plan.channel = "phone" if rng.random() < sc["phone_share"] else "chat"
    if "empathy.missing" in plan.rules and not m & {"angry_open", "angry_mid", "react", "complaint_angry"}:
        m.add("angry_mid")
    if "angry_open" in m and not any(b.get("angry") for b in sc["bodies"]):
        m.discard("angry_open")
        m.add("angry_mid")
    if "fatal" in m and plan.scenario in ("price.protect", "coupon", "product.consult") and rng.random() < 0.5:
        m.add("price_forbid")
    # cosmetics
    if rng.random() < 0.25:
        m.add("iso")
    if rng.random() < 0.35:
        m.add("pii")  # prefer a body where the customer gives personal data
    if plan.channel == "chat":
        if rng.random() < 0.12 and "trad" not in m:
            m.add("fullwidth")
        if rng.random() < 0.15:
            m.add("sys_start")
        if rng.random() < 0.3:
            m.add("sys_end")
        if rng.random() < 0.15 and not m & {"bot", "first_30", "first_28", "first_32"}:
            m.add("bot")
    elif "ivr" not in m and "response.first_slow" not in plan.rules and rng.random() < 0.25:
        m.add("ivr")
    if plan.channel == "phone" and "response.first_slow" in plan.rules:
        m.add("ivr")


# ---------------------------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    role: str
    text: str
    kind: str
    tags: dict = field(default_factory=dict)
    ts: float = 0.0
    end_ts: float | None = None


class Filler:
    """Fills {placeholders}; remembers which PII kinds it put in."""

    def __init__(self, values: dict):
        self.values = values
        self.pii: set[str] = set()

    def __call__(self, template: str) -> str:
        for name in re.findall(r"\{(\w+)\}", template):
            if name in PII_KIND:
                self.pii.add(PII_KIND[name])
        return template.format_map(self.values)


def make_values(rng, plan: Plan, agent, started: datetime) -> dict:
    sc = SCENARIOS[plan.scenario]
    bank, prefix = rng.choice(BANKS)
    surname = rng.choice(SURNAMES)
    order_day = started - timedelta(days=rng.randrange(2, 9))
    amount = rng.choice([29, 39, 59, 99, 128, 199, 259, 299, 349, 499, 899, 1299, 2399, 4999])
    return {
        "order": f"JD{order_day:%Y%m%d}{rng.randrange(10**4, 10**6)}",
        "product": rng.choice(sc["products"]),
        "date": f"{order_day.month}月{order_day.day}号",
        "date2": f"{(started + timedelta(days=1)).month}月{(started + timedelta(days=1)).day}号",
        "city": rng.choice(CITIES),
        "ticket": f"FW{rng.randrange(10**9, 10**10)}",
        "tracking": rng.choice(["SF", "YT", "ZTO"]) + str(rng.randrange(10**11, 10**13)),
        "phone": make_phone(rng),
        "phone_old": make_phone(rng),
        "phone2": make_phone(rng),
        "idcard": make_id_card(rng),
        "card": make_bank_card(rng, prefix, spaced=rng.random() < 0.3),
        "bank": bank,
        "email": f"{rng.choice(EMAIL_USERS)}{rng.randrange(1, 99)}@{rng.choice(EMAIL_HOSTS)}",
        "addr": rng.choice(ADDRESSES),
        "surname": surname,
        "fullname": surname + rng.choice(GIVEN),
        "company": rng.choice(COMPANIES),
        "taxid": rng.choice(TAX_IDS),
        "amount": amount,
        "freight": rng.choice([8, 10, 12, 15]),
        "amount2": rng.choice([268, 279, 285, 296]),
        "diff": rng.choice([50, 80, 100, 150, 200, 300]),
        "coupon": rng.choice([10, 20, 30, 50]),
        "bb_account": f"0571{rng.randrange(10**7, 10**8)}",
        "nick": agent[3],
        "code": agent[0][1:] if plan.channel == "chat" else str(9000 + int(agent[0][1:])),
        "brand": sc["brand"],
    }


def pick_agent(rng, plan: Plan):
    team = "热线服务组" if plan.channel == "phone" or plan.scenario.startswith("telecom") else (
        "售前咨询组" if plan.scenario in ("price.protect", "coupon", "payment.fail", "order.modify", "product.consult",
                                      "member.account", "other.enterprise") else "售后服务组")
    agents = [a for a in AGENTS if a[2] == team]
    weak = {"A003", "A006", "A011"}  # a few agents collect more findings, so per-agent reports show something
    hit = bool(plan.rules - {"praise"})
    weights = [(2.5 if hit else 0.6) if a[0] in weak else 1.0 for a in agents]
    return rng.choices(agents, weights)[0]


def compose(cid: str, plan: Plan, attempt: int) -> tuple[dict, list[Step], set]:
    rng = random.Random(f"{SEED}:{cid}:{attempt}")
    sc = SCENARIOS[plan.scenario]
    ch, R, m = plan.channel, plan.rules, plan.mods
    agent = pick_agent(random.Random(f"{SEED}:{cid}:agent"), plan)
    day = datetime(2026, 11, 18, tzinfo=CST) + timedelta(days=rng.randrange(7))
    started = day.replace(hour=rng.randrange(8, 22), minute=rng.randrange(60), second=rng.randrange(60))
    fill = Filler(make_values(rng, plan, agent, started))
    trad = "trad" in m
    steps: list[Step] = []

    def S(role, text, kind, **tags):
        steps.append(Step(role, fill(text), kind, tags))

    def ok_text(t: str) -> bool:
        return ch == "chat" or "[" not in t

    # ---- body first: its openings and wrap-ups belong to it
    angry_open = "angry_open" in m

    def fits(b):
        texts = [x for st in b["steps"] for x in st[1:] if x]
        return all(ok_text(x) for x in texts) and (b.get("angry") if angry_open else True)

    bodies = [b for b in sc["bodies"] if fits(b)]
    if "pii" in m:
        bodies = [b for b in bodies if any(re.search(r"\{(%s)\}" % "|".join(PII_KIND), x or "")
                                           for st in b["steps"] for x in st[1:])] or bodies
    chosen = rng.choice(bodies)
    body = list(chosen["steps"])
    openings = chosen["angry"] if angry_open else [o for o in chosen["open"] if all(ok_text(t) for t in o)]
    opening = list(rng.choice(openings))
    emp_open_hit = "empathy.missing" in R and angry_open
    if "greeting.missing" in R:
        greet = rng.choice(NO_GREET_PHONE if ch == "phone" else NO_GREET_CHAT)
        skip_greet = ch == "chat" and rng.random() < 0.4
    else:
        skip_greet = False
        if trad:
            greet = rng.choice(GREET_TRAD)
        elif ch == "phone":
            greet = rng.choice(GREET_PHONE)
        elif started.hour < 11 and rng.random() < 0.4:
            greet = rng.choice(GREET_MORNING)
        else:
            greet = rng.choice(GREET_CHAT)
    gave_order = any("{order}" in t for t in opening)

    def acks(key, fallback):
        lines = [a for a in sc[key] if not (gave_order and "订单号" in a)]
        return lines or fallback

    if emp_open_hit:
        ack = rng.choice(acks("ack_cold", ACK_COLD_GENERIC))
    elif angry_open or (sc["negative_opening"] and sc["ack_emp"]) or not sc["ack_neutral"]:
        ack = rng.choice(acks("ack_emp", ACK_EMP_GENERIC))
    elif rng.random() < 0.3 and sc["ack_emp"]:
        ack = rng.choice(acks("ack_emp", ACK_EMP_GENERIC))
    else:
        ack = rng.choice(acks("ack_neutral", ACK_NEUTRAL_GENERIC))

    if ch == "phone":
        if "ivr" in m:
            S("system", rng.choice(IVR_LINES), "ivr")
            S("customer", rng.choice(PHONE_HELLO), "hello")
            S("agent", greet, "greet", first=True)
            for t in opening:
                S("customer", t, "open")
        else:
            S("agent", greet, "greet")
            for i, t in enumerate(opening):
                hello = i == 0 and not t.startswith("你好") and rng.random() < 0.4
                S("customer", ("喂，你好，" + t) if hello else t, "open")
        S("agent", ack, "ack")
    else:
        if "sys_start" in m:
            S("system", rng.choice(SYSTEM_START), "sys")
        if rng.random() < 0.3:
            S("customer", rng.choice(CHAT_PRELUDE), "open")
        for t in opening:
            S("customer", t, "open")
        if "bot" in m:
            # the auto-reply answers the first customer message
            first_c = next(i for i, s in enumerate(steps) if s.role == "customer")
            steps.insert(first_c + 1, Step("bot", fill(rng.choice(BOT_LINES)), "bot"))
        if not skip_greet:
            S("agent", greet, "greet", first=True)
            S("agent", ack, "ack")
        else:
            S("agent", ack, "ack", first=True)

    # ---- injections: (steps, may it come right after the ack?)
    injections: list[tuple[list[tuple], bool]] = []
    if "forbidden.phrase" in R:
        want = set()
        for tag in ("spaced", "trad", "fatal", "fullwidth_forbid"):
            if tag in m:
                want.add("fullwidth" if tag == "fullwidth_forbid" else tag)
        if "listen" in m:
            want.add("phone")
        if "price_forbid" in m:
            want.add("price")
        cands = [f for f in FORBIDDEN if f[1] == want] or [f for f in FORBIDDEN if want <= f[1]]
        line, _, prompts = rng.choice(cands)
        pair = [("c", rng.choice(prompts), "fb_c", {"interrupt": "listen" in m}), ("a", line, "forbid", {})]
        if "react" in m or "fatal" in m:  # an insult doesn't go unanswered
            cold = "empathy.missing" in R and "react" in m
            reply = rng.choice(COLD) if cold else rng.choice(APOLOGY_AFTER_FORBID)
            pair += [("c", rng.choice(REACT), "angry", {}), ("a", reply, "cold" if cold else "emp", {})]
        injections.append((pair, False))
    if "angry_mid" in m:
        reply = rng.choice(COLD) if "empathy.missing" in R else rng.choice(EMP_MID)
        injections.append(([("c", rng.choice(ANGRY_MID), "angry", {}),
                            ("a", reply, "cold" if "empathy.missing" in R else "emp", {})], False))
    if "complaint.risk" in R and plan.scenario != "complaint.agent" or "complaint_angry" in m:
        if "complaint_angry" in m:
            line = rng.choice(COMPLAINT_ANGRY)
        elif "spaced_complaint" in m:
            line = rng.choice(COMPLAINT_SPACED)
        elif ch == "phone":
            line = rng.choice(COMPLAINT_PHONE + COMPLAINT)
        else:
            line = rng.choice(COMPLAINT)
        cold = "empathy.missing" in R and ("complaint_angry" in m)
        injections.append(([("c", line, "complaint", {}),
                            ("a", rng.choice(COLD_COMPLAINT if cold else EMP_COMPLAINT), "cold" if cold else "emp", {})],
                           False))
    if "negated" in m:
        injections.append(([("c", rng.choice(NEGATED), "negated", {}), ("a", rng.choice(EMP_NEGATED), "emp", {})], False))
    if "customer_forbidden" in m:
        c, a = rng.choice(CUSTOMER_FORBIDDEN)
        injections.append(([("c", c, "cust_forbid", {}), ("a", a, "body", {})], True))

    # boundaries: right after the ack (0), or after an agent step of the body. Anger, complaints and
    # follow-up questions need something to react to, so they come after the agent has said something.
    later = [i + 1 for i, s in enumerate(body) if s[0] in ("a", "L")]
    placed: dict[int, list] = {}
    for inj, early_ok in injections:
        placed.setdefault(rng.choice(([0] if early_ok else []) + later), []).append(inj)
    hold_mode = "hit" if "hold.no_apology" in R else ("return" if "hold_return" in m else "quick")
    for i in range(len(body) + 1):
        for inj in placed.get(i, []):
            for role, text, kind, tags in inj:
                S("customer" if role == "c" else "agent", text, kind, **tags)
        if i == len(body):
            break
        step = body[i]
        if step[0] == "c":
            S("customer", step[1], "body")
        elif step[0] == "a":
            S("agent", step[1], "body")
        else:
            hold_line = step[1] or rng.choice(HOLD_LINES)
            S("agent", hold_line, "hold")
            if ch == "phone" and rng.random() < 0.6:
                S("customer", rng.choice(HOLD_ACK_PHONE), "hold_ack")
            result = step[2]
            if hold_mode == "return" or (hold_mode == "quick" and rng.random() < 0.15):
                result = rng.choice(RETURN_PREFIX) + result
            S("agent", result, "result", hold=hold_mode)

    # ---- wrap-up and closing
    if "praise" in R:
        wrap = rng.choice(WRAP_PRAISE_PHONE if ch == "phone" else WRAP_PRAISE)
        end_sent = "positive"
    elif R & {"empathy.missing", "complaint.risk"} or "fatal" in m or (R - {"praise"} and rng.random() < 0.3):
        wrap = rng.choice(WRAP_NEGATIVE)
        end_sent = "negative"
    else:
        wrap = rng.choice(chosen.get("wrap", []) * 2 + WRAP_NEUTRAL)
        end_sent = "neutral"
    S("customer", wrap, "wrap")
    if "closing.missing" in R:
        style = rng.random()
        if style < 0.6:
            S("agent", rng.choice(CURT_PHONE if ch == "phone" else CURT_CHAT), "curt")
        elif style < 0.8 and ch == "phone":
            S("agent", rng.choice(CURT_PHONE), "curt")
            S("customer", "喂？喂？", "end")
        # else: the customer has the last word, the agent never closes
    else:
        closing = rng.choice(CLOSE_TRAD if trad else (CLOSE_PHONE if ch == "phone" else CLOSE_CHAT))
        for role, text in closing:
            S("customer" if role == "c" else "agent", text, "close")
    if ch == "chat" and "sys_end" in m:
        S("system", rng.choice(SYSTEM_END), "sys")

    # ---- slow reply: one agent reply after a customer turn, not the first response
    if "response.slow" in R:
        first_agent = next(i for i, s in enumerate(steps) if s.role == "agent" and (
            any(p.role == "customer" for p in steps[:i])))
        cands = [i for i, s in enumerate(steps) if s.role == "agent" and i > first_agent and steps[i - 1].role == "customer"
                 and s.kind in ("body", "emp", "forbid", "cold", "result", "hold")]
        prefer = [i for i in cands if steps[i].kind == "body"] or cands
        steps[rng.choice(prefer)].tags["slow"] = True

    # ---- surface forms
    if ch == "phone":
        for s in steps:  # a transcript has no emoji or chat markup
            s.text = re.sub(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]\ufe0f?|～", "", s.text).strip() or s.text
    if trad:
        for s in steps:
            if s.role in ("customer", "agent") and s.kind not in ("greet",):
                s.text = _S2T.convert(s.text)
                if s.role == "customer" and rng.random() < 0.5:
                    s.text = s.text.replace("你", "妳")
    if "fullwidth" in m:
        cands = [s for s in steps if s.role == "customer" and re.search(r"[A-Za-z0-9]", s.text)]
        for s in rng.sample(cands, min(2, len(cands))):
            s.text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s.text)  # IME full-width mode

    timing(steps, plan, rng)
    labels = {
        "issue_type": sc["issue_type"],
        "sentiment": end_sent,
        "sentiment_start": "negative" if (angry_open or plan.scenario == "complaint.agent") else "neutral",
        "scenario": plan.scenario,
    }
    if fill.pii:
        labels["pii"] = sorted(fill.pii)
    rec = {
        "id": cid,
        "channel": ch,
        "started_at": started.isoformat(),
        "agent": {"id": agent[0], "name": agent[1], "team": agent[2]},
        "customer": {"id": f"U{rng.randrange(10000, 99999)}"},
        "turns": [],
    }
    iso = "iso" in m
    for s in steps:
        t = {"role": s.role, "text": s.text}
        if iso:
            t["ts"] = iso_ts(started, s.ts, ch)
            if s.end_ts is not None:
                t["end_ts"] = iso_ts(started, s.end_ts, ch)
        else:
            t["ts"] = round(s.ts, 1)
            if s.end_ts is not None:
                t["end_ts"] = round(s.end_ts, 1)
        rec["turns"].append(t)
    rating = make_rating(rng, plan, end_sent)
    if rating:
        rec["rating"] = rating
    rec["labels"] = labels
    return rec, steps, set(R)


def iso_ts(started: datetime, seconds: float, ch: str) -> str:
    when = started + timedelta(seconds=round(seconds, 3) if ch == "phone" else round(seconds))
    if ch == "phone":
        return when.isoformat(timespec="milliseconds")
    return when.isoformat()


def make_rating(rng, plan: Plan, end_sent: str) -> dict | None:
    if rng.random() < 0.15:
        return None
    bad = sorted(plan.rules - {"praise"})
    if not bad:
        score = 5 if rng.random() < 0.7 else 4
        comment = rng.choice(RATING_GOOD)
        return {"score": score, "comment": comment} if comment else {"score": score}
    serious = set(bad) & {"forbidden.phrase", "empathy.missing", "complaint.risk", "response.slow", "hold.no_apology"}
    if serious or end_sent == "negative":
        score = rng.choice([1, 1, 2, 2, 3])
    else:
        score = rng.choice([3, 4, 4, 5])
    comment = rng.choice(RATING_BAD[rng.choice(bad)]) if score <= 3 else rng.choice(["", "还行"])
    return {"score": score, "comment": comment} if comment else {"score": score}


def _u(rng, a, b):
    return rng.uniform(a, b)


def timing(steps: list[Step], plan: Plan, rng) -> None:
    """Give every turn a time: seconds from the conversation start (end_ts too on the phone)."""
    ch, R, m = plan.channel, plan.rules, plan.mods
    phone = ch == "phone"
    first_c = next(i for i, s in enumerate(steps) if s.role == "customer")
    first_resp = next(i for i, s in enumerate(steps) if s.role == "agent" and i > first_c)
    last_hold = None
    for i, s in enumerate(steps):
        dur = round(max(0.8, len(s.text) * _u(rng, 0.22, 0.3)), 1) if phone else None
        prev = steps[i - 1] if i else None
        prev_end = (prev.end_ts if phone else prev.ts) if prev else 0.0
        if i == 0:
            t = _u(rng, 0.3, 1.5) if (phone and s.role == "agent") else 0.0
        elif s.role == "customer":
            if phone:
                if prev.role == "agent" and (s.tags.get("interrupt") or (rng.random() < 0.1 and len(prev.text) > 14
                                                                          and prev.kind not in ("hold",))):
                    t = prev_end - _u(rng, 0.6, 1.5)  # the customer talks over the agent
                else:
                    t = prev_end + _u(rng, 0.3, 1.5)
            else:
                t = prev.ts + (_u(rng, 3, 12) if prev.role == "customer" else _u(rng, 5, 22))
        elif s.role in ("bot", "system"):
            t = prev_end + _u(rng, 0.5, 2.0)
        else:  # agent
            run = []
            j = i - 1
            while j >= 0 and steps[j].role != "agent":
                if steps[j].role == "customer":
                    run.append(steps[j])
                j -= 1
            run.reverse()
            if i == first_resp:
                c0 = steps[first_c]
                if "response.first_slow" in R:
                    if phone:
                        t = max(c0.ts + _u(rng, 68, 85), c0.end_ts + 63)
                    elif "first_32" in m:
                        t = c0.ts + 32.0
                    else:
                        t = max(c0.ts + _u(rng, 35, 55), run[-1].ts + 31)
                elif "first_30" in m:
                    t = c0.ts + 30.0
                elif "first_28" in m:
                    t = c0.ts + 28.0
                elif "first_45" in m:
                    t = c0.ts + _u(rng, 40, 55)
                else:
                    t = max(c0.ts + _u(rng, 3, 20), prev_end + _u(rng, 1, 4)) if not phone else prev_end + _u(rng, 1, 4)
            elif s.kind == "result" and last_hold is not None:
                h = steps[last_hold]
                mode = s.tags["hold"]
                h_end = h.end_ts if phone else h.ts
                if mode == "quick":
                    t = h_end + _u(rng, 8, 40)
                elif phone and prev.role == "customer":  # the customer said 好的 during the hold
                    t = h_end + _u(rng, 66, 84)
                else:
                    t = h_end + (_u(rng, 70, 150) if mode == "return" else _u(rng, 75, 240))
            elif run:
                if s.tags.get("slow"):
                    t = (run[-1].end_ts if phone else run[-1].ts) + (_u(rng, 100, 160) if phone else _u(rng, 80, 400))
                elif phone:
                    t = run[-1].end_ts + _u(rng, 0.4, 2.5)
                else:
                    t = max(run[0].ts + _u(rng, 4, 20), prev.ts + _u(rng, 2, 6))
            else:
                t = prev_end + (_u(rng, 0.3, 1.0) if phone else _u(rng, 3, 12))
            if s.kind == "hold":
                last_hold = i
        if i:
            t = max(t, prev.ts + 0.3)  # talking over someone never puts a turn before theirs
        s.ts = round(t, 1)
        if phone:
            s.end_ts = round(s.ts + dur, 1)


# ---------------------------------------------------------------------------------------------
# Self-check: a small reference reading of the core rules, run on the finished record
# ---------------------------------------------------------------------------------------------


def _seconds(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return datetime.fromisoformat(v).timestamp()


def evaluate(rec: dict) -> tuple[set, set]:
    """(surely fires, possibly fires) for every core rule, under strict and loose readings of the
    cue lists and of the timing definitions. A planned rule must be sure; an unplanned one must not
    be possible."""
    ch = rec.get("channel") or "chat"
    turns = rec["turns"]
    base = _seconds(turns[0].get("ts")) or 0.0
    T = [(_seconds(t.get("ts")) - base) if t.get("ts") is not None else None for t in turns]
    E = [(_seconds(t.get("end_ts")) - base) if t.get("end_ts") is not None else T[i] for i, t in enumerate(turns)]
    A = [i for i, t in enumerate(turns) if t["role"] == "agent"]
    C = [i for i, t in enumerate(turns) if t["role"] == "customer"]
    txt = [t["text"] for t in turns]
    sure, poss = set(), set()

    def both(rule, s, p):
        if s:
            sure.add(rule)
        if p:
            poss.add(rule)

    first2, last2 = A[:2], A[-2:]
    both("greeting.missing", A and not any(has(txt[i], GREET_B) for i in first2),
         A and not any(has(txt[i], GREET_N) for i in first2))
    both("closing.missing", A and not any(has(txt[i], CLOSE_B) for i in last2),
         A and not any(has(txt[i], CLOSE_N) for i in last2))
    both("forbidden.phrase", any(has(txt[i], FORBID_N) for i in A), any(has(txt[i], FORBID_B) for i in A))
    s_emp = p_emp = False
    for c in C:
        nxt = [i for i in A if i > c][:2]
        if has(txt[c], NEG_N) and nxt and not any(has(txt[i], EMP_B) for i in nxt):
            s_emp = True
        if has(txt[c], NEG_B) and not any(has(txt[i], EMP_N) for i in nxt):
            p_emp = True
    both("empathy.missing", s_emp, p_emp)
    s_h = p_h = False
    for k, i in enumerate(A[:-1]):
        n = A[k + 1]
        gaps = [T[n] - T[i], T[n] - E[i]]
        if has(txt[i], HOLD_N) and min(gaps) > HOLD_S and not has(txt[n], RET_B):
            s_h = True
        if has(txt[i], HOLD_B) and max(gaps) > HOLD_S and not has(txt[n], RET_N):
            p_h = True
    both("hold.no_apology", s_h, p_h)
    if C and T[0] is not None:
        c0 = C[0]
        fr = next((i for i in A if i > c0), None)
        if fr is not None:
            prevs = [j for j in C if j < fr]
            d = [T[fr] - T[c0], T[fr] - E[c0], T[fr] - T[prevs[-1]]]
            both("response.first_slow", min(d) > FIRST_SLA[ch], max(d) > FIRST_SLA[ch])
        s_r = p_r = False
        for k, i in enumerate(A):
            prev_a = A[k - 1] if k else -1
            run = [j for j in C if prev_a < j < i]
            if not run:
                continue
            d = [T[i] - T[run[0]], T[i] - T[run[-1]], T[i] - E[run[-1]]]
            if i != fr and min(d) > REPLY_SLA[ch]:
                s_r = True
            if max(d) > REPLY_SLA[ch]:
                p_r = True
        # loose reading: any agent turn timed from the latest customer turn before it, unless the
        # agent announced a wait in its previous turn (that wait is hold.no_apology's business)
        for k, i in enumerate(A):
            before = [j for j in C if j < i]
            if before and i != fr and not (k and has(txt[A[k - 1]], HOLD_B)) and T[i] - E[before[-1]] > REPLY_SLA[ch]:
                p_r = True
        both("response.slow", s_r, p_r)
    both("complaint.risk", any(complaint_hits(txt[c], COMPL_N, 8) and not _negated_close(txt[c]) for c in C),
         any(complaint_hits(txt[c], COMPL_B, 2) for c in C))
    both("praise", any(has(txt[c], PRAISE_N) for c in C), any(has(txt[c], PRAISE_B) for c in C))
    return sure, poss


def _negated_close(text: str) -> bool:
    n = norm(text)
    return any(neg + c in n or neg + "给" + c in n for neg in NEGATION_CUES for c in COMPL_N)


def is_fatal(rec: dict) -> bool:
    return any(t["role"] == "agent" and has(t["text"], FORBID_FATAL) for t in rec["turns"])


# ---------------------------------------------------------------------------------------------
# Material lint: catches a hand-written line in the wrong slot before it can spoil a label
# ---------------------------------------------------------------------------------------------


def lint_material() -> list[str]:
    problems = []

    def must(cond, where, line):
        if not cond:
            problems.append(f"{where}: {line}")

    def clean_agent(line, where, allow=()):
        for name, cues in (("greeting", GREET_B), ("closing", CLOSE_B), ("empathy", EMP_B), ("hold", HOLD_B),
                           ("forbidden", FORBID_B)):
            if name not in allow:
                must(not has(line, cues), f"{where} has {name} cue", line)

    def calm_customer(line, where):
        for name, cues in (("negative", NEG_B), ("complaint", COMPL_B), ("praise", PRAISE_B)):
            must(not has(line, cues), f"{where} has {name} cue", line)

    for key, sc in SCENARIOS.items():
        for b in sc["bodies"]:
            body = b["steps"]
            assert sum(1 for s in body if s[0] == "L") == 1, f"{key}: a body needs exactly one L step"
            assert b["open"], f"{key}: a body needs openings"
            for o in b["open"]:
                for line in o:
                    for name, cues in (("complaint", COMPL_B), ("praise", PRAISE_B)):
                        if key != "complaint.agent":
                            must(not has(line, cues), f"{key} opening has {name} cue", line)
                    if not sc["negative_opening"]:
                        must(not has(line, NEG_B), f"{key} calm opening has negative cue", line)
            for o in b.get("angry", []):
                must(any(has(line, NEG_N) for line in o), f"{key} angry opening lacks a sure cue", o)
            for w in b.get("wrap", []):
                calm_customer(w, f"{key} wrap")
            for s in body:
                if s[0] == "a":
                    clean_agent(s[1], f"{key} body agent")
                elif s[0] == "c":
                    calm_customer(s[1], f"{key} body customer")
                else:
                    if s[1]:
                        must(has(s[1], HOLD_N), f"{key} hold line lacks a hold cue", s[1])
                        clean_agent(s[1], f"{key} hold line", allow=("hold",))
                    clean_agent(s[2], f"{key} result")
        for line in sc["ack_emp"]:
            must(has(line, EMP_N), f"{key} ack_emp lacks empathy", line)
            clean_agent(line, f"{key} ack_emp", allow=("empathy",))
        for line in sc["ack_neutral"] + sc["ack_cold"]:
            clean_agent(line, f"{key} ack")
    for g in GREET_CHAT + GREET_PHONE + GREET_TRAD + GREET_MORNING:
        must(has(g, GREET_N), "greeting lacks greeting", g)
        clean_agent(g, "greeting", allow=("greeting",))
    for g in NO_GREET_CHAT + NO_GREET_PHONE:
        clean_agent(g, "no-greeting opener")
    for closing in CLOSE_CHAT + CLOSE_PHONE + CLOSE_TRAD:
        must(has(closing[-1][1] if closing[-1][0] == "a" else closing[0][1], CLOSE_N), "closing lacks closing", closing)
        for role, line in closing:
            if role == "c":
                calm_customer(line, "closing customer")
            else:
                for cues in (FORBID_B, HOLD_B):
                    must(not has(line, cues), "closing has forbidden/hold cue", line)
    for line in ACK_NEUTRAL_GENERIC + ACK_COLD_GENERIC:
        clean_agent(line, "generic ack")
    for line in ACK_EMP_GENERIC:
        must(has(line, EMP_N), "generic empathetic ack lacks empathy", line)
    for line in CURT_CHAT + CURT_PHONE + COLD + COLD_COMPLAINT:
        clean_agent(line, "curt/cold")
    for line in EMP_MID + EMP_COMPLAINT + EMP_NEGATED + APOLOGY_AFTER_FORBID:
        must(has(line, EMP_N), "empathy line lacks empathy", line)
        for cues in (FORBID_B, CLOSE_B, GREET_B, HOLD_B):
            must(not has(line, cues), "empathy line has other cue", line)
    for line, tags, prompts in FORBIDDEN:
        for prompt in prompts:
            calm_customer(prompt, "forbidden prompt")
        must(has(line, FORBID_N), "forbidden line lacks a sure cue", line)
        must(("fatal" in tags) == has(line, FORBID_FATAL), "fatal tag mismatch", line)
        for cues in (EMP_B, CLOSE_B, GREET_B, HOLD_B):
            must(not has(line, cues), "forbidden line has other cue", line)
    for line in WRAP_NEUTRAL + WRAP_NEGATIVE + CHAT_PRELUDE + PHONE_HELLO \
            + HOLD_ACK_PHONE:
        calm_customer(line, "calm customer line")
    for line in ANGRY_MID + REACT + COMPLAINT_ANGRY:
        must(has(line, NEG_N), "angry line lacks a sure cue", line)
    for line in COMPLAINT + COMPLAINT_SPACED + COMPLAINT_PHONE + COMPLAINT_ANGRY:
        must(complaint_hits(line, COMPL_N, 8), "complaint line lacks a sure cue", line)
    for line in NEGATED:
        must(not complaint_hits(line, COMPL_B, 2), "negated complaint still hits", line)
    for line in WRAP_PRAISE + WRAP_PRAISE_PHONE:
        must(has(line, PRAISE_N), "praise line lacks a sure cue", line)
        must(not has(line, NEG_B), "praise line has negative cue", line)
    for c, a in CUSTOMER_FORBIDDEN:
        must(has(c, FORBID_N), "customer_forbidden lacks cue", c)
        clean_agent(a, "customer_forbidden reply")
    return problems


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


def check_contract(rec: dict) -> None:
    """The SPEC input contract, plus what the samples promise: times never go backwards."""
    assert isinstance(rec["id"], str) and rec["turns"], rec["id"]
    last = None
    for t in rec["turns"]:
        assert t["role"] in ("agent", "customer", "system", "bot") and isinstance(t["text"], str) and t["text"], rec["id"]
        ts, end = _seconds(t["ts"]), _seconds(t.get("end_ts"))
        assert last is None or ts >= last, f"{rec['id']}: ts goes backwards"
        assert end is None or end >= ts, f"{rec['id']}: end_ts before ts"
        last = ts


def generate(prefix: str, plans: list[Plan]) -> tuple[list[dict], dict]:
    out, expected = [], {}
    for n, plan in enumerate(plans, start=1):
        cid = f"{prefix}-{n:04d}"
        for attempt in range(400):
            rec, steps, planned = compose(cid, plan, attempt)
            sure, poss = evaluate(rec)
            if planned <= sure and poss <= planned:
                break
        else:
            raise SystemExit(f"{cid}: could not realise plan {sorted(planned)} {sorted(plan.mods)} "
                             f"({plan.scenario}/{plan.channel}); last try sure={sorted(sure)} possible={sorted(poss)}\n"
                             + "\n".join(f"  {t['role']:8} {t.get('ts')} {t['text']}" for t in rec["turns"]))
        check_contract(rec)
        out.append(rec)
        expected[cid] = sorted(planned, key=CORE_RULES.index)
    return out, expected


def hostile_lines(good: dict, good_iso: dict) -> list[bytes]:
    """18 lines: 16 an ingest must reject, and two valid conversations (lines 1 and 16) that must
    come through untouched around them."""
    ok = dict(json.loads(json.dumps(good)), id="h-0001")
    ok_iso = dict(json.loads(json.dumps(good_iso)), id="h-0016")
    j = lambda o: json.dumps(o, ensure_ascii=False).encode("utf-8")  # noqa: E731
    turns = [{"role": "customer", "text": "在吗？我的快递三天了还没到", "ts": 0},
             {"role": "agent", "text": "您好，很高兴为您服务，请问有什么可以帮您？", "ts": 8}]
    huge = "我想问一下订单的事情。" * 2500  # 27,500 chars > limits.max_turn_chars
    many = [{"role": "customer" if k % 2 == 0 else "agent", "text": "好的", "ts": k} for k in range(2001)]
    gbk = json.dumps({"id": "h-0010", "channel": "chat", "turns": [
        {"role": "customer", "text": "发票抬头写错了，能改吗？", "ts": 0},
        {"role": "agent", "text": "您好，可以为您换开。", "ts": 9}]}, ensure_ascii=False).encode("gbk")
    return [
        j(ok),                                                                                    # 1 valid
        b'{"id": "h-0002", "channel": "chat", "turns": [{"role": "customer", "text": "\xe5\x9c\xa8\xe5\x90\x97"',  # 2 truncated JSON
        j({"channel": "chat", "turns": turns}),                                                   # 3 no id
        j({"id": "h-0004", "channel": "chat", "turns": []}),                                      # 4 empty turns
        j({"id": "h-0005", "turns": [{"role": "customer", "text": None, "ts": 0}, turns[1]]}),    # 5 null text
        j({"id": "h-0006", "turns": [turns[0], {"role": "supervisor", "text": "我来处理", "ts": 5}]}),  # 6 unknown role
        j({"id": "h-0007", "turns": "在吗？我的快递呢"}),                                           # 7 turns is a string
        j({"id": 12345, "turns": turns}),                                                          # 8 id is a number
        j({"id": "h-0009", "turns": [{"role": "customer", "text": "在吗", "ts": "昨天下午"}, turns[1]]}),  # 9 ts not a time
        gbk,                                                                                       # 10 GBK bytes
        j(dict(ok, turns=turns)),                                                                  # 11 duplicate of line 1's id
        j({"id": "h-0012", "channel": "chat", "turns": [                                          # 12 time goes backwards
            {"role": "customer", "text": "退款什么时候到？", "ts": 120},
            {"role": "agent", "text": "您好，请提供一下订单号。", "ts": 30},
            {"role": "customer", "text": "JD2026112012345", "ts": 10}]}),
        j({"id": "h-0013", "channel": "chat", "turns": [{"role": "customer", "text": huge, "ts": 0}, turns[1]]}),  # 13 huge turn
        j(["h-0014", "在吗"]),                                                                     # 14 not an object
        j({"id": "h-0015", "turns": [{"text": "没有角色的一句话", "ts": 0}, turns[1]]}),           # 15 turn without role
        j(ok_iso),                                                                                 # 16 valid (ISO ts)
        b'{"id": "h-0017", "channel": "chat", "turns": [{"role": "customer", "text": "hi", "ts": NaN}]}',  # 17 NaN
        j({"id": "h-0018", "channel": "chat", "turns": many}),                                     # 18 > limits.max_turns
    ]


def main() -> None:
    problems = lint_material()
    if problems:
        raise SystemExit("material lint failed:\n  " + "\n  ".join(problems))
    rng = random.Random(SEED)
    plans = build_plans(rng)
    rng.shuffle(plans)
    for p in plans:
        finalize_plan(p, rng)
    records, expected = generate("s", plans)

    csv_rng = random.Random(SEED + 1)
    csv_plans = [Plan(set()), Plan(set()), Plan({"praise"}), Plan(set(), {"hold_return"}), Plan(set(), {"angry_open"}),
                 Plan(set(), {"negated"}), Plan(set(), {"iso"}), Plan({"praise"}, {"angry_open"}),
                 Plan({"greeting.missing"}), Plan({"closing.missing"}), Plan({"forbidden.phrase"}),
                 Plan({"forbidden.phrase"}, {"spaced"}), Plan({"empathy.missing"}, {"angry_open"}),
                 Plan({"hold.no_apology"}), Plan({"response.first_slow"}, {"ivr"}, "phone"),
                 Plan({"response.slow"}), Plan({"complaint.risk"}), Plan({"response.slow"}, (), "phone"),
                 Plan({"greeting.missing", "closing.missing"}), Plan(set(), (), "chat", "logistics.address")]
    for k, p in enumerate(csv_plans):
        finalize_plan(p, csv_rng)
        if k != 6:  # the long table keeps numeric seconds, except one conversation with ISO times
            p.mods.discard("iso")
    csv_records, csv_expected = generate("t", csv_plans)
    # one multi-line customer message with commas and quotes (CSV quoting must survive it)
    tweak = csv_records[-1]
    ci = next(i for i, t in enumerate(tweak["turns"]) if t["role"] == "customer")
    tweak["turns"][ci]["text"] += "\n新的收货信息：\"王女士\"，13812345678，\n" + ADDRESSES[0]
    tweak.setdefault("labels", {}).setdefault("pii", [])
    tweak["labels"]["pii"] = sorted(set(tweak["labels"]["pii"]) | {"phone", "address"})
    assert evaluate(tweak)[1] <= set(csv_expected[tweak["id"]]), "the multi-line tweak changed the expected rules"

    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "conversations.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with open(OUT / "turns.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["conversation_id", "turn", "role", "text", "ts", "channel", "agent_id", "agent_name", "agent_team"])
        for rec in csv_records:
            for k, t in enumerate(rec["turns"]):
                w.writerow([rec["id"], k, t["role"], t["text"], t.get("ts", ""), rec["channel"], rec["agent"]["id"],
                            rec["agent"]["name"], rec["agent"]["team"]])
    all_expected = dict(expected)
    all_expected.update(csv_expected)
    with open(OUT / "expected_rules.json", "w", encoding="utf-8", newline="\n") as fh:
        json.dump(all_expected, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    clean = [r for r in records if not expected[r["id"]]]
    good = next(r for r in clean if r["channel"] == "chat" and not isinstance(r["turns"][0]["ts"], str))
    good_iso = next(r for r in clean if r["channel"] == "phone" and isinstance(r["turns"][0]["ts"], str))
    with open(OUT / "hostile.jsonl", "wb") as fh:
        for line in hostile_lines(good, good_iso):
            fh.write(line + b"\n")
    facts = stats(records, expected, plans)
    (OUT / "README.md").write_text(readme(facts, csv_records, csv_expected), encoding="utf-8")
    print(f"{facts['n']} conversations, {facts['clean']} clean; rules {dict(facts['rule_n'])}; "
          f"+{len(csv_records)} in turns.csv; hostile 18 lines")


def stats(records, expected, plans) -> dict:
    ids_with = lambda *mods: [r["id"] for r, p in zip(records, plans) if set(mods) & p.mods]  # noqa: E731
    overlap = 0
    for r in records:
        ts = [(t.get("ts"), t.get("end_ts")) for t in r["turns"]]
        if r["channel"] == "phone" and any(_seconds(ts[k][0]) < _seconds(ts[k - 1][1]) for k in range(1, len(ts))):
            overlap += 1
    return dict(
        n=len(records),
        rule_n=Counter(x for rules in expected.values() for x in rules),
        clean=sum(1 for rules in expected.values() if not set(rules) - {"praise"}),
        fully_clean=sum(1 for rules in expected.values() if not rules),
        chan=Counter(r["channel"] for r in records),
        scen=Counter(r["labels"]["scenario"] for r in records),
        pii=Counter(k for r in records for k in r["labels"].get("pii", [])),
        pii_convs=sum(1 for r in records if r["labels"].get("pii")),
        iso=sum(1 for r in records if isinstance(r["turns"][0].get("ts"), str)),
        fatal=[r["id"] for r in records if is_fatal(r)],
        bot=sum(1 for r in records if any(t["role"] == "bot" for t in r["turns"])),
        system=sum(1 for r in records if any(t["role"] == "system" for t in r["turns"])),
        emoji=sum(1 for r in records if any(re.search(r"[\U0001F300-\U0001FAFF]", t["text"]) for t in r["turns"])),
        fullwidth=sum(1 for r in records if any(re.search(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]", t["text"])
                                                for t in r["turns"])),
        overlap=overlap,
        ratings=Counter(r.get("rating", {}).get("score") for r in records),
        agents=Counter((r["agent"]["team"], r["agent"]["name"]) for r in records),
        hit_rate=_hit_rate_range(records, expected),
        trad=ids_with("trad"), spaced=ids_with("spaced", "spaced_complaint"), negated=ids_with("negated"),
        cust_forbid=ids_with("customer_forbidden"), hold_return=ids_with("hold_return"),
        first_30=ids_with("first_30"), first_28=ids_with("first_28"), first_32=ids_with("first_32"),
        first_45=ids_with("first_45"),
        bot_no_greet=[r["id"] for r, p in zip(records, plans) if "bot" in p.mods and "greeting.missing" in p.rules],
        neg_to_pos=[r["id"] for r, p in zip(records, plans) if "angry_open" in p.mods and "praise" in p.rules],
        angry_clean=[r["id"] for r, p in zip(records, plans) if p.mods & {"angry_open", "angry_mid"}
                     and "empathy.missing" not in p.rules],
    )


def _hit_rate_range(records, expected) -> tuple[float, float]:
    per: dict[str, list[int]] = {}
    for r in records:
        n_hit = per.setdefault(r["agent"]["id"], [0, 0])
        n_hit[0] += 1
        n_hit[1] += bool(set(expected[r["id"]]) - {"praise"})
    rates = [hit / n for n, hit in per.values()]
    return min(rates), max(rates)


def _ids(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "—"


def readme(f: dict, csv_records: list[dict], csv_expected: dict) -> str:
    n = f["n"]
    rule_rows = "\n".join(f"| `{r}` | {f['rule_n'][r]} | {n - f['rule_n'][r]} |" for r in CORE_RULES)
    scen_rows = "\n".join(f"| `{k}` | {SCENARIOS[k]['issue_type']} | {v} |" for k, v in sorted(f["scen"].items()))
    agent_rows = ", ".join(f"{name} ({team}) {c}" for (team, name), c in sorted(f["agents"].items()))
    ratings = ", ".join(f"{k}★ {v}" for k, v in sorted((k, v) for k, v in f["ratings"].items() if k is not None))
    csv_hits = sum(1 for v in csv_expected.values() if set(v) - {"praise"})
    return f"""# data/samples — the team's sample conversations

Hand-written Chinese customer-service conversations (e-commerce chat, hotline calls, a telecom
operator) for tests, demos and the README. **Generated, do not edit by hand**: change the material
or the plans in `make_samples.py` and run

    python data/samples/make_samples.py

It is deterministic (fixed seed, no clock): the same script gives byte-identical files.

| file | what |
| --- | --- |
| `conversations.jsonl` | {n} conversations in the SPEC input contract, ids `s-0001` … `s-{n:04d}` |
| `turns.csv` | {len(csv_records)} more conversations (`t-0001` …, {sum(len(r['turns']) for r in csv_records)} rows) as a long table: `conversation_id, turn, role, text, ts, channel, agent_id, agent_name, agent_team` |
| `expected_rules.json` | `{{id: [core rule ids the team intended to fire]}}` for every `s-` and `t-` id |
| `hostile.jsonl` | 18 lines for ingest: 16 broken records and 2 valid ones (see below) |
| `make_samples.py` | the material (every line of dialogue is hand-written for these samples) and the composer |

## How the conversations are made
Each conversation has a *plan*: the core rules that must fire plus modifiers (angry start, bot,
IVR, traditional script, ISO times …). The composer picks a scenario body (its openings, the
exchange with exactly one look-up where the agent puts the customer on hold, and the customer's
wrap-up), adds a greeting and a closing, injects the lines that make the planned rules fire
(a forbidden phrase, an angry turn answered coldly, a complaint threat …), times every turn and
writes the record. It then re-reads the record with a small reference reading of the core rules:
a planned rule must fire under a strict reading (narrow cue lists, every timing interpretation),
and an unplanned one must not fire even under a loose reading (broad cue lists — e.g. any `没办法`,
`不知道`, `自己` in an agent turn counts as a possible forbidden phrase). Compositions that fail are
redrawn. So `expected_rules.json` is a label the team stands behind; the pipeline is measured
against it, it is not the pipeline's output.

## Coverage ({n} conversations in `conversations.jsonl`)
{f['clean']} conversations ({f['clean'] / n:.0%}) have no deduction at all ({f['fully_clean']} fire nothing,
the rest only `praise`). Channels: chat {f['chan']['chat']}, phone {f['chan']['phone']}.

| rule | conversations where it must fire | where it must not |
| --- | --- | --- |
{rule_rows}

What the cases look like — the hits, and clean cases built to *tempt* each rule rather than just
avoid it:

- `greeting.missing` — the bot greets but the agent doesn't ({_ids(f['bot_no_greet'])}); curt
  openers (`请讲。`, `喂，请讲。`); in some chats the agent's first turn is already the business.
  Traditional greetings `妳好，請問有什麼可以幫您？` must count as greetings.
- `closing.missing` — the agent stops with `好的。` / `嗯，好。`, or the customer has the last word;
  some phone calls end with the customer saying `喂？喂？`.
- `forbidden.phrase` — all phrases from seed 003/004 (`你明白吗`, `我再跟您说一遍`, `你什么意思`,
  `你先听我说完好不好`, `你知道吗`, `不归我管`, `爱买不买`, `你自己看`), spaced out
  (`你 明 白 吗`), traditional (`妳明白嗎`, `妳知道嗎`), with full-width `ＯＫ？`; red-line insults
  (`神经病`, `你有病吧`) in {_ids(f['fatal'])} — these should score 0. The *customer* says
  `你知道吗` / `你明白吗` in {_ids(f['cust_forbid'])}: must not fire (agent role only). In
  `complaint.agent` the customer quotes an agent's `你自己看`: must not fire either.
- `empathy.missing` — angry starts (`等了一周还没到…太差了！😡`) and angry turns mid-way
  answered coldly (`系统显示正在处理。`); the clean counterparts answer with `非常抱歉` /
  `理解您的心情` / `给您带来不便` ({len(f['angry_clean'])} conversations:
  {_ids(f['angry_clean'])}); {len(f['neg_to_pos'])} of them start angry and end with praise
  ({_ids(f['neg_to_pos'])}).
- `hold.no_apology` — `请稍等，我帮您查询一下。` then the agent's next turn 75–240 s later (chat) /
  70+ s after the hold (phone) without `感谢您的耐心等待` / `让您久等了`. Every conversation has one
  such look-up; in clean ones the wait is under 60 s, or longer with an apology
  ({_ids(f['hold_return'])}).
- `response.first_slow` — first agent reply 32–55 s after the first customer turn (chat) or
  68–85 s (phone, after an IVR prompt); never longer than the reply SLA, so `response.slow` does
  not fire too. Edge cases in chat: exactly 30.0 s ({_ids(f['first_30'])}) is not *later than*
  the SLA and must not fire, nor 28 s ({_ids(f['first_28'])}); 32 s ({_ids(f['first_32'])}) fires. Phone replies after 40–55 s ({_ids(f['first_45'])}) are fine on the phone although
  they would be slow in chat.
- `response.slow` — one reply 80–400 s (chat) / 100–160 s (phone) after a customer turn.
- `complaint.risk` — `投诉`, `12315`, `曝光`, `找你们领导`, `消协`, spaced `投 诉`; negated threats
  (`我不是要投诉`, `不会投诉的`, `我不想给差评`) must not fire ({_ids(f['negated'])}).
- `praise` — `服务很好`, `很专业`, `点赞`, `五星好评` in a customer turn. Rating comments such as
  `解决得很快，五星好评` are *not* turns and must not count as praise.

Surface variety: traditional script {_ids(f['trad'])}; spaced-out words {_ids(f['spaced'])};
full-width letters/digits (`ＪＤ２０２６…`, `ＯＫ`) in {f['fullwidth']}; emoji (😡👍🙏😊) in {f['emoji']};
mixed scripts everywhere (iPhone 15, Wi-Fi, APP, PDF, order ids `JD2026MMDDnnnnn`);
ISO-8601 `ts` in {f['iso']} (chat: `2026-11-20T09:00:12+08:00`; phone: milliseconds, with `end_ts`),
numeric seconds in the rest; phone turns always carry `end_ts`, and in {f['overlap']} calls the
customer talks over the agent (a turn starts before the previous one ends). Bot auto-replies
(role `bot`, e.g. `您好，客服正在赶来的路上，请稍候～`) in {f['bot']}; system turns (IVR prompt,
`会话已结束` …) in {f['system']}. Ratings: {ratings}; the rest have none. Comments of bad ratings
follow the 差评 policy of seed 004 (`客服态度差`, `回复太慢`, `问题没解决` …).

Agents: 12 in 3 teams — {agent_rows}. The composer draws 张伟, 赵敏 and 徐强 more often for
conversations with findings, so per-agent reports have something to show (share of an agent's
conversations with a deduction: {f['hit_rate'][0]:.0%} to {f['hit_rate'][1]:.0%}).

### Scenarios and `labels`
`labels.issue_type` uses the coarse set 配送物流, 退换货与退款, 发票, 价格与价保, 支付,
订单修改与取消, 商品咨询, 售后维修与安装, 账户与会员, 客服与投诉, 其他.
`labels.sentiment` is the customer's attitude at the end (positive / neutral / negative),
`labels.sentiment_start` at the start; `labels.scenario` the material used; `labels.pii` the kinds of
personal data in the conversation.

| scenario | issue_type | conversations |
| --- | --- | --- |
{scen_rows}

### Personal data (for masking)
{f['pii_convs']} conversations hold PII: {", ".join(f"{k} {v}" for k, v in sorted(f['pii'].items()))}.
Phone numbers are 11-digit mobiles; ID-card numbers are 18 characters with a valid GB 11643 check
character; bank cards are 16/19 digits passing Luhn (some written in groups of four); plus e-mail
addresses and street addresses. `t-0020` in `turns.csv` has a multi-line message with
`13812345678`. Look-alikes that must *not* be masked as phone / ID / card: order ids
(`JD20261115731649`), tracking numbers (`SF…`, `YT…`, `ZTO…`), service tickets (`FW…`), broadband
accounts (`0571…`), unified social credit codes (`91330106MA27XK3L5Q`).

## `expected_rules.json`
`{{"s-0001": ["closing.missing"], "s-0006": [], …}}` — the core rule ids (SPEC) the team intended,
sorted in SPEC order, one entry per rule however often it fires. It assumes these readings of SPEC
(the defaults in `pipeline/defaults.yaml`):

1. Reply times are measured from the customer turns the agent has not answered yet. A look-up the
   agent announced (`请稍等…`, then the agent's next turn with no customer turn between) is judged by
   `hold.no_apology` only: its long wait is **not** expected to fire `response.slow`.
2. `response.first_slow` compares the first agent turn after the first customer turn with the SLA,
   strictly *later than* (30.0 s in chat is fine); bot and system turns are not the agent.
3. `response.slow` does not re-judge the first reply (no sample depends on it: first replies
   stay under the reply SLA).
4. Greeting / closing look at agent turns only; the bot's `您好` is not the agent's greeting.
5. Normalization maps `妳` to `你` (OpenCC's `t2s` leaves `妳` alone), full-width to half-width,
   and drops spaces between Chinese characters — otherwise the traditional and spaced samples miss.

## `turns.csv`
{len(csv_records)} conversations (`t-0001` … `t-{len(csv_records):04d}`), {csv_hits} of them with findings, same
material and checks as the JSONL; `ts` is numeric seconds except `t-0007` (ISO-8601). The table has no
`end_ts`, rating or labels columns. `t-0020` holds a quoted multi-line text with commas and `"`
(standard CSV quoting). Their expected rules are in `expected_rules.json` too.

## `hostile.jsonl`
One problem per line; lines 1 and 16 are valid and must be inspected normally.

| line | what is wrong | expected |
| --- | --- | --- |
| 1 | nothing (`h-0001`, chat, numeric `ts`) | inspected |
| 2 | JSON cut off mid-record | reject: invalid JSON |
| 3 | no `id` | reject |
| 4 | `turns: []` | reject: empty turns |
| 5 | a turn with `text: null` | reject |
| 6 | a turn with role `supervisor` | reject: unknown role |
| 7 | `turns` is a string | reject: wrong type |
| 8 | `id` is a number (12345) | reject: wrong type (don't coerce silently) |
| 9 | `ts: "昨天下午"` | reject: not a number or ISO-8601 |
| 10 | the line is GBK-encoded bytes (valid JSON in GBK) | reject: not UTF-8 |
| 11 | same `id` as line 1 (`h-0001`), different turns | reject the second: duplicate id |
| 12 | `ts` goes backwards (120 → 30 → 10) | reject (or accept with a warning — ingest's documented choice) |
| 13 | one turn of 27,500 characters | reject: `limits.max_turn_chars` = 20,000 |
| 14 | a JSON array, not an object | reject |
| 15 | a turn without `role` | reject |
| 16 | nothing (`h-0016`, phone, ISO `ts` and `end_ts`) | inspected |
| 17 | `"ts": NaN` (Python's `json` accepts it, strict JSON parsers don't) | reject |
| 18 | 2,001 turns | reject: `limits.max_turns` = 2,000 |
"""


if __name__ == "__main__":
    main()
