"""Service settings, read from `VOICEHUB_*` environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
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
    # Scale out (docs/OPERATIONS.md, "Queues per engine" and "Storage"). Batch jobs whose
    # voices use one of these engines go to their own queue, `<queue_name>-<suffix>`, which
    # only `voicehub worker --queue <suffix>` consumes: "coqui=gpu" (a family such as
    # `coqui` covers every `coqui:<name>`). A job on several routed engines takes the queue
    # listed first, so list the heaviest engine first. Empty: every job on the default queue.
    engine_queues: str = ""
    # Where takes, exports and vault blobs live: empty for `data_dir/storage`, or
    # "s3://bucket/prefix" on any S3-compatible store (`s3_endpoint_url`, empty for AWS;
    # credentials from the usual AWS_* variables).
    storage_url: str = ""
    s3_endpoint_url: str = ""
    # In the embedded setup the API process runs the queue consumer itself.
    embedded_worker: bool = True
    # Lines of one batch job rendered at once, each on a thread of its own through the one
    # loaded engine. About one per core (docs/BENCHMARKS.md, "Kokoro batch throughput").
    synthesis_threads: int = Field(default=2, ge=1, le=64)
    # A batch job whose worker has shown no sign of life for this long (its heartbeat, touched
    # as each line ends) was lost with that worker and is queued again. Longer than the
    # slowest line takes to render, or a live job is run twice (safe, but wasted work).
    job_lease_seconds: float = Field(default=300.0, gt=0)
    max_line_chars: int = Field(default=1000, ge=1)
    max_script_bytes: int = Field(default=2_000_000, ge=1)
    max_script_lines: int = Field(default=5000, ge=1)
    # Lines one synthesis job may take (a whole project, some cuts or a list of lines);
    # a bigger job is refused with `batch_too_large` before anything is queued.
    max_batch_lines: int = Field(default=5000, ge=1)
    # Any request body (scripts, WAV uploads) larger than this is refused before it is read.
    max_upload_bytes: int = Field(default=50_000_000, ge=1)
    # espeak-ng is the always-available engine: every language it lists has a voice.
    engines: str = "piper,kokoro,espeak"
    # The studio's own coqui-tts VITS models, each served as engine "coqui:<name>":
    # "name=/models/aoi,other=/models/ren.pth" (a model directory or a single .pth).
    coqui_models: str = ""
    # Envelope key for per-voice data keys and evidence (base64 of 32 bytes).
    # Development creates one under data_dir/keys; production must set it.
    master_key: str = ""
    # Ed25519 key that signs consent receipts (PEM). Created in development.
    receipt_key_path: Path | None = None
    # Content Credentials (docs/PROVENANCE.md): every delivered take carries a C2PA manifest
    # signed with this P-256 key and its certificate chain (PEM: the signing certificate
    # first, then the CA that issued it). Development makes a CA and a signing certificate
    # under data_dir/keys/c2pa; production must set both paths.
    c2pa_cert_path: Path | None = None
    c2pa_key_path: Path | None = None
    # The operator's trust anchors (PEM, one or more CA certificates): a manifest whose
    # chain ends at one of them reads as trusted; any other valid one as untrusted.
    c2pa_trust_anchors_path: Path | None = None
    # Speaker verification of consent statements (cosine similarity of embeddings):
    # at or above `accept` verifies; below `reject` is another speaker; between
    # waits for an operator's review.
    verify_accept_threshold: float = Field(default=0.80, ge=0, le=1)
    verify_reject_threshold: float = Field(default=0.65, ge=0, le=1)
    # Backoff doubles from the base, capped at an hour: 12 attempts span about 2.4 hours.
    webhook_max_attempts: int = Field(default=12, ge=1)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Voice builds (docs/OPERATIONS.md, "Voice builds"). Each recording an actor uploads
    # is refused outside these bounds; a build needs `build_min_total_seconds` in all.
    build_min_recording_seconds: float = Field(default=1.0, gt=0)
    build_max_recording_seconds: float = Field(default=20.0, gt=0)
    build_min_total_seconds: float = Field(default=600.0, ge=0)
    build_max_clipped_fraction: float = Field(default=0.001, ge=0, le=1)
    # Every clip is normalised to this integrated loudness (ITU-R BS.1770, LUFS).
    build_loudness_lufs: float = Field(default=-23.0, ge=-70, le=0)
    # The base VITS checkpoint to fine-tune, per language: "ja=/models/vits-ja.pth,en=…".
    # A language without one trains from scratch at `build_model_size` and `build_sample_rate`.
    build_base_checkpoints: str = ""
    build_model_size: Literal["full", "reduced"] = "full"
    build_sample_rate: int = Field(default=22050, ge=8000, le=48000)
    build_steps: int = Field(default=20000, ge=1)
    build_batch_size: int = Field(default=16, ge=1)
    # Stripe (docs/MONEY.md, "Stripe"). Studios' customers, invoice items and invoices go to
    # `stripe_api_base`; actors' Connect accounts, account links and transfers to
    # `stripe_connect_api_base` (empty: the same base). Both are https://api.stripe.com in
    # production; the tests point them at localstripe and a local Connect double.
    stripe_api_key: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    stripe_connect_api_base: str = ""
    # The signing secret of each Stripe webhook endpoint that posts to /v1/stripe/webhooks,
    # comma-separated: the account endpoint's and the Connect endpoint's (each has its own),
    # and, while rolling a secret, the old one next to the new.
    stripe_webhook_secret: str = ""
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    # Invoices are sent for the studio to pay within this many days (hosted invoice page).
    stripe_invoice_days_until_due: int = Field(default=30, ge=1, le=365)
    # An actor is paid once their unpaid statements reach this, per currency, in the minor
    # unit ("JPY=500,USD=500"); a currency not named is paid whenever anything is payable.
    payout_threshold_minor: str = "JPY=500,KRW=5000,USD=500,EUR=500,GBP=500"
    # Where Stripe sends an actor after Connect onboarding, and when its link has expired.
    stripe_onboarding_return_url: str = "http://127.0.0.1:8000/actor/payout-account/done"
    stripe_onboarding_refresh_url: str = "http://127.0.0.1:8000/actor/payout-account/refresh"
    # API keys (docs/OPERATIONS.md, "Admin keys, audit log and rate limits"). A rotated key
    # keeps working this long, so clients can switch to its successor without an outage.
    key_rotation_grace_seconds: float = Field(default=86400.0, ge=0)
    # Requests per minute per API key, as a token bucket that refills evenly (a burst of the
    # whole minute's allowance is allowed). Requests that need the `synthesize` scope also
    # draw on a second, smaller bucket. 0 turns a limit off. Shared through Redis when
    # VOICEHUB_QUEUE_URL is a redis:// URL, else counted in each API process.
    rate_limit_requests_per_minute: int = Field(default=600, ge=0)
    rate_limit_synthesis_per_minute: int = Field(default=120, ge=0)

    @field_validator("build_base_checkpoints")
    @classmethod
    def _build_base_checkpoints_parse(cls, value: str) -> str:
        # Refused at start-up, not when the first build of that language runs.
        parse_base_checkpoints(value)
        return value

    @property
    def build_base_checkpoint_paths(self) -> dict[str, Path]:
        """The base checkpoint to fine-tune, by primary language subtag (`ja`, `en`)."""
        return parse_base_checkpoints(self.build_base_checkpoints)

    @field_validator("engine_queues")
    @classmethod
    def _engine_queues_parse(cls, value: str) -> str:
        parse_engine_queues(value)
        return value

    @property
    def engine_queue_routes(self) -> dict[str, str]:
        """The queue suffix of each routed engine, heaviest first."""
        return parse_engine_queues(self.engine_queues)

    @field_validator("storage_url")
    @classmethod
    def _storage_url_parse(cls, value: str) -> str:
        if value and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", value):
            raise ValueError("VOICEHUB_STORAGE_URL must be empty or s3://bucket[/prefix]")
        return value

    @field_validator("coqui_models")
    @classmethod
    def _coqui_models_parse(cls, value: str) -> str:
        parse_coqui_models(value)
        return value

    @field_validator("payout_threshold_minor")
    @classmethod
    def _payout_thresholds_parse(cls, value: str) -> str:
        parse_payout_thresholds(value)
        return value

    @property
    def payout_thresholds(self) -> dict[str, int]:
        """The least an actor is paid out, per currency, in its minor unit."""
        return parse_payout_thresholds(self.payout_threshold_minor)

    @property
    def stripe_webhook_secrets(self) -> list[str]:
        return [part.strip() for part in self.stripe_webhook_secret.split(",") if part.strip()]

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
                    ("VOICEHUB_C2PA_CERT_PATH", str(self.c2pa_cert_path or "")),
                    ("VOICEHUB_C2PA_KEY_PATH", str(self.c2pa_key_path or "")),
                    # Studios are billed and actors paid through Stripe, and its webhooks
                    # cannot be trusted without the endpoint's secret.
                    ("VOICEHUB_STRIPE_API_KEY", self.stripe_api_key),
                    ("VOICEHUB_STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
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

    @property
    def coqui_model_paths(self) -> dict[str, Path]:
        """The operator's coqui models by name (the engine is "coqui:<name>")."""
        return parse_coqui_models(self.coqui_models)


