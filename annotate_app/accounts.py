"""Annotator accounts: one-time passwords and login tokens, stored only as salted scrypt hashes.

A token has the form ``<annotator id>.<secret>`` so that a login link finds its
account with one primary-key lookup and checks one hash, instead of hashing
against every account. Secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from storage import Annotator, AnnotatorRole, Store
from storage.errors import CurateError
from storage.ids import check_id

# scrypt cost: ~50 ms and 16 MiB per check on a laptop core; slow enough for guessing, fast enough for sign-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SCHEME = "scrypt"


@dataclass(frozen=True)
class Account:
    """The signed-in annotator as the app sees it (no secrets)."""

    pk: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == AnnotatorRole.admin.value


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) of ``secret`` with a fresh 16-byte salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"{_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    """True when ``secret`` matches the stored hash; constant-time on the digest."""
    if not stored or not secret:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        got = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _new_credentials(pk: int) -> tuple[str, str]:
    password = secrets.token_urlsafe(12)
    token = f"{pk}.{secrets.token_urlsafe(24)}"
    return password, token


def _check_name(name: str) -> str:
    return check_id(name, "annotator name", "annotator")


def add_annotator(store: Store, name: str, role: str = "annotator", password: str | None = None) -> tuple[str, str]:
    """Create an app annotator; returns ``(password, token)``, shown once and stored only as hashes.

    Raises CurateError when the name is taken or the role is unknown.
    """
    name = _check_name(name)
    try:
        role_enum = AnnotatorRole(role)
    except ValueError:
        raise CurateError(f"role must be one of {[r.value for r in AnnotatorRole]}. Got {role!r}.") from None
    with store.session() as s:
        if s.scalar(select(Annotator.id).where(Annotator.name == name)) is not None:
            raise CurateError(f"annotator {name!r} already exists; use `curate annotators reset {name}` for new credentials.")
        ann = Annotator(name=name, role=role_enum, source="app")
        s.add(ann)
        s.flush()
        pw, token = _new_credentials(ann.id)
        pw = password or pw
        ann.password_hash, ann.token_hash = hash_secret(pw), hash_secret(token.split(".", 1)[1])
    return pw, token


def reset_credentials(store: Store, name: str, password: str | None = None) -> tuple[str, str]:
    """New password and token for an existing annotator (the old ones stop working)."""
    with store.session() as s:
        ann = s.scalar(select(Annotator).where(Annotator.name == name))
        if ann is None:
            raise CurateError(f"no annotator named {name!r}; add one with `curate annotators add {name}`.")
        pw, token = _new_credentials(ann.id)
        pw = password or pw
        ann.password_hash, ann.token_hash = hash_secret(pw), hash_secret(token.split(".", 1)[1])
        ann.active = True
    return pw, token


def _account(ann: Annotator) -> Account:
    return Account(pk=ann.id, name=ann.name, role=ann.role.value)


def sign_in_password(store: Store, name: str, password: str) -> Account | None:
    """The account for a correct name + password, else None (same answer for unknown names)."""
    with store.session() as s:
        ann = s.scalar(select(Annotator).where(Annotator.name == (name or "").strip()))
    if ann is None or not ann.active:
        verify_secret(password or "x", hash_secret("dummy"))  # same work either way: no name probing by timing
        return None
    return _account(ann) if verify_secret(password, ann.password_hash) else None


def sign_in_token(store: Store, token: str) -> Account | None:
    """The account for a login-link token ``<id>.<secret>``, else None."""
    pk_text, _, secret = (token or "").partition(".")
    if not pk_text.isdigit() or not secret:
        return None
    with store.session() as s:
        ann = s.get(Annotator, int(pk_text))
    if ann is None or not ann.active or not verify_secret(secret, ann.token_hash):
        return None
    return _account(ann)


SESSION_HOURS = 12.0


def open_session(store: Store, account: Account, hours: float = SESSION_HOURS) -> str:
    """A new browser session for ``account``; returns ``<id>.<secret>`` for the URL (hash stored)."""
    from storage.models_annotate import AppSession

    secret = secrets.token_urlsafe(24)
    with store.session() as s:
        row = AppSession(annotator_pk=account.pk, secret_hash=hash_secret(secret),
                         expires_at=datetime.now(timezone.utc) + timedelta(hours=hours))
        s.add(row)
        s.flush()
        return f"{row.id}.{secret}"


def resume_session(store: Store, handle: str) -> Account | None:
    """The account of a live session handle, else None (unknown, expired, or the account disabled)."""
    from storage.models_annotate import AppSession

    pk_text, _, secret = (handle or "").partition(".")
    if not pk_text.isdigit() or not secret:
        return None
    with store.session() as s:
        row = s.get(AppSession, int(pk_text))
        ann = s.get(Annotator, row.annotator_pk) if row is not None else None
        expires = row.expires_at if row is not None else None
    if ann is None or not ann.active or not verify_secret(secret, row.secret_hash):
        return None
    if expires.tzinfo is None:  # SQLite hands back naive UTC
        expires = expires.replace(tzinfo=timezone.utc)
    return _account(ann) if expires > datetime.now(timezone.utc) else None


def close_session(store: Store, handle: str) -> None:
    """Forget a session (sign-out); unknown handles are ignored."""
    from storage.models_annotate import AppSession

    pk_text = (handle or "").partition(".")[0]
    if pk_text.isdigit():
        with store.session() as s:
            row = s.get(AppSession, int(pk_text))
            if row is not None:
                s.delete(row)


def list_annotators(store: Store) -> list[dict]:
    """Every annotator with role, source and whether app sign-in is set up (never the hashes)."""
    with store.session() as s:
        rows = s.scalars(select(Annotator).order_by(Annotator.name)).all()
        return [
            {
                "name": a.name,
                "role": a.role.value,
                "source": a.source,
                "active": a.active,
                "can_sign_in": bool(a.password_hash or a.token_hash),
                "created_at": a.created_at.isoformat() if a.created_at else None,
            }
            for a in rows
        ]


def login_url(token: str, host: str = "127.0.0.1", port: int = 8501) -> str:
    return f"http://{host}:{port}/?token={token}"
