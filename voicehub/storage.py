"""Where take audio lives: a directory today, one interface for a bucket later."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session

from voicehub.db import after_rollback

CHUNK_BYTES = 1024 * 1024


class LocalStorage:
    """Objects as files under one root directory, keyed by relative path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def put_file(self, key: str, source: IO[bytes]) -> str:
        """Store what `source` holds from its current position, in chunks; returns its SHA-256.

        For objects too large to hold in memory (project export zips).
        """
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            while chunk := source.read(CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
        os.replace(tmp, path)
        return digest.hexdigest()

    def open(self, key: str) -> IO[bytes]:
        """The object for reading as a stream; the caller closes it."""
        return self._path(key).open("rb")

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def put_in_transaction(self, session: Session, key: str, data: bytes) -> None:
        """Store `data` now and remove it again if the session's transaction rolls back."""
        self.put(key, data)
        after_rollback(session, lambda: self.delete(key))

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
