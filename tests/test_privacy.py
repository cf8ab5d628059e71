"""Privacy: PII detection (validated numbers, e-mail, addresses), masking policy, prefilter, spaCy wiring."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline import privacy
from pipeline.privacy import PiiDetector, mask_span_text, mask_text, might_contain_pii
from pipeline.schema import Conversation, Finding, Span, Turn

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------------
# Test-side reference implementations (independent of the module under test).
W = [2 ** (17 - i) % 11 for i in range(17)]  # GB 11643: weight of position i is 2^(17-i) mod 11


def make_id(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]
    return body + check


def wrong_check(id18: str) -> str:
    bad = "0" if id18[-1] != "0" else "1"
    return id18[:-1] + bad


def luhn_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass Luhn."""
    total = 0
    for i, c in enumerate(reversed(partial)):
        d = int(c)
        if i % 2 == 0:  # doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def make_card(prefix: str, length: int, fill: str = "0123456789") -> str:
    body = (prefix + fill * 10)[: length - 1]
    return body + luhn_digit(body)


def ref_luhn(n: str) -> bool:
    if not n.isdigit():
        return False
    return sum(int(d) if i % 2 == 0 else sum(divmod(int(d) * 2, 10)) for i, d in enumerate(reversed(n))) % 10 == 0


ID_A = make_id("110101", "19900307", "451")
ID_B = make_id("110101", "20010229", "123")  # 2001 is not a leap year: invalid date
ID_C = make_id("310104", "19851231", "002")
ID_X = next(make_id("320102", "19790615", f"{s:03d}") for s in range(1000) if make_id("320102", "19790615", f"{s:03d}").endswith("X"))
ID_LUHN = next(i for i in (make_id("440301", "19880808", f"{s:03d}") for s in range(1000)) if ref_luhn(i))
CARD_19 = make_card("622202", 19)
CARD_16 = make_card("4", 16, "5555")
CARD_16_GROUPED = " ".join(CARD_16[i : i + 4] for i in range(0, 16, 4))
CARD_BAD = CARD_19[:-1] + str((int(CARD_19[-1]) + 1) % 10)


def test_reference_helpers_agree_with_module():
    assert W == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    assert privacy.is_valid_id_card(ID_A) and privacy.is_valid_id_card(ID_X) and not privacy.is_valid_id_card(ID_B)
    assert ref_luhn(CARD_19) and privacy.luhn_ok(CARD_19) and not privacy.luhn_ok(CARD_BAD)
    assert ref_luhn("4111111111111111") and privacy.luhn_ok("4111111111111111")  # the classic test card


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector({"privacy": {"mask": True, "mask_char": "*"}})


def at(text: str, part: str, label: str) -> tuple[str, int, int]:
    start = text.index(part)
    return (label, start, start + len(part))


def case(text: str, *found: tuple[str, str]):
    return pytest.param(text, [at(text, part, label) for part, label in found], id=text[:40])


