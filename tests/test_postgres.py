"""The PostgreSQL test harness itself (tests/conftest.py): the server starts, databases are fresh."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, select, text


def _probe_table(metadata: MetaData) -> Table:
    return Table("harness_probe", metadata, Column("id", Integer, primary_key=True), Column("text", String(32)))


@pytest.mark.postgres
def test_pg_url_is_a_real_postgresql_server(pg_url):
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            assert conn.dialect.name == "postgresql"
            version = conn.execute(text("SHOW server_version_num")).scalar_one()
            assert int(version) >= 100000  # a real server answered, not a stand-in
            encoding = conn.execute(text("SHOW server_encoding")).scalar_one()
            assert encoding == "UTF8"  # Chinese text round-trips
    finally:
        engine.dispose()


def test_db_url_is_empty_and_usable(db_url):
    """Both backends: a fresh database with no tables, where a table can be created and Chinese stored."""
    engine = create_engine(db_url)
    try:
        assert inspect(engine).get_table_names() == []
        metadata = MetaData()
        probe = _probe_table(metadata)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(probe.insert(), [{"text": "您好,很高兴为您服务"}])
        with engine.connect() as conn:
            assert conn.execute(select(probe.c.text)).scalar_one() == "您好,很高兴为您服务"
        assert inspect(engine).get_table_names() == ["harness_probe"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_gets_its_own_database(db_url, round_):
    """The table the previous round created is not visible: every use of ``db_url`` starts empty."""
    engine = create_engine(db_url)
    try:
        assert inspect(engine).get_table_names() == []
        metadata = MetaData()
        _probe_table(metadata)
        metadata.create_all(engine)
    finally:
        engine.dispose()
