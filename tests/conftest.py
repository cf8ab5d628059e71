"""Shared fixtures. Anything that loads jieba, lexicons or spaCy is module- or session-scoped."""

from __future__ import annotations

import glob
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data" / "raw"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def config():
    from pipeline.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def inspector(config):
    from pipeline.run import Inspector

    return Inspector(config)


def make_conversation(turns, channel="chat", cid="t-1", **kw):
    """Build a Conversation from (role, text, ts[, end_ts]) tuples."""
    from pipeline.schema import Conversation, Turn

    built = []
    for i, t in enumerate(turns):
        role, text, ts = t[0], t[1], t[2] if len(t) > 2 else None
        end_ts = t[3] if len(t) > 3 else None
        built.append(Turn(i, role, text, ts, end_ts))
    return Conversation(cid, built, channel=channel, **kw)


@pytest.fixture()
def lexicon_copy(tmp_path, repo) -> Path:
    """A private copy of lexicons/ a test may edit."""
    dst = tmp_path / "lexicons"
    shutil.copytree(repo / "lexicons", dst)
    return dst


# --- PostgreSQL: a throwaway server for the session, a fresh database per test ----------------------
# Tests that take ``db_url`` run twice: on an SQLite file and on a real PostgreSQL server that this
# harness starts (initdb + pg_ctl from Debian's postgresql package) in a temp dir on a free port and
# stops at session end. Without PostgreSQL installed those runs skip locally and fail under CI=true.

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"  # Debian's layout; one dir per installed major version
PG_START_TIMEOUT_S = 60  # pg_ctl -w waits this long for the server to accept connections
PG_SUPERUSER = "postgres"
PG_DB_NAME_MAX = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)
_pg_db_counter = itertools.count()  # database names stay unique within the session
# Durability is pointless for a throwaway cluster; these make CREATE DATABASE and commits cheap.
PG_TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _pg_bindir() -> Path | None:
    dirs = [Path(d) for d in glob.glob(PG_BIN_GLOB) if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()]
    if dirs:
        # newest major version first: "15" > "13" numerically, not as strings ("9.6" < "10")
        return max(dirs, key=lambda d: [int(x) for x in re.findall(r"\d+", d.parent.name)] or [0])
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing_postgres(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: PostgreSQL tests must run; .ci/run installs Debian's postgresql)", pytrace=False)
    pytest.skip(f"{message}; install it (apt-get install postgresql) to run the PostgreSQL tests")


def _current_user() -> str:
    import getpass

    return getpass.getuser()


class _PgServer:
    """One throwaway PostgreSQL cluster: initdb into ``root``/data, socket and log in ``root``."""

    def __init__(self, bindir: Path, root: Path, port: int):
        self.bindir, self.root, self.port = bindir, root, port
        self.data = root / "data"
        self.log = root / "server.log"
        # root may not run the server: as root, every server command runs as the postgres user
        self.prefix = ["runuser", "-u", PG_SUPERUSER, "--"] if os.geteuid() == 0 else []
        self.user = PG_SUPERUSER if os.geteuid() == 0 else _current_user()

    def _run(self, *args: str) -> None:
        cmd = [*self.prefix, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"PostgreSQL test server: `{' '.join(cmd)}` exited {proc.returncode}\n"
                f"{proc.stdout}{proc.stderr}\n--- {self.log} ---\n{log}"
            )

    def start(self) -> None:
        if self.prefix:
            # the temp dir is root's (mode 700): the server user must own it to write data, socket and log
            shutil.chown(self.root, user=PG_SUPERUSER)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        options = " ".join(
            [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}"]
            + [f"-c {k}={v}" for k, v in PG_TEST_SETTINGS.items()]
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", str(PG_START_TIMEOUT_S), "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            # immediate: nothing in a throwaway cluster is worth a clean shutdown's wait
            subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, hint: str) -> str:
        """A new empty database named after ``hint`` (made unique); its SQLAlchemy URL."""
        slug = re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")
        name = f"t{next(_pg_db_counter)}_{slug}"[:PG_DB_NAME_MAX]
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        # FORCE: an engine the test left open must not keep the database (and its disk) alive
        self.admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE / DROP DATABASE need that) on the maintenance DB."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server (started on first use, stopped at session end even when tests fail)."""
    bindir = _pg_bindir()
    if bindir is None:
        _missing_postgres(f"PostgreSQL is not installed (no initdb/pg_ctl under {PG_BIN_GLOB} or on PATH)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _missing_postgres("running as root but `runuser` is missing (the server may not run as root)")
    try:
        import psycopg  # noqa: F401 — the driver the URLs name
    except ImportError:
        _missing_postgres("the psycopg driver is not installed (pip install -e '.[test]')")
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam(PG_SUPERUSER)
        except KeyError:
            _missing_postgres(f"running as root but there is no '{PG_SUPERUSER}' user to run the server as")
    # not pytest's tmp_path: its parents are root-only (mode 700), so the postgres user could not reach it
    root = Path(tempfile.mkdtemp(prefix="zhijian-pg-"))
    server = _PgServer(bindir, root, _free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server) -> str:
    """SQLAlchemy URL of one database on the session's server, shared by the whole session."""
    pg_server.admin("CREATE DATABASE zhijian_session")
    return pg_server.url("zhijian_session")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """An empty database for this test: an SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workbench.db'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database(request.node.name)
    yield url
    server.drop_database(url)


# --- workbench web: the bundled sample run, inspected once per session -----------------------------


@pytest.fixture(scope="session")
def workbench_run_dir(sample_run) -> Path:
    """The RUN_DIR the workbench pages and browser tests load (``sample_run`` below: one real
    ``zhijian inspect`` of the bundled samples per session)."""
    return sample_run


# --- Workbench: one inspected run of the bundled samples, shared by the workbench tests ------------------


def inspect_into(workdir: Path, inputs: list[str], out: str = "run", *extra: str) -> Path:
    """Run ``zhijian inspect`` in-process with ``workdir`` as the current directory, so the manifest
    records the inputs' paths relative to it (as an operator's run does). Returns the run dir."""
    from pipeline.cli import main

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        code = main(["inspect", *inputs, "--out", out, "--workers", "1", "--quiet", *extra])
    finally:
        os.chdir(cwd)
    assert code in (0, 3), f"zhijian inspect exited {code}"
    return workdir / out


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory, repo) -> Path:
    """RUN_DIR of ``zhijian inspect samples/conversations.jsonl samples/turns.csv --out run`` on a copy
    of data/samples (241 conversations: JSONL and a long CSV table). Read-only: copy it to change it."""
    work = tmp_path_factory.mktemp("sample-run")
    (work / "samples").mkdir()
    for name in ("conversations.jsonl", "turns.csv"):
        shutil.copy(repo / "data" / "samples" / name, work / "samples" / name)
    return inspect_into(work, ["samples/conversations.jsonl", "samples/turns.csv"])


# --- Workbench databases: a cheap argon2 (many logins per test) and a migrated database per test ------

FAST_ARGON2 = {"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1}


@pytest.fixture(scope="session")
def cfg():
    """The default configuration with argon2 cheap enough for tests that log in many times."""
    from pipeline.config import load_config

    return load_config(overrides={"workbench": {"argon2": FAST_ARGON2}})


@pytest.fixture()
def factory(db_url):
    """A session factory on a freshly migrated database (SQLite file, then PostgreSQL: see ``db_url``)."""
    from pipeline.workbench.database import make_engine, make_session_factory, upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()
