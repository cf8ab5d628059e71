"""The optional ``endpoint`` answerer: a question asked of an OpenAI-compatible chat endpoint a
user runs (vLLM, Ollama, a cloud service), for questions no model here has been trained for.

**Off by default — nothing is sent anywhere** unless ``questions.endpoint.url`` is set in the
configuration. When it is:

* the transcript is **masked** first (phone, ID-card, bank-card numbers, e-mail: the turn's PII
  spans, as everywhere a file or a person sees text) and sent as numbered turns with the question,
  its choices and the instruction to answer in JSON with quotes;
* the answer must be one of the choices and must **quote evidence found verbatim** in the (masked)
  turn it names — a made-up or altered quote discards the answer as unsupported (``answer: null``,
  ``needs_review``, ``reason: unsupported``): a fluent model is no evidence;
* responses are **cached** on disk by (conversation text hash, question version — a hash of the
  question's wording, choices and prompt template, and the endpoint model), so a re-run sends
  nothing new;
* a **budget** caps the requests per process (``max_requests``; past it: ``reason: budget``) and a
  semaphore the requests in flight (``concurrency``).

An endpoint's answers are 试运行: they are shown with their quotes and never cost points (no
held-out accuracy has been measured for them here).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.error
import urllib.request
from typing import Any

from ..config import working_path
from ..schema import Conversation

_BY_SETTINGS: dict[str, "EndpointAnswerer"] = {}


def endpoint_for(config: dict) -> "EndpointAnswerer":
    """The process's answerer for these endpoint settings (one budget, one cache per process)."""
    key = json.dumps(config["questions"]["endpoint"], sort_keys=True, ensure_ascii=False)
    if key not in _BY_SETTINGS:
        _BY_SETTINGS[key] = EndpointAnswerer(config)
    return _BY_SETTINGS[key]

class EndpointAnswerer:
    """Asks one configured endpoint; one instance per process (its budget and cache are per process)."""

    def __init__(self, config: dict):
        cfg = config["questions"]["endpoint"]  # pipeline/defaults.yaml: every key, url null = off
        self.url = cfg["url"]
        self.model = cfg["model"]
        self.api_key = os.environ.get(cfg["api_key_env"]) if cfg["api_key_env"] else None
        self.timeout_s = float(cfg["timeout_s"])
        self.max_requests = int(cfg["max_requests"])
        self.prompt = cfg["prompt"]
        self.cache_dir = working_path(cfg["cache_dir"])
        self.mask_char = (config.get("privacy") or {}).get("mask_char", "*")
        self._slots = threading.BoundedSemaphore(int(cfg["concurrency"]))
        self._lock = threading.Lock()
        self.requests_sent = 0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def masked_turns(self, conversation: Conversation) -> list[str]:
        from ..privacy import mask_span_text

        return [mask_span_text(t.text, 0, len(t.text), t.pii, self.mask_char) if t.pii else t.text for t in conversation.turns]

    def _version(self, params: dict[str, Any]) -> str:
        key = json.dumps([params.get("question"), params.get("choices"), self.prompt, self.model], ensure_ascii=False)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def answer(self, question_id: str, params: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
        """``{answer, evidence_turns, quotes, reason}`` — ``answer`` is None when the endpoint is off,
        over budget, unreachable or unsupported by its own quotes (``reason`` says which)."""
        turns = self.masked_turns(conversation)
        transcript = "\n".join(f"[{i}] {'客户' if t.role == 'customer' else '坐席' if t.role == 'agent' else t.role}: {text}"
                               for i, (t, text) in enumerate(zip(conversation.turns, turns)))
        digest = hashlib.sha256(transcript.encode()).hexdigest()
        cache_file = self.cache_dir / self._version(params) / f"{digest}.json"
        if cache_file.exists():
            reply = json.loads(cache_file.read_text(encoding="utf-8"))
        else:
            with self._lock:
                if self.requests_sent >= self.max_requests:
                    return {"answer": None, "evidence_turns": [], "quotes": [], "reason": "budget"}
                self.requests_sent += 1
            prompt = self.prompt.format(question=params["question"], choices=" / ".join(params["choices"]), transcript=transcript)
            try:
                with self._slots:
                    reply = self._post(prompt)
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
                return {"answer": None, "evidence_turns": [], "quotes": [], "reason": f"endpoint error: {type(e).__name__}"}
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(reply, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, cache_file)
        return validate_reply(reply, params["choices"], turns)

    def _post(self, prompt: str) -> dict[str, Any]:
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 — a URL the user configured
            data = json.loads(resp.read().decode("utf-8"))
        content = data["choices"][0]["message"]["content"]
        start, end = content.find("{"), content.rfind("}")
        if start < 0 or end < start:
            raise ValueError("no JSON object in the endpoint's reply")
        return json.loads(content[start : end + 1])


def validate_reply(reply: Any, choices: list[str], turns: list[str]) -> dict[str, Any]:
    """Keep an endpoint's answer only when it is a choice and every quote is found verbatim in the
    masked turn it names."""
    if not isinstance(reply, dict) or reply.get("answer") not in choices:
        return {"answer": None, "evidence_turns": [], "quotes": [], "reason": "not one of the choices"}
    evidence = reply.get("evidence")
    if not isinstance(evidence, list) or not evidence:
        return {"answer": None, "evidence_turns": [], "quotes": [], "reason": "unsupported: no quote"}
    out_turns, quotes = [], []
    for e in evidence:
        turn = e.get("turn") if isinstance(e, dict) else None
        quote = e.get("quote") if isinstance(e, dict) else None
        if (not isinstance(turn, int) or isinstance(turn, bool) or not 0 <= turn < len(turns)
                or not isinstance(quote, str) or not quote.strip() or quote not in turns[turn]):
            return {"answer": None, "evidence_turns": [], "quotes": [], "reason": "unsupported: a quote is not in the transcript"}
        if turn not in out_turns:
            out_turns.append(turn)
        quotes.append(quote)
    return {"answer": reply["answer"], "evidence_turns": out_turns, "quotes": quotes, "reason": None}
