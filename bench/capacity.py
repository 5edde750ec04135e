"""What grows with each line: database rows and bytes per table, and storage per hour of audio.

A fresh database (SQLite in a temporary directory, or with `--postgresql` a
new database on 127.0.0.1:5432, dropped afterwards) gets a studio and a Piper
voice; then, through the API in this process, a project whose script has
`--lines` lines, and one take of each line (`POST /v1/lines/{id}/takes`: the
consent gate, the engine, mastering to the studio's delivery spec, the usage
record, the ledger postings, the Content Credentials and the fingerprint), on a
uvicorn server in this process. Every
table is counted, and measured, after the studio is set up, after the script is
imported and after the takes; the report divides by the number of lines.

Bytes are what the database has allocated to each table with its indexes
(PostgreSQL `pg_total_relation_size`, SQLite's `dbstat` pages), so they move
in whole pages: use a few hundred lines for figures per line.

    .venv/bin/python -m bench.capacity --lines 200
    .venv/bin/python -m bench.capacity --lines 200 --postgresql
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from api.app import create_app
from bench.common import LINES, bench_studio, cast_script, scratch_postgresql, serving
from models.engines.registry import EngineRegistry
from voicehub.production.tables import Take
from voicehub.schema import metadata


def table_rows(database: Engine) -> dict[str, int]:
    with database.connect() as connection:
        return {
            table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
        }


def table_bytes(database: Engine) -> dict[str, int]:
    """Bytes allocated to each table and its indexes."""
    with database.connect() as connection:
        if database.dialect.name == "postgresql":
            return {
                table.name: int(
                    connection.scalar(
                        text("SELECT pg_total_relation_size(CAST(:name AS regclass))"),
                        {"name": table.name},
                    )
                    or 0
                )
                for table in metadata.sorted_tables
            }
        # dbstat names each table and index; an index is counted with its table.
        owners: dict[str, str] = {
            name: owner
            for name, owner in connection.execute(text("SELECT name, tbl_name FROM sqlite_master"))
        }
        sizes: dict[str, int] = dict.fromkeys((t.name for t in metadata.sorted_tables), 0)
        for name, size in connection.execute(
            text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        ):
            owner = owners.get(name, name)
            if owner in sizes:
                sizes[owner] += int(size)
        return sizes


def storage_bytes(root: Path) -> dict[str, int]:
    """Bytes of stored objects under `root`, by their first key segment (takes, vault…)."""
    sizes: dict[str, int] = {}
    for path in root.rglob("*"):
        if path.is_file():
            top = path.relative_to(root).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    return sizes


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def run(lines: int) -> None:
    engines = EngineRegistry.load(["piper"], cache_dir=None)
    texts = [LINES[i % len(LINES)] for i in range(lines)]
    with bench_studio(engines, [("piper", "joe", "en")]) as (runtime, key, [voice]):
        headers = {"Authorization": f"Bearer {key}"}
        database = runtime.database
        rows = [table_rows(database)]
        sizes = [table_bytes(database)]
        with (
            serving(create_app(runtime=runtime, run_worker=False)) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            _, line_ids = cast_script(client, headers, voice, texts)
            rows.append(table_rows(database))
            sizes.append(table_bytes(database))
            for line_id in line_ids:
                response = client.post(f"/v1/lines/{line_id}/takes", headers=headers)
                response.raise_for_status()
        rows.append(table_rows(database))
        sizes.append(table_bytes(database))
        with runtime.sessions() as session:
            samples, rates = session.execute(
                select(func.sum(Take.num_samples), func.max(Take.sample_rate))
            ).one()
            depth = session.scalar(select(func.max(Take.bit_depth)))
        audio_seconds = samples / rates
        stored = storage_bytes(runtime.settings.storage_dir)

        print(
            f"{lines} lines, {database.dialect.name}, {audio_seconds:.1f} s of audio"
            f" ({audio_seconds / lines:.2f} s a line), takes at {rates} Hz {depth}-bit"
        )
        print()
        print("| table | rows per line (import) | rows per line (take) | bytes per line |")
        print("|---|---|---|---|")
        imported, taken = _delta(rows[1], rows[0]), _delta(rows[2], rows[1])
        grown = _delta(sizes[2], sizes[0])
        total_rows = 0
        for name in rows[0]:
            if imported[name] or taken[name]:
                total_rows += imported[name] + taken[name]
                print(
                    f"| {name} | {imported[name] / lines:.2f} | {taken[name] / lines:.2f}"
                    f" | {grown[name] / lines:,.0f} |"
                )
        print(
            f"| **all, import and take** | | **{total_rows / lines:.2f}**"
            f" | **{sum(grown.values()) / lines:,.0f}** |"
        )
        print()
        for top, size in sorted(stored.items()):
            print(f"storage {top}/: {size / lines:,.0f} bytes a line")
        takes = stored.get("takes", 0)
        per_hour = takes / audio_seconds * 3600
        database_per_hour = sum(grown.values()) / audio_seconds * 3600
        print(
            f"take audio: {per_hour / 1e6:,.0f} MB per hour of audio;"
            f" database: {database_per_hour / 1e6:,.1f} MB per hour of audio"
            f" ({lines / audio_seconds * 3600:,.0f} lines an hour of audio)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument(
        "--postgresql", action="store_true", help="a new database on 127.0.0.1:5432"
    )
    args = parser.parse_args()
    if args.postgresql:
        with scratch_postgresql("vh_capacity") as url:
            os.environ["VOICEHUB_DATABASE_URL"] = url
            run(args.lines)
    else:
        os.environ.pop("VOICEHUB_DATABASE_URL", None)
        run(args.lines)


if __name__ == "__main__":
    main()
