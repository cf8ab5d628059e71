"""Does a flood of failed logins starve the workbench's pages? GET /my latency during waves of
concurrent wrong-password logins, for each cap on concurrent password hashes (issue 12).

For each value of ``--hashes`` the real workbench is started (``zhijian serve``, a subprocess on a
free port, a fresh SQLite database and secret key in a temporary directory) with the default argon2
parameters (``workbench.argon2``: 64 MiB per hash) and ``workbench.login_concurrent_hashes`` set to
that value; the per-username and per-address login limits are raised out of the way so the flood
reaches the hashing. One inspector logs in with httpx; then GET /my is measured

  (a) idle: ``--samples`` requests one after the other, after a warm-up — the floor;
  (b) during the flood: waves of ``--flood`` concurrent logins with the wrong password (each from its
      own anonymous session with a valid CSRF token, released together by a barrier; the next wave
      starts when every login of the last one is answered), while the logged-in client starts a
      GET /my every ``--interval`` seconds on a fixed clock whether or not the last one is answered
      (open loop: sampling one request after the other would wait out a stall and time it once);
      latency counts from the tick; with 40 unanswered, ticks are skipped and counted. At least 3
      waves, then more until ``--samples`` requests were timed during waves, or ``--budget``
      seconds have passed. The bench's own threads share the machine with the server.

Printed per cap: /my p50 / p95 / max during the flood, p50 ÷ the idle p50 of the same server, the
logins answered 429 (every hashing slot busy: refused before hashing) and 401 (hashed, wrong
password), /my answered other than 200 (err) and ticks skipped (skip), the median time for a whole
wave to be answered, and the server's RSS idle and at its
peak (VmHWM from /proc; psutil's current RSS where there is no /proc). ``--hashes 80`` is about the
old unbounded behaviour (uvicorn's thread pool runs at most 40 sync handlers at once anyway). A
cap of 15 or more can also run out of database connections (SQLAlchemy's pool: 5 + 10 overflow;
a login keeps its connection while it hashes): /my then fails (err) after a 30 s wait.

    python bench/login_flood.py                        # --hashes 4,80 --flood 80 --samples 50
    python bench/login_flood.py --hashes 1,4,80 --interval 0.2   # /my 5 times a second
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.realtime_latency import free_port, summary, wait_until_healthy  # noqa: E402

USERNAME = "bench.inspector"
PASSWORD = "bench-login-flood-1"  # noqa: S105 — a throwaway user in a temporary database
WRONG_PASSWORD = "not-the-password"  # noqa: S105
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
IDLE_WARMUP = 10
HTTP_TIMEOUT_S = 120  # a request during an unbounded flood can take seconds; rarely a timeout error (599)
MIN_WAVES = 3
MAX_OUTSTANDING = 40  # unanswered /my requests at once (uvicorn's thread pool holds 40 sync handlers)
SAMPLER_THREADS = MAX_OUTSTANDING


def write_config(workdir: Path, hashes: int) -> Path:
    """A --config YAML: this cap, cookies over plain http, login limits out of the way, key in ``workdir``."""
    path = workdir / f"config-{hashes}.yaml"
    wb = {"secret_key_file": str(workdir / "workbench.secret"), "secure_cookies": False,
          "login_concurrent_hashes": hashes, "login_max_failures": 100_000, "login_max_failures_per_client": 100_000}
    path.write_text(json.dumps({"workbench": wb}), encoding="utf-8")  # JSON is YAML
    return path


def zhijian(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def create_user(config: Path, url: str) -> None:
    cmd = zhijian("users", "create", USERNAME, "--role", "inspector", "--password-stdin",
                  "--config", str(config), "--database-url", url)
    done = subprocess.run(cmd, cwd=REPO, input=PASSWORD + "\n", capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"zhijian users create failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@contextmanager
def server(config: Path, url: str, log: Path):
    """``zhijian serve`` on a free port; yields (process, base URL); always stopped on the way out."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(zhijian("serve", "--config", str(config), "--database-url", url,
                                        "--host", "127.0.0.1", "--port", str(port)),
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)  # uvicorn waits for open connections; a stalled one won't close them
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of ``pid`` in MB: VmRSS / VmHWM from /proc, else psutil's RSS for both."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
        return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]
    except (OSError, KeyError):
        import psutil

        now = psutil.Process(pid).memory_info().rss / 2**20
        return now, now


