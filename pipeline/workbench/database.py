"""Database access for the workbench: the URL, engines, sessions, and Alembic migrations run from code.

The schema is created and changed only by the migrations in ``pipeline/workbench/migrations/``
(no ``alembic.ini``: the configuration is built here, so it works from an installed package).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ..config import ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")
URL_ENV = "ZHIJIAN_DATABASE_URL"
DEFAULT_BUSY_TIMEOUT_S = 30.0


def database_url(config: dict | None, override: str | None = None) -> str:
    """The URL to use: ``override`` (``--database-url``), else env ``ZHIJIAN_DATABASE_URL``, else
    ``workbench.database_url``. A malformed URL is a ConfigError naming where it came from."""
    if override:
        url, where = override, "--database-url"
    elif os.environ.get(URL_ENV):
        url, where = os.environ[URL_ENV], f"environment variable {URL_ENV}"
    else:
        url, where = (config or {}).get("workbench", {}).get("database_url") or "sqlite:///workbench.db", "workbench.database_url"
    try:
        make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"{where}: {url!r} is not a database URL; use e.g. sqlite:///workbench.db or "
            "postgresql+psycopg://user:password@host/dbname") from None
    return url


def _json_dumps(value) -> str:
    # orjson: the JSON columns (transcripts, findings' detail) are most of a load's serialisation work
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


def make_engine(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, echo: bool = False) -> Engine:
    """An engine for ``url``. SQLite gets foreign keys on (the schema's ON DELETE CASCADE relies on
    them), WAL (the web app reads while ``zhijian load`` writes) and a busy timeout instead of
    failing at once on a lock."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, echo=echo, connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
                               json_serializer=_json_dumps, json_deserializer=orjson.loads)
        file_db = bool(u.database) and u.database != ":memory:"

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001 — DB-API connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if file_db:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses at most the last commit
            cur.close()

        return engine
    return create_engine(u, echo=echo, pool_pre_ping=True, json_serializer=_json_dumps, json_deserializer=orjson.loads)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: pages render objects after the request's commit without a re-query
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit at the end, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):
    """The Alembic configuration, built in code (the URL travels in ``attributes``, not in an ini
    file, so a password with ``%`` in it needs no escaping)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head", sql: bool = False) -> None:
    """Bring the database at ``url`` to ``revision`` (creates every table on an empty database).
    ``sql``: print the SQL instead of running it (for a DBA)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision, sql=sql)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def open_database(url: str, *, migrate: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory for ``url``, migrated to head first unless ``migrate`` is False
    (then a database behind head is a ConfigError telling how to upgrade it)."""
    if migrate:
        upgrade(url)
    else:
        have, want = current_revision(url), head_revision()
        if have != want:
            raise ConfigError(f"database {safe_url(url)} is at revision {have or '(empty)'}, the code needs {want}: "
                              "run `zhijian db upgrade` first")
    engine = make_engine(url)
    return engine, make_session_factory(engine)


def safe_url(url: str) -> str:
    """The URL with its password hidden (for messages and logs)."""
    return make_url(url).render_as_string(hide_password=True)
