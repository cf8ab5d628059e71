"""Latency of the real-time API: POST /api/v1/inspect for one 30-turn conversation, over HTTP.

Starts the real app (``uvicorn --factory pipeline.workbench.api:build_api_app``) in a subprocess
on a free port with a fresh SQLite database and API token, sends ``-n`` requests one after the
other over one keep-alive connection (httpx) after a warm-up, and prints p50 / p95 / p99 / max in
ms. Next to it, measured in the same run: ``Inspector.inspect`` on the same conversation in this
process — the floor the endpoint cannot beat — and the ratio of the two.

    python bench/realtime_latency.py            # 500 requests, 30 turns
    python bench/realtime_latency.py -n 2000 --turns 60
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SERVER_START_TIMEOUT_S = 120  # the server loads lexicons, segmenter, spaCy and models before it listens
PERCENTILES = (50, 95, 99)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    out = {f"p{p}": percentile(ms, p) for p in PERCENTILES}
    out["max"] = ms[-1]
    out["mean"] = sum(ms) / len(ms)
    return out


def conversation(turns: int, seed: int, workdir: Path) -> bytes:
    """One realistic conversation of ``turns`` turns (bench/generate.py's generator), as a JSON line."""
    from bench.generate import generate

    path = generate(workdir / "conversation.jsonl", 1, turns=turns, seed=seed)
    return path.read_bytes().strip()


def prepare_database(url: str) -> str:
    """Migrate an empty database and create an API token; return the token."""
    from pipeline.workbench.database import make_engine, make_session_factory, upgrade
    from pipeline.workbench.users import create_api_token

    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            token = create_api_token(session, "bench-realtime-latency")
            session.commit()
    finally:
        engine.dispose()
    return token


def start_server(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "ZHIJIAN_DATABASE_URL": url, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "pipeline.workbench.api:build_api_app",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_until_healthy(client, proc: subprocess.Popen, log: Path) -> dict:
    import httpx

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            r = client.get("/api/v1/health")
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server did not become healthy within {SERVER_START_TIMEOUT_S} s; log: {log}")


class Floor:
    """``Inspector.inspect`` alone in this process, on a freshly validated copy of the conversation
    each time (inspect enriches the Conversation it is given); validation is outside the timed part."""

    def __init__(self, body: bytes):
        import orjson

        from pipeline.config import load_config
        from pipeline.ingest import Validator
        from pipeline.run import Inspector

        self.config = load_config()
        self.validator_class = Validator
        self.inspector = Inspector(self.config)
        self.inspector.warm_up()
        gc.freeze()  # as the server does after loading (pipeline/workbench/api.py install)
        self.obj = orjson.loads(body)
        self.result = None

    def __call__(self) -> float:
        conv = self.validator_class(self.config).validate(self.obj)
        t0 = time.perf_counter()
        self.result = self.inspector.inspect(conv)
        return time.perf_counter() - t0


def measure(client, body: bytes, token: str, floor: Floor, n: int, warmup: int) -> dict[str, list[float]]:
    """Alternate one inspection over HTTP, one health check over HTTP (the HTTP round trip, a thread
    hop and a database ping: what any request costs) and one in-process inspection, so that all three
    see the same machine load; they never overlap (the server is idle while this process inspects)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    clock = time.perf_counter
    times: dict[str, list[float]] = {"http": [], "health": [], "floor": []}
    for i in range(warmup + n):
        t0 = clock()
        r = client.post("/api/v1/inspect", content=body, headers=headers)
        t1 = clock()
        h = client.get("/api/v1/health")
        t2 = clock()
        if r.status_code != 200 or h.status_code != 200:
            raise SystemExit(f"request {i}: HTTP {r.status_code} / {h.status_code}: {r.text[:500]}")
        inspect_s = floor()
        if i >= warmup:
            times["http"].append(t1 - t0)
            times["health"].append(t2 - t1)
            times["floor"].append(inspect_s)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500, help="measured requests (default 500)")
    ap.add_argument("--warmup", type=int, default=50, help="requests sent and not measured first (default 50)")
    ap.add_argument("--turns", type=int, default=30, help="turns in the conversation (default 30)")
    ap.add_argument("--seed", type=int, default=7, help="which generated conversation (default 7)")
    ap.add_argument("--database-url", help="a migrated-or-empty database to use (default: a temporary SQLite file)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args(argv)
    if args.n < 1 or args.warmup < 0:
        ap.error("-n must be at least 1 and --warmup at least 0")

    import httpx

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="zhijian-latency-") as tmp:
        workdir = Path(tmp)
        url = args.database_url or f"sqlite:///{workdir / 'workbench.db'}"
        body = conversation(args.turns, args.seed, workdir)
        token = prepare_database(url)
        port = free_port()
        log = workdir / "server.log"
        proc = start_server(url, port, log)
        try:
            floor = Floor(body)  # loads while the server starts
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                health = wait_until_healthy(client, proc, log)
                times = measure(client, body, token, floor, args.n, args.warmup)
                api_result = client.post("/api/v1/inspect", content=body, headers={"Authorization": f"Bearer {token}"}).json()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    import orjson

    floor_result = orjson.loads(orjson.dumps(floor.result))
    api_result.pop("source", None)
    floor_result.pop("source", None)
    if api_result != floor_result:
        raise SystemExit("the API's result differs from Inspector.inspect's for the same conversation")

    http_ms, health_ms, floor_ms = (summary(times[k]) for k in ("http", "health", "floor"))
    obj = json.loads(body)
    print(f"real-time API latency: {args.n} sequential requests after {args.warmup} warm-up, one keep-alive connection; "
          f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other jobs slow every row)")
    print(f"conversation: {len(obj['turns'])} turns, {sum(len(t['text']) for t in obj['turns'])} characters, "
          f"{len(body)} bytes; {len(api_result['findings'])} findings; versions {health['versions']}")
    print(f"{'':32}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}{'mean':>9}  (ms)")
    rows = (("POST /api/v1/inspect (HTTP)", http_ms), ("GET /api/v1/health (HTTP)", health_ms),
            ("Inspector.inspect (floor)", floor_ms))
    for name, s in rows:
        print(f"{name:32}" + "".join(f"{s[k]:9.2f}" for k in ("p50", "p95", "p99", "max", "mean")))
    ratio = {k: http_ms[k] / floor_ms[k] for k in ("p50", "p99")}
    print(f"{'inspect over HTTP / floor':32}{ratio['p50']:9.2f}{'':9}{ratio['p99']:9.2f}"
          f"   overhead at p50: {http_ms['p50'] - floor_ms['p50']:.2f} ms")
    if args.json:
        print(json.dumps({"http_ms": http_ms, "health_ms": health_ms, "inspect_ms": floor_ms, "ratio": ratio,
                          "n": args.n, "turns": len(obj["turns"])}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