def anonymous_session(base: str):
    """An httpx client holding a fresh session cookie, and that session's CSRF token."""
    import httpx

    client = httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S, limits=httpx.Limits(max_connections=None))
    r = client.get("/login")
    m = CSRF_RE.search(r.text)
    if r.status_code != 200 or m is None:
        raise SystemExit(f"GET /login: HTTP {r.status_code}, no {CSRF_RE.pattern} in the page")
    return client, m.group(1)


def login(client, csrf: str, password: str) -> int:
    return client.post("/login", data={"csrf_token": csrf, "username": USERNAME, "password": password}).status_code


def get_my(client, t0: float) -> tuple[float, int]:
    """Seconds from ``t0`` until GET /my is answered, and the status (a transport error counts as 599)."""
    import httpx

    try:
        status = client.get("/my").status_code
    except httpx.TransportError:
        status = 599
    return time.perf_counter() - t0, status


def timed_get(client) -> float:
    took, status = get_my(client, time.perf_counter())
    if status != 200:
        raise SystemExit(f"GET /my: HTTP {status} (expected the page; did the login end?)")
    return took


def released_login(barrier: threading.Barrier, session) -> int:
    barrier.wait()
    return login(*session, WRONG_PASSWORD)


class Sampler(threading.Thread):
    """Starts a GET /my every ``interval`` seconds on a fixed clock, answered or not (open loop: a
    stalled server can't slow the sampling down and so hide its stalls); a request counts when a
    wave was in flight at its tick, and its latency is taken from the tick. With ``MAX_OUTSTANDING``
    unanswered, a tick is skipped and counted instead (a stalled server is not buried deeper)."""

    def __init__(self, client, interval: float):
        super().__init__(daemon=True)
        self.client, self.interval = client, interval
        self.in_flight = threading.Event()
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=SAMPLER_THREADS)
        self.futures: list = []
        self.skipped = 0

    def run(self) -> None:
        tick = time.perf_counter()
        while not self.stop.is_set():
            tick += self.interval
            time.sleep(max(0.0, tick - time.perf_counter()))
            if not self.in_flight.is_set():
                continue
            if sum(not f.done() for f in self.futures[-MAX_OUTSTANDING:]) >= MAX_OUTSTANDING:
                self.skipped += 1
            else:
                self.futures.append(self.pool.submit(get_my, self.client, tick))

    def results(self, wait: bool = True) -> list[tuple[float, int]]:
        """(latency, status) of every counted request, once all are answered (``wait``) or of those answered."""
        self.stop.set()
        self.join()
        self.pool.shutdown(wait=wait, cancel_futures=not wait)
        return [f.result() for f in self.futures if f.done() and not f.cancelled()]


def flood(base: str, user_client, args) -> dict:
    """Waves of ``args.flood`` concurrent wrong-password logins while the Sampler times /my."""
    sessions = [anonymous_session(base) for _ in range(args.flood)]
    statuses: dict[int, int] = {}
    wave_s: list[float] = []
    sampler = Sampler(user_client, args.interval)
    sampler.start()
    start = time.monotonic()
    finished = False
    try:
        with ThreadPoolExecutor(max_workers=args.flood) as pool:
            while len(wave_s) < MIN_WAVES or (len(sampler.futures) < args.samples and time.monotonic() - start < args.budget):
                barrier = threading.Barrier(args.flood + 1)
                futures = [pool.submit(released_login, barrier, s) for s in sessions]
                barrier.wait()
                sampler.in_flight.set()
                t0 = time.perf_counter()
                for f in futures:
                    code = f.result()
                    statuses[code] = statuses.get(code, 0) + 1
                sampler.in_flight.clear()
                wave_s.append(time.perf_counter() - t0)
        finished = True
    finally:
        answered = sampler.results(wait=finished)  # on an error, don't wait for a stalled server
        for client, _ in sessions:
            client.close()
    unexpected = {k: v for k, v in statuses.items() if k not in (401, 429)}
    if unexpected:
        print(f"  (flood logins also answered {unexpected}: only 401 and 429 expected)", file=sys.stderr)
    return {"times": [t for t, st in answered if st == 200], "errors": sum(st != 200 for _, st in answered),
            "skipped": sampler.skipped, "waves": len(wave_s), "wave_s": wave_s, "statuses": statuses}