DETECT_CASES = [
    # phones
    case("手机13812345678", ("13812345678", "phone")),
    case("我的手机号是 138-1234-5678 ，谢谢", ("138-1234-5678", "phone")),
    case("打 138 1234 5678 找我", ("138 1234 5678", "phone")),
    case("+86 13812345678", ("+86 13812345678", "phone")),
    case("国际:+86-138-1234-5678。", ("+86-138-1234-5678", "phone")),
    case("8613812345678", ("8613812345678", "phone")),
    case("0086 13812345678", ("0086 13812345678", "phone")),
    case("手机１３８１２３４５６７８", ("１３８１２３４５６７８", "phone")),
    case("电话１３８－１２３４－５６７８", ("１３８－１２３４－５６７８", "phone")),
    case("微信wx13912345678", ("13912345678", "phone")),
    case("座机010-62345678转分机", ("010-62345678", "phone")),
    case("座机 0571-87654321", ("0571-87654321", "phone")),
    case("座机02162345678", ("02162345678", "phone")),
    case("13812345678 13987654321", ("13812345678", "phone"), ("13987654321", "phone")),
    case("新号13812345678旧号15900001111", ("13812345678", "phone"), ("15900001111", "phone")),
    # dictated digit by digit (speech-to-text writes Chinese numerals; 幺 = 1, 两 = 2, 〇/零 = 0) — issue 12
    case("手机一三八一二三四五六七八", ("一三八一二三四五六七八", "phone")),
    case("打我电话幺三八 一二三四 五六七八谢谢", ("幺三八 一二三四 五六七八", "phone")),
    case("座机〇一〇-六二三四五六七八", ("〇一〇-六二三四五六七八", "phone")),
    case(f"身份证{ID_A.translate(str.maketrans('0123456789', '〇一二三四五六七八九'))}",
         (ID_A.translate(str.maketrans("0123456789", "〇一二三四五六七八九")), "id_card")),
    case("卡号六二二二 零二幺二 三四五六 七八九零 幺二八", ("六二二二 零二幺二 三四五六 七八九零 幺二八", "bank_card")),  # Luhn-valid
    case("一二三四五六个人都说好"),  # six numerals: words, not a number
    case("一一一一一一一一"),  # eight digits, no valid number
    case("12812345678"),  # 12x is not a mobile prefix
    case("1381234567"),  # 10 digits
    case("138123456789"),  # 12 digits
    case("客服热线400-123-4567"),
    case("订单号：2026112012345678"),
    # ID cards: check digit computed by the reference helper above
    case(f"身份证{ID_A}", (ID_A, "id_card")),
    case(f"身份证号 {ID_X}", (ID_X, "id_card")),
    case(f"身份证号 {ID_X.lower()}", (ID_X.lower(), "id_card")),
    case(f"{ID_C[:6]} {ID_C[6:14]} {ID_C[14:]}", (f"{ID_C[:6]} {ID_C[6:14]} {ID_C[14:]}", "id_card")),
    case(f"身份证{ID_A.translate(str.maketrans('0123456789', '０１２３４５６７８９'))}",
         (ID_A.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "id_card")),
    case(f"身份证{wrong_check(ID_A)}"),  # wrong check digit: an order number, not PII
    case(f"身份证{ID_B}"),  # 2001-02-29 does not exist
    case(f"身份证{make_id('990101', '19900307', '451')}"),  # no region 99
    case("老身份证110101900307451", ("110101900307451", "id_card")),  # 15-digit legacy
    case(f"单号SF{ID_A}"),  # glued to Latin letters: a tracking code
    case(f"{ID_LUHN}", (ID_LUHN, "id_card")),  # passes Luhn too: the ID card wins
    # bank cards
    case(f"卡号{CARD_19}", (CARD_19, "bank_card")),
    case(f"卡号 {CARD_16_GROUPED} 尾号", (CARD_16_GROUPED, "bank_card")),
    case(f"卡号{CARD_BAD}"),  # fails Luhn
    case(f"编号{make_card('1', 16)}"),  # passes Luhn but no card starts with 1
    case(f"卡号{make_card('2221', 16)}", (make_card("2221", 16), "bank_card")),  # Mastercard 2-series
    case(f"卡{CARD_19}手机13812345678", (CARD_19, "bank_card"), ("13812345678", "phone")),
    # e-mail
    case("邮箱abc.def@qq.com谢谢", ("abc.def@qq.com", "email")),
    case("联系邮箱 zhang_san-1@mail.example.com.cn。", ("zhang_san-1@mail.example.com.cn", "email")),
    case("邮箱ＺＨＡＮＧ＠ＱＱ．ＣＯＭ", ("ＺＨＡＮＧ＠ＱＱ．ＣＯＭ", "email")),
    case("13812345678@163.com", ("13812345678@163.com", "email")),  # the e-mail covers the phone
    case("发到user@localhost吧"),
    case("@客服 在吗"),
    # addresses
    case("北京市朝阳区建国路88号", ("北京市朝阳区建国路88号", "address")),
    case("地址:上海市浦东新区张杨路123弄4号502室,谢谢", ("上海市浦东新区张杨路123弄4号502室", "address")),
    case("收货地址：广东省深圳市南山区科技园南路18号", ("广东省深圳市南山区科技园南路18号", "address")),
    case("寄到朝阳区望京花园3号楼2单元501室吧", ("朝阳区望京花园3号楼2单元501室", "address")),
    case("重庆市渝中区解放碑民族路188号", ("重庆市渝中区解放碑民族路188号", "address")),
    case("成都市武侯区人民南路四段12号", ("成都市武侯区人民南路四段12号", "address")),
    case("江苏省南京市鼓楼区中山北路 88 号", ("江苏省南京市鼓楼区中山北路 88 号", "address")),
    case("北京市海淀区中关村大街27号院", ("北京市海淀区中关村大街27号院", "address")),
    case("广州市天河区天河路385号太古汇2座18楼", ("广州市天河区天河路385号太古汇2座18楼", "address")),
    case("住在阳光小区5栋302", ("阳光小区5栋302", "address")),
    case("臺北市大安區忠孝東路100號", ("臺北市大安區忠孝東路100號", "address")),
    case("建国路88号单元", ("建国路88号", "address")),  # 单元 without its number is no detail
    case("北京市朝阳区建国路88号单", ("北京市朝阳区建国路88号", "address")),  # jieba: 号单
    case("我家在建国路88号的快递3号到了", ("建国路88号", "address")),
    case("我3号到货"),
    case("福建省莆田市"),
    case("去超市买了3楼的东西"),
    case("走路3号线"),
    # anonymised corpora placeholders are not PII
    case("[电话]"),
    case("我的[身份证号]和[邮箱]，订单[ORDERID_123]"),
    case("用户:[姓名x] [电话x] [地址x] [数字x]号"),
    case(""),
]


