"""Portal sign-ins: accounts (an actor's own, or an agency's for the actors it represents),
browser sessions and sign-in attempts."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class AccountKind(enum.StrEnum):
    ACTOR = "actor"  # an actor signing in for themselves
    AGENCY = "agency"  # an agency acting for each actor it represents


class PortalAccount(Base):
    """Who signs in to the portal: an e-mail address and an argon2id password hash."""

    __tablename__ = "portal_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Stored lower-cased: one account per address, however it is typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    kind: Mapped[AccountKind] = mapped_column(
        Enum(AccountKind, native_enum=False, length=16, validate_strings=True)
    )
    display_name: Mapped[str] = mapped_column(String(200))
    # The interface language: "ja" or "en".
    locale: Mapped[str] = mapped_column(String(8), default="ja")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PortalAccountActor(Base):
    """An actor an account acts for: its own actor, or one an agency represents."""

    __tablename__ = "portal_account_actors"

    account_id: Mapped[str] = mapped_column(ForeignKey("portal_accounts.id"), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PortalSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "portal_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("portal_accounts.id"), index=True)
    # Every form of the session carries this token; a POST without it is refused.
    csrf_token: Mapped[str] = mapped_column(String(64))
    # The actor the pages are about (an agency switches between its actors).
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SignInAttempt(Base):
    """One sign-in attempt, kept to slow down password guessing per address and per client."""

    __tablename__ = "portal_sign_in_attempts"
    __table_args__ = (
        Index("ix_portal_sign_in_attempts_email_at", "email", "attempted_at"),
        Index("ix_portal_sign_in_attempts_client_at", "client", "attempted_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(default=False)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
