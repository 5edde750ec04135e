"""Where take audio, exports and vault blobs live: a directory or an S3-compatible bucket.

Both sit behind `Storage`; `make_storage` picks one from the settings. Keys are
relative paths such as `takes/<studio>/<take>.wav`; neither backend lets one
escape its root (the directory, or the bucket's prefix).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from voicehub.db import after_rollback
from voicehub.settings import Settings

CHUNK_BYTES = 1024 * 1024
# S3 multipart parts: every part but the last must be at least 5 MiB.
PART_BYTES = 8 * 1024 * 1024


class Storage(Protocol):
    """Objects keyed by relative path. A missing key reads as `FileNotFoundError`."""

    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, source: IO[bytes]) -> str:
        """Store what `source` holds from its current position, streamed; returns its SHA-256."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """The object for reading as a stream; the caller closes it."""
        ...

    def size(self, key: str) -> int: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    def put_in_transaction(self, session: Session, key: str, data: bytes) -> None:
        """Store `data` now and remove it again if the session's transaction rolls back."""
        ...


def make_storage(settings: Settings) -> Storage:
    """The bucket of `VOICEHUB_STORAGE_URL` when set, else `data_dir/storage`."""
    if settings.storage_url:
        return S3Storage.from_url(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
    return LocalStorage(settings.storage_dir)


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


class S3Storage:
    """Objects in an S3 bucket under a key prefix, on AWS or any S3-compatible store.

    Credentials come from boto3's usual chain (`AWS_ACCESS_KEY_ID`,
    `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, an instance role). An S3 PUT
    replaces the whole object at once, so a reader never sees half of one.
    """

    def __init__(self, bucket: str, prefix: str = "", *, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str = "") -> S3Storage:
        """`s3://bucket/prefix`; `endpoint_url` for a store other than AWS (MinIO, Ceph, R2)."""
        import boto3

        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        client = boto3.client("s3", endpoint_url=endpoint_url or None)
        return cls(parts.netloc, parts.path, client=client)

    def object_key(self, key: str) -> str:
        """The key in the bucket of a storage key; refuses one that climbs out of the prefix."""
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(part in ("..", ".") for part in parts):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)

    def put_file(self, key: str, source: IO[bytes]) -> str:
        """Store what `source` holds from its current position; returns its SHA-256.

        Large objects (project export zips) go up as a multipart upload, part by
        part, so no more than one part is held in memory; a failed upload is aborted.
        """
        object_key = self.object_key(key)
        digest = hashlib.sha256()
        chunk = _read_full(source, PART_BYTES)
        digest.update(chunk)
        if len(chunk) < PART_BYTES:
            self._client.put_object(Bucket=self.bucket, Key=object_key, Body=chunk)
            return digest.hexdigest()
        upload_id = self._client.create_multipart_upload(Bucket=self.bucket, Key=object_key)[
            "UploadId"
        ]
        try:
            parts: list[dict[str, Any]] = []
            while chunk:
                number = len(parts) + 1
                sent = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=object_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                )
                parts.append({"ETag": sent["ETag"], "PartNumber": number})
                chunk = _read_full(source, PART_BYTES)
                digest.update(chunk)
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=object_key, UploadId=upload_id
            )
            raise
        return digest.hexdigest()

    def _get_object(self, key: str) -> Any:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(f"no object {key!r} in s3://{self.bucket}") from exc

    def open(self, key: str) -> IO[bytes]:
        """The object for reading as a stream; the caller closes it."""
        return io.BufferedReader(_StreamingObject(self._get_object(key)["Body"]), CHUNK_BYTES)

    def size(self, key: str) -> int:
        from botocore.exceptions import ClientError

        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise FileNotFoundError(f"no object {key!r} in s3://{self.bucket}") from exc
            raise
        return int(head["ContentLength"])

    def get(self, key: str) -> bytes:
        body = self._get_object(key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def put_in_transaction(self, session: Session, key: str, data: bytes) -> None:
        """Store `data` now and remove it again if the session's transaction rolls back."""
        self.put(key, data)
        after_rollback(session, lambda: self.delete(key))


class _StreamingObject(io.RawIOBase):
    """An S3 response body as a raw binary stream, so callers get an ordinary file object."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _read_full(source: IO[bytes], size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end (a stream may return short reads)."""
    pieces: list[bytes] = []
    left = size
    while left and (piece := source.read(left)):
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)