@pytest.mark.parametrize(("text", "expected"), DETECT_CASES)
def test_detect(detector, text, expected):
    got = [(s.label, s.start, s.end) for s in detector.detect(text)]
    assert got == sorted(expected, key=lambda x: x[1])


# ---------------------------------------------------------------------------------------------------
MASK_CASES = [
    ("手机13812345678", "phone", "手机138****5678"),
    ("打 138 1234 5678", "phone", "打 138 **** 5678"),
    ("+86-138-1234-5678", "phone", "+86-138-****-5678"),
    ("0086 13812345678", "phone", "0086 138****5678"),
    ("座机010-62345678", "phone", "座机010-****5678"),
    ("手机１３８１２３４５６７８", "phone", "手机１３８****５６７８"),
    ("手机一三八一二三四五六七八", "phone", "手机一三八****五六七八"),
    (f"身份证{ID_A}", "id_card", f"身份证110{'*' * 13}{ID_A[-2:]}"),
    (f"号{ID_X}", "id_card", f"号320{'*' * 13}{ID_X[-2:]}"),
    (f"卡{CARD_19}", "bank_card", f"卡{'*' * 15}{CARD_19[-4:]}"),
    (f"卡 {CARD_16_GROUPED}", "bank_card", f"卡 **** **** **** {CARD_16[-4:]}"),
    ("邮箱abc.def@qq.com", "email", "邮箱a******@qq.com"),
    ("北京市朝阳区建国路88号", "address", "北京市朝阳区******"),
    ("上海市浦东新区张杨路123弄4号502室", "address", "上海市浦东新区" + "*" * 13),
    ("住在阳光小区5栋302", "address", "住在*********"),
]


@pytest.mark.parametrize(("text", "label", "masked"), MASK_CASES, ids=[c[0][:20] for c in MASK_CASES])
def test_mask_policy(detector, text, label, masked):
    spans = detector.detect(text)
    assert [s.label for s in spans] == [label]
    out = mask_text(text, spans)
    assert out == masked
    assert len(out) == len(text)
    assert spans[0].text == masked[spans[0].start : spans[0].end]  # masked evidence by default