# Engine names are stored with each voice and take (32 characters, "coqui:" included).
_COQUI_MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,25}")


def parse_coqui_models(value: str) -> dict[str, Path]:
    """`name=/path,other=/path` as {name: path}; a ValueError names the entry that is wrong."""
    models: dict[str, Path] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        name, sep, path = (piece.strip() for piece in entry.partition("="))
        if not sep or not path:
            raise ValueError(f"VOICEHUB_COQUI_MODELS entry {entry!r} must be name=/path/to/model")
        if not _COQUI_MODEL_NAME.fullmatch(name):
            raise ValueError(
                f"VOICEHUB_COQUI_MODELS name {name!r} must be 1 to 26 lowercase letters, digits,"
                " '.', '_' or '-', starting with a letter or digit"
            )
        if name in models:
            raise ValueError(f"VOICEHUB_COQUI_MODELS names {name!r} twice")
        models[name] = Path(path).expanduser()
    return models


_QUEUE_PART = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


def parse_engine_queues(value: str) -> dict[str, str]:
    """`coqui=gpu,kokoro=cpu-heavy` as {engine: queue suffix}, in the order given."""
    routes: dict[str, str] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        engine, sep, suffix = (piece.strip() for piece in entry.partition("="))
        if not sep or not _QUEUE_PART.fullmatch(suffix) or not engine:
            raise ValueError(
                f"VOICEHUB_ENGINE_QUEUES entry {entry!r} must be engine=queue, the queue"
                " 1 to 32 lowercase letters, digits, '.', '_' or '-'"
            )
        if engine in routes:
            raise ValueError(f"VOICEHUB_ENGINE_QUEUES names engine {engine!r} twice")
        routes[engine] = suffix
    return routes


