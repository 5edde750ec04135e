"""The schema comes only from the migrations, and they match the models exactly."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from voicehub.db import alembic_config
from voicehub.schema import metadata


def test_migrations_match_the_models(database_url: str) -> None:
    command.check(alembic_config(database_url))


def test_the_test_database_is_at_head_and_has_every_table(database_url: str) -> None:
    config = alembic_config(database_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert version == head
    assert set(metadata.tables) <= tables


def test_upgrading_a_spine_database_keeps_its_consents_fail_closed(tmp_path: Path) -> None:
    """0002 turns each version's single price into per-use prices and asks for verification."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0001")
    engine = create_engine(url)
    now = "2026-11-01 00:00:00.000000"
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"INSERT INTO actors VALUES ('act_1', 'Rin', 'Rin', 0, '{now}')"
            )
            connection.exec_driver_sql(
                f"INSERT INTO voices VALUES ('voice_1', 'act_1', 'v', 'en', 'piper', 'joe', '{'0' * 64}', 0, '{now}')"
            )
            connection.exec_driver_sql(
                f"INSERT INTO consents VALUES ('cns_1', 'act_1', 'voice_1', 1, '{now}')"
            )
            connection.exec_driver_sql(
                "INSERT INTO consent_versions (id, consent_id, version, status, allowed_uses, languages, "
                "allowed_studio_ids, currency, price_per_1k_chars_micros, actor_share_bps, starts_at, "
                "changed_by, reason, created_at) VALUES ('cnv_1', 'cns_1', 1, 'ACTIVE', "
                f"'[\"animation\", \"games\"]', '[\"en\"]', '[]', 'JPY', 3000, 7000, '{now}', 'x', 'granted', '{now}')"
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            prices, verification, territories = connection.exec_driver_sql(
                "SELECT prices_per_1k_chars_micros, verification, territories FROM consent_versions"
            ).one()
            head = connection.exec_driver_sql("SELECT seq, entry_hash FROM consent_log_head").one()
    finally:
        engine.dispose()
    assert json.loads(prices) == {"animation": 3000, "games": 3000}
    assert verification == "PENDING", "consents made before verification existed must be verified"
    assert json.loads(territories) == ["WW"]
    assert tuple(head) == (0, "0" * 64)