def test_mask_exactly_the_span_and_mask_char():
    text = "A13812345678B"
    span = Span(1, 12, "phone")
    assert mask_text(text, [span], "#") == "A138####5678B"
    assert mask_text(text, []) == text
    assert mask_text(text, [Span(5, 3, "phone"), Span(20, 30, "email")]) == text  # empty / out of range
    assert mask_text("某某某", [Span(0, 3, "unknown")]) == "***"  # unknown label: mask everything


def test_no_mask_keeps_raw_text():
    d = PiiDetector({"privacy": {"mask": False, "mask_char": "*"}})
    [span] = d.detect("手机13812345678")
    assert span.text == "13812345678"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 8, "请拨打138**"),  # cuts the phone: the kept prefix shows, nothing more
        (8, 16, "**5678谢谢"),
        (5, 12, "8****56"),
        (14, 16, "谢谢"),  # no overlap: raw
        (0, 16, "请拨打138****5678谢谢"),
    ],
)
def test_mask_span_text_partial_overlap(start, end, expected):
    text = "请拨打13812345678谢谢"
    spans = [Span(3, 14, "phone")]
    assert mask_span_text(text, start, end, spans) == expected


def test_mask_findings_rewrites_evidence(detector):
    conv = Conversation("c1", [Turn(0, "customer", "我的手机13812345678,你明白吗"), Turn(1, "agent", "好的")])
    detector.annotate(conv)
    conv.findings = [
        Finding("x", "c", "minor", message="m", turn=0, start=0, end=12, evidence="我的手机13812345"),
        Finding("y", "c", "minor", message="m", turn=0, start=16, end=20, evidence="你明白吗"),
        Finding("z", "c", "minor", message="m", turn=None, evidence="whole conversation"),
    ]
    privacy.mask_findings(conv)
    assert [f.evidence for f in conv.findings] == ["我的手机138****5", "你明白吗", "whole conversation"]


# ---------------------------------------------------------------------------------------------------
class _ExplodingNlp:
    def __call__(self, *_a, **_k):
        raise AssertionError("spaCy must not run on this turn")

    pipe = __call__


def test_annotate_keeps_spacy_off_turns_that_cannot_hold_an_address():
    conv = Conversation(
        "c2",
        [
            Turn(0, "customer", "在吗?我的快递三天了还没到"),
            Turn(1, "agent", "您好,订单[ORDERID_123]已发货"),
            Turn(2, "customer", ""),
            Turn(3, "customer", "手机13812345678,邮箱a@qq.com"),  # numbers and e-mail need no tokens
        ],
    )
    PiiDetector({}, nlp=_ExplodingNlp()).annotate(conv)
    assert [[s.label for s in t.pii] for t in conv.turns] == [[], [], [], ["phone", "email"]]
    with pytest.raises(AssertionError, match="must not run"):
        PiiDetector({}, nlp=_ExplodingNlp()).detect("北京市朝阳区建国路88号")


@pytest.mark.parametrize(("text", "expected"), DETECT_CASES)
def test_fast_path_equals_full_spacy_pipeline(detector, text, expected):
    assert detector.detect(text) == detector.detect(text, force=True)


def test_annotate_fills_original_offsets(detector):
    conv = Conversation(
        "c3",
        [
            Turn(0, "customer", "你好"),
            Turn(1, "customer", "手机１３８１２３４５６７８，寄到北京市朝阳区建国路88号"),
            Turn(2, "agent", f"核对一下身份证{ID_A}"),
        ],
    )
    conv.turns[0].pii = [Span(0, 1, "stale")]
    detector.annotate(conv)
    assert conv.turns[0].pii == []
    assert [(s.label, s.start, s.end, s.text) for s in conv.turns[1].pii] == [
        ("phone", 2, 13, "１３８****５６７８"),
        ("address", 16, 28, "北京市朝阳区******"),
    ]
    [idc] = conv.turns[2].pii
    assert (idc.label, conv.turns[2].text[idc.start : idc.end]) == ("id_card", ID_A)


