"""The schema comes only from the migrations, and they match the models exactly."""

from __future__ import annotations

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
