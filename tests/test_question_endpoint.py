"""The optional `endpoint` answerer of scorecard questions, against a local OpenAI-compatible test
server this test starts: off by default, masked transcripts, quotes checked verbatim, a disk
cache, a request budget."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from conftest import make_conversation

PHONE = "13812345678"


class FakeEndpoint:
    """/v1/chat/completions that answers 是 quoting the agent's last turn (or, ``made_up``, a
    sentence that is nowhere in the transcript)."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.made_up = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode())
                outer.bodies.append(body)
                prompt = body["messages"][0]["content"]
                lines = re.findall(r"^\[(\d+)\] 坐席: (.*)$", prompt, flags=re.M)
                turn, text = lines[-1]
                quote = "我们保证全额退款并赔偿" if outer.made_up else text[:6]
                content = "好的,结论如下:" + json.dumps({"answer": "是", "evidence": [{"turn": int(turn), "quote": quote}]},
                                                     ensure_ascii=False)
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/chat/completions"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def endpoint():
    e = FakeEndpoint()
    yield e
    e.server.shutdown()


def _inspector(repo, tmp_path, url=None, **endpoint_cfg):
    from pipeline.config import load_config
    from pipeline.run import Inspector

    raw = yaml.safe_load((repo / "lexicons" / "rules.yaml").read_text(encoding="utf-8"))
    raw["rules"].append({"id": "question.explained_llm", "kind": "question", "category": "服务流程", "severity": "minor",
                         "question": "坐席是否清晰解释了解决方案?", "choices": ["是", "否", "不适用"], "fails_on": "否",
                         "answerer": "endpoint", "message": "x", "source": "seed 001"})
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = load_config()
    config["paths"] = {**config["paths"], "rules": str(tmp_path / "rules.yaml"), "lexicons": str(repo / "lexicons"),
                       "scorecard": str(repo / "lexicons" / "scorecard.yaml"), "models": str(repo / "models")}
    config["questions"]["endpoint"] = {**config["questions"]["endpoint"], "url": url, "model": "test-llm",
                                       "cache_dir": str(tmp_path / "cache"), **endpoint_cfg}
    return Inspector(config)


def _chat(cid="q-1", phone=PHONE):
    return make_conversation([("customer", f"我的快递怎么还没到,电话{phone}", 0),
                              ("agent", "您好,已经帮您催促站点,明天上午送达,请保持电话畅通", 5),
                              ("customer", "好的谢谢", 9), ("agent", "还有其他可以帮您的吗?祝您生活愉快", 12)], cid=cid)


def _answer(result):
    return next((q for q in result.questions or [] if q["id"] == "question.explained_llm"), None)


def test_off_by_default_nothing_is_sent(repo, tmp_path, endpoint):
    result = _inspector(repo, tmp_path, url=None).inspect(_chat())
    assert _answer(result) is None and endpoint.bodies == []


def test_an_answer_with_a_verbatim_quote_is_kept_and_the_transcript_was_masked(repo, tmp_path, endpoint):
    result = _inspector(repo, tmp_path, url=endpoint.url).inspect(_chat())
    q = _answer(result)
    assert q["answer"] == "是" and q["evidence_turns"] == [3] and q["because"] == ["还有其他可以"]
    assert q["status"] == "试运行" and q["model"] == "endpoint:test-llm" and q["reason"] is None
    assert not [f for f in result.findings if f.rule == "question.explained_llm"]  # never scored
    sent = json.dumps(endpoint.bodies, ensure_ascii=False)
    assert len(endpoint.bodies) == 1 and PHONE not in sent and "1234" not in sent and "****" in sent


def test_a_made_up_quote_discards_the_answer(repo, tmp_path, endpoint):
    endpoint.made_up = True
    q = _answer(_inspector(repo, tmp_path, url=endpoint.url).inspect(_chat()))
    assert q["answer"] is None and q["needs_review"] and q["reason"].startswith("unsupported")


def test_replies_are_cached_by_conversation_and_question_version(repo, tmp_path, endpoint):
    first = _answer(_inspector(repo, tmp_path, url=endpoint.url).inspect(_chat()))
    again = _answer(_inspector(repo, tmp_path, url=endpoint.url).inspect(_chat()))  # a second inspection: from the disk cache
    assert first == again and len(endpoint.bodies) == 1
    _inspector(repo, tmp_path, url=endpoint.url, model="another-llm").inspect(_chat())  # another question version
    assert len(endpoint.bodies) == 2


def test_the_budget_caps_requests(repo, tmp_path, endpoint):
    inspector = _inspector(repo, tmp_path, url=endpoint.url, max_requests=1)
    a = _answer(inspector.inspect(_chat("q-1", phone="13900001111")))
    b = _answer(inspector.inspect(_chat("q-2", phone="13900002222")))
    assert a["answer"] == "是" and b["answer"] is None and b["reason"] == "budget" and len(endpoint.bodies) == 1


def test_an_unreachable_endpoint_is_an_answer_with_a_reason(repo, tmp_path):
    q = _answer(_inspector(repo, tmp_path, url="http://127.0.0.1:9/v1/chat/completions", timeout_s=2).inspect(_chat()))
    assert q["answer"] is None and q["reason"].startswith("endpoint error")