def test_spacy_component_is_registered(detector):
    import spacy

    privacy.register_component()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe("zhijian_pii")
    doc = nlp("手机13812345678，邮箱abc@qq.com，地址北京市朝阳区建国路88号")
    assert [(s.label_, s.text) for s in doc.spans["pii"]] == [
        ("phone", "13812345678"),
        ("email", "abc@qq.com"),
        ("address", "北京市朝阳区建国路88号"),
    ]
    assert [x[2] for x in doc._.zhijian_pii] == ["phone", "email", "address"]
    assert detector.nlp.pipe_names == ["zhijian_pii"]


def test_labels_config_and_errors():
    d = PiiDetector({"privacy": {"labels": ["email"]}})
    assert [s.label for s in d.detect("13812345678 a@b.cn")] == ["email"]
    with pytest.raises(ValueError, match="unknown"):
        PiiDetector({"privacy": {"labels": ["passport"]}})
    with pytest.raises(ValueError, match="one character"):
        PiiDetector({"privacy": {"mask_char": "**"}})


def test_import_does_not_import_spacy():
    code = "import sys, pipeline.privacy; assert 'spacy' not in sys.modules, 'spacy imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_detector_pickles_without_its_pipeline(detector):
    detector.detect("手机13812345678")
    clone = pickle.loads(pickle.dumps(detector))
    assert clone._nlp is None and clone.mask is True


def test_fold_keeps_length():
    s = "１３８－１２３４\u3000＠號區—"
    assert len(privacy.fold_text(s)) == len(s)
    assert privacy.fold_text(s) == "138-1234 @号区-"
    spoken = "电话幺三八一二三四五六七八,一二三四"
    assert privacy.fold_text(spoken) == "电话13812345678,一二三四"  # only runs of 7+ numerals become digits


# ---------------------------------------------------------------------------------------------------
# Properties.
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

noise = st.text(
    alphabet=st.sampled_from(list("0123456789０１２３４５６７８９ -－@.Xx+abcQQ省市区县路街号室栋楼单元小区弄花园的我在，。一三八幺两〇") + ["\u3000"]),
    max_size=40,
)


@SETTINGS
@given(noise)
def test_prefilter_is_a_necessary_condition(detector, text):
    """A turn the prefilter rejects holds nothing the detector would find: skipping spaCy loses nothing."""
    full = detector.detect(text, force=True)
    if not might_contain_pii(text):
        assert full == []
    assert detector.detect(text) == full  # routing around spaCy changes nothing


# free text between the PII items ends in punctuation (two addresses joined by arbitrary words, 88号单是
# 阳光小区5栋, are ambiguous and may be read as one; the table tests pin the address boundaries)
filler = st.builds(
    lambda body, end: body + end,
    st.text(alphabet=st.sampled_from(list("您好请问的我在是了吗，。订单快递")), max_size=5),
    st.sampled_from(list("，。")),
)


@st.composite
def phone(draw):
    num = draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    num = "1" + num
    form = draw(st.sampled_from(["plain", "dash", "space", "+86", "full"]))
    return {
        "plain": num,
        "dash": f"{num[:3]}-{num[3:7]}-{num[7:]}",
        "space": f"{num[:3]} {num[3:7]} {num[7:]}",
        "+86": "+86 " + num,
        "full": num.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    }[form], "phone"


@st.composite
def id_card(draw):
    region = draw(st.sampled_from(["110101", "310104", "440301", "510107", "320102"]))
    birth = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2015, 12, 31)))
    seq = draw(st.text("0123456789", min_size=3, max_size=3))
    return make_id(region, birth.strftime("%Y%m%d"), seq), "id_card"


