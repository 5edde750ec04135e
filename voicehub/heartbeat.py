"""A queue worker's sign of life, for container health checks.

`voicehub worker --check` reads it; so does `python -m voicehub.heartbeat`, which
imports no more than this module (a health check that runs every 30 seconds
should not load VoiceHub's tables).

While it runs, a worker reaches its database and its queue every
`HEARTBEAT_SECONDS` and, when both answer, writes the time to its heartbeat file.
A worker that is stuck, or cut off from either service, stops refreshing the
file and its health check fails.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

from huey import Huey
from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
DEFAULT_HEARTBEAT_FILE = Path(tempfile.gettempdir()) / "voicehub-worker.heartbeat"


def beat(database: Engine, huey: Huey, path: Path) -> None:
    """Reach the database and the queue, then record that both answered."""
    with database.connect() as connection:
        connection.execute(text("SELECT 1"))
    huey.pending_count()
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(f"{time.time():.3f}\n")
    tmp.replace(path)


def start_heartbeat(
    database: Engine, huey: Huey, path: Path, every: float = HEARTBEAT_SECONDS
) -> threading.Event:
    """Beat now and then every `every` seconds on a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                beat(database, huey, path)
            except Exception as exc:
                # A missed beat is the signal: the health check fails once beats stop.
                log.warning("worker heartbeat missed: %s", exc)
            if stop.wait(every):
                return

    threading.Thread(target=loop, name="voicehub-heartbeat", daemon=True).start()
    return stop


def heartbeat_age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the last beat recorded in `path`; None when there is none."""
    try:
        beaten = float(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return (time.time() if now is None else now) - beaten


def check(path: Path, max_age: float) -> int:
    """0 and a line on stdout when the last beat is fresh, else 1 and why on stderr."""
    age = heartbeat_age(path)
    if age is None or age > max_age:
        seen = "no heartbeat" if age is None else f"last heartbeat {age:.0f}s ago"
        print(f"worker unhealthy: {seen} in {path}", file=sys.stderr)
        return 1
    print(f"worker healthy: last heartbeat {age:.0f}s ago")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m voicehub.heartbeat", description="Check a worker's heartbeat."
    )
    parser.add_argument("--heartbeat-file", type=Path, default=DEFAULT_HEARTBEAT_FILE)
    parser.add_argument("--max-age", type=float, default=60.0)
    args = parser.parse_args(argv)
    return check(args.heartbeat_file, args.max_age)


if __name__ == "__main__":
    sys.exit(main())
