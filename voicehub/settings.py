"""Service settings, read from `VOICEHUB_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    The defaults are the embedded setup: a SQLite file and a SQLite-backed queue
    under `data_dir`. Production sets `database_url` and `queue_url`.
    """

    model_config = SettingsConfigDict(env_prefix="VOICEHUB_", env_file=".env", extra="ignore")

    environment: str = Field(default="development", pattern="^(development|test|production)$")
    data_dir: Path = Path("var")
    database_url: str = ""
    queue_url: str = ""
    queue_name: str = "voicehub"
    # In the embedded setup the API process runs the queue consumer itself.
    embedded_worker: bool = True
    max_line_chars: int = Field(default=1000, ge=1)
    max_script_bytes: int = Field(default=2_000_000, ge=1)
    max_script_lines: int = Field(default=5000, ge=1)
    # Any request body (scripts, WAV uploads) larger than this is refused before it is read.
    max_upload_bytes: int = Field(default=50_000_000, ge=1)
    engines: str = "piper,kokoro"
    # Envelope key for per-voice data keys and evidence (base64 of 32 bytes).
    # Development creates one under data_dir/keys; production must set it.
    master_key: str = ""
    # Ed25519 key that signs consent receipts (PEM). Created in development.
    receipt_key_path: Path | None = None
    # Speaker verification of consent statements (cosine similarity of embeddings):
    # at or above `accept` verifies; below `reject` is another speaker; between
    # waits for an operator's review.
    verify_accept_threshold: float = Field(default=0.80, ge=0, le=1)
    verify_reject_threshold: float = Field(default=0.65, ge=0, le=1)
    # Backoff doubles from the base, capped at an hour: 12 attempts span about 2.4 hours.
    webhook_max_attempts: int = Field(default=12, ge=1)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Settings:
        if self.verify_reject_threshold > self.verify_accept_threshold:
            raise ValueError(
                "VOICEHUB_VERIFY_REJECT_THRESHOLD must not exceed VOICEHUB_VERIFY_ACCEPT_THRESHOLD"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_real_services(self) -> Settings:
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("VOICEHUB_DATABASE_URL", self.database_url),
                    ("VOICEHUB_QUEUE_URL", self.queue_url),
                    ("VOICEHUB_MASTER_KEY", self.master_key),
                    ("VOICEHUB_RECEIPT_KEY_PATH", str(self.receipt_key_path or "")),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"production requires {', '.join(missing)}")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'voicehub.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    @property
    def enabled_engines(self) -> list[str]:
        return [name.strip() for name in self.engines.split(",") if name.strip()]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