@st.composite
def bank_card(draw):
    prefix = draw(st.sampled_from(["62", "4", "51", "6228"]))
    length = draw(st.integers(16, 19))
    body = prefix + draw(st.text("0123456789", min_size=length - 1 - len(prefix), max_size=length - 1 - len(prefix)))
    card = body + luhn_digit(body)
    assume(not privacy.is_valid_id_card(card))
    return card, "bank_card"


@st.composite
def email(draw):
    local = draw(st.from_regex(r"[a-z0-9][a-z0-9._]{0,10}", fullmatch=True))
    domain = draw(st.sampled_from(["qq.com", "163.com", "example.com.cn", "mail.sina.cn"]))
    return f"{local}@{domain}", "email"


address = st.sampled_from(
    [("北京市朝阳区建国路88号", "address"), ("上海市浦东新区张杨路123弄4号502室", "address"), ("阳光小区5栋302", "address")]
)

KEPT_DIGITS = {"phone": 7, "id_card": 5, "bank_card": 4, "address": 0}


@SETTINGS
@given(st.lists(st.tuples(filler, st.one_of(phone(), id_card(), bank_card(), email(), address)), min_size=1, max_size=4), filler)
def test_masking_property(detector, parts, tail):
    text, expected = "", []
    for pre, (pii, label) in parts:
        text += pre
        expected.append((label, len(text), len(text) + len(pii)))
        text += pii
    text += tail
    spans = detector.detect(text)
    assert [(s.label, s.start, s.end) for s in spans] == expected
    masked = mask_text(text, spans)
    assert len(masked) == len(text)
    inside = set()
    for s in spans:
        inside.update(range(s.start, s.end))
        shown = privacy.fold_text(masked[s.start : s.end])
        digits = sum(c.isdigit() for c in shown)
        if s.label == "email":
            assert digits <= 1 + sum(c.isdigit() for c in shown[shown.index("@") :])
            assert shown[1 : shown.index("@")].strip("*") == ""
        elif s.label == "phone":
            prefix = 2 if shown.startswith("+86") else 0
            assert digits <= KEPT_DIGITS["phone"] + prefix
        else:
            assert digits <= KEPT_DIGITS[s.label]
    assert all(masked[i] == text[i] for i in range(len(text)) if i not in inside)


def test_pipeline_segmenter_gives_the_same_detections(detector, inspector):
    """The pipeline builds spaCy Docs from its own (rjieba) tokens; detections must not change."""
    fast = inspector.privacy
    for param in DETECT_CASES:
        text = param.values[0]
        assert [(s.label, s.start, s.end) for s in fast.detect(text, force=True)] == [
            (s.label, s.start, s.end) for s in detector.detect(text, force=True)
        ], text


def test_rating_comment_is_masked_in_results_and_parquet_unless_no_mask(tmp_path):
    """Issue 12: a default (masked) run copied the rating comment raw into results.jsonl and
    results.parquet, the files reports and BI tools read."""
    import json

    import pyarrow.parquet as pq

    from pipeline.cli import main

    comment = f"态度差!打我电话13812345678,身份证{ID_A},或者幺三八一二三四五六七八"
    record = {"id": "r-1", "channel": "chat", "rating": {"score": 1, "comment": comment},
              "turns": [{"role": "customer", "text": "在吗", "ts": 0}, {"role": "agent", "text": "您好,请问有什么可以帮您", "ts": 3}]}
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    for flags, masked in (([], True), (["--no-mask"], False)):
        out = tmp_path / ("masked" if masked else "raw")
        assert main(["inspect", str(src), "--out", str(out), *flags]) == 0
        [row] = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
        table = pq.read_table(next(out.rglob("results*.parquet"))).to_pylist()
        for got in (row["rating"]["comment"], table[0]["rating_comment"]):
            assert len(got) == len(comment)
            if masked:
                assert "13812345678" not in got and ID_A not in got and "一二三四五六七八" not in got
                assert got.startswith("态度差!打我电话138****5678") and row["rating"]["score"] == 1
            else:
                assert got == comment