# A language tag's primary subtag (ISO 639): `ja` of `ja-JP`, `en` of `en_US`.
_LANGUAGE_TAG = re.compile(r"([a-z]{2,3})(?:[-_][a-z0-9]{1,8})*", re.IGNORECASE)


def parse_base_checkpoints(value: str) -> dict[str, Path]:
    """`ja=/models/vits-ja.pth,en=…` as {primary language: path}; a ValueError names the entry."""
    bases: dict[str, Path] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        language, sep, path = (piece.strip() for piece in entry.partition("="))
        if not sep or not language or not path:
            raise ValueError(
                f"VOICEHUB_BUILD_BASE_CHECKPOINTS entry {entry!r} must be"
                " language=/path/to/model.pth"
            )
        tag = _LANGUAGE_TAG.fullmatch(language)
        if tag is None:
            raise ValueError(
                f"VOICEHUB_BUILD_BASE_CHECKPOINTS entry {entry!r}: {language!r} is not a language"
                " tag such as ja, en or ja-JP"
            )
        primary = tag.group(1).lower()
        if primary in bases:
            raise ValueError(
                f"VOICEHUB_BUILD_BASE_CHECKPOINTS names language {primary!r} twice"
                f" (entry {entry!r}); a language has one base checkpoint"
            )
        bases[primary] = Path(path).expanduser()
    return bases


_THRESHOLD_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_payout_thresholds(value: str) -> dict[str, int]:
    """`JPY=500,USD=500` as {currency: minimum in minor units}; a ValueError names the entry."""
    thresholds: dict[str, int] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        currency, sep, amount = (piece.strip() for piece in entry.partition("="))
        if not sep or not _THRESHOLD_CURRENCY.fullmatch(currency) or not amount.isdigit():
            raise ValueError(
                f"VOICEHUB_PAYOUT_THRESHOLD_MINOR entry {entry!r} must be CURRENCY=amount,"
                " an ISO 4217 code and a whole number of its minor unit (JPY=500)"
            )
        if currency in thresholds:
            raise ValueError(f"VOICEHUB_PAYOUT_THRESHOLD_MINOR names {currency} twice")
        thresholds[currency] = int(amount)
    return thresholds


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