def run_cap(workdir: Path, hashes: int, args) -> dict:
    """One server with ``login_concurrent_hashes: hashes``: idle /my, then /my during the flood."""
    import httpx

    config = write_config(workdir, hashes)
    url = f"sqlite:///{workdir / f'workbench-{hashes}.db'}"
    create_user(config, url)
    log = workdir / f"server-{hashes}.log"
    with server(config, url, log) as (proc, base), httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S) as client:
        wait_until_healthy(client, proc, log)
        session, csrf = anonymous_session(base)
        try:
            code = login(session, csrf, PASSWORD)
            if code != 303:
                raise SystemExit(f"login of {USERNAME}: HTTP {code}, expected 303")
            idle = [timed_get(session) for _ in range(IDLE_WARMUP + args.samples)][IDLE_WARMUP:]
            rss_idle, _ = rss_mb(proc.pid)
            during = flood(base, session, args)
        finally:
            session.close()
        _, rss_peak = rss_mb(proc.pid)
    nan = {k: float("nan") for k in ("p50", "p95", "p99", "max", "mean")}
    return {"hashes": hashes, "idle_ms": summary(idle), "flood_ms": summary(during["times"]) if during["times"] else nan,
            "n": len(during["times"]), "errors": during["errors"], "skipped": during["skipped"], "waves": during["waves"], "wave_s": median(during["wave_s"]), "statuses": during["statuses"],
            "rss_idle_mb": rss_idle, "rss_peak_mb": rss_peak}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hashes", default="4,80", help="values of workbench.login_concurrent_hashes, one server each (default 4,80)")
    ap.add_argument("--flood", type=int, default=80, help="concurrent wrong-password logins per wave (default 80)")
    ap.add_argument("--samples", type=int, default=50, help="/my requests timed idle, and wanted during the flood (default 50)")
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between /my requests during the flood (default 0.05)")
    ap.add_argument("--budget", type=float, default=120, help="seconds of flood per cap at most (default 120)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args(argv)
    try:
        caps = [int(v) for v in args.hashes.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--hashes: comma-separated integers, got {args.hashes!r}")
    if not caps or min(caps) < 1 or args.flood < 1 or args.samples < 1 or args.budget <= 0 or args.interval <= 0:
        ap.error("--hashes values, --flood and --samples must be at least 1, --budget and --interval positive")
    # a plain `kill` of the bench still stops the servers (the finally blocks run)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    from pipeline.config import load_config

    argon2 = load_config()["workbench"]["argon2"]
    load_before = os.getloadavg()[0]
    print(f"login flood: waves of {args.flood} concurrent wrong-password logins; argon2id time_cost {argon2['time_cost']}, "
          f"memory {argon2['memory_cost_kib'] // 1024} MiB, parallelism {argon2['parallelism']}; load average "
          f"{load_before:.1f} at the start on {os.cpu_count()} CPUs")
    print(f"{'hashes':>6}{'idle p50':>10}{'p50':>9}{'p95':>9}{'max':>9}{'÷ idle':>8}{'n':>5}{'err':>5}{'skip':>6}"
          f"{'waves':>6}{'429':>7}{'401':>6}{'wave s':>8}{'RSS idle':>10}{'peak':>8}   (/my in ms during the flood; RSS in MB)")
    print("  n: /my answered 200 during waves; err: answered otherwise; skip: ticks skipped with 40 unanswered", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zhijian-login-flood-") as tmp:
        for h in caps:
            r = run_cap(Path(tmp), h, args)
            rows.append(r)
            f, st = r["flood_ms"], r["statuses"]
            print(f"{r['hashes']:>6}{r['idle_ms']['p50']:>10.1f}{f['p50']:>9.1f}{f['p95']:>9.1f}{f['max']:>9.1f}"
                  f"{f['p50'] / r['idle_ms']['p50']:>8.1f}{r['n']:>5}{r['errors']:>5}{r['skipped']:>6}{r['waves']:>6}"
                  f"{st.get(429, 0):>7}{st.get(401, 0):>6}{r['wave_s']:>8.2f}{r['rss_idle_mb']:>10.0f}{r['rss_peak_mb']:>8.0f}",
                  flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
