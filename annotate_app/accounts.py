"""Annotator accounts: one-time passwords and login tokens, stored only as salted scrypt hashes.

A token has the form ``<annotator id>.<secret>`` so that a login link finds its
account with one primary-key lookup and checks one hash, instead of hashing
against every account. Secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update

from storage import Annotator, AnnotatorRole, Assignment, AssignmentStatus, Store, in_transaction
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
    """New password and token for an existing annotator: the old ones and every open session stop working.

    A disabled annotator stays disabled (``curate annotators enable`` lets them in again).
    """
    with store.session() as s:
        ann = s.scalar(select(Annotator).where(Annotator.name == name))
        if ann is None:
            raise CurateError(f"no annotator named {name!r}; add one with `curate annotators add {name}`.")
        pw, token = _new_credentials(ann.id)
        pw = password or pw
        ann.password_hash, ann.token_hash = hash_secret(pw), hash_secret(token.split(".", 1)[1])
        _end_sessions(s, ann.id)  # the old credentials' sessions end with them
    return pw, token


def _account(ann) -> Account:
    """From an ORM row or a Core row (reads in a snapshot return plain rows)."""
    role = ann.role.value if isinstance(ann.role, AnnotatorRole) else str(ann.role)
    return Account(pk=ann.id, name=ann.name, role=role)


def sign_in_password(store: Store, name: str, password: str) -> Account | None:
    """The account for a correct name + password, else None (same answer for unknown names)."""
    with store.reader() as conn:  # a snapshot read: never waits for a writer's lock
        ann = conn.execute(select(Annotator.__table__).where(Annotator.name == (name or "").strip())).first()
    if ann is None or not ann.active:
        verify_secret(password or "x", hash_secret("dummy"))  # same work either way: no name probing by timing
        return None
    return _account(ann) if verify_secret(password, ann.password_hash) else None


def sign_in_token(store: Store, token: str) -> Account | None:
    """The account for a login-link token ``<id>.<secret>``, else None."""
    pk_text, _, secret = (token or "").partition(".")
    if not pk_text.isdigit() or not secret:
        return None
    with store.reader() as conn:
        ann = conn.execute(select(Annotator.__table__).where(Annotator.id == int(pk_text))).first()
    if ann is None or not ann.active or not verify_secret(secret, ann.token_hash):
        return None
    return _account(ann)


SESSION_HOURS = 12.0
_HANDLE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _session_hash(secret: str) -> str:
    # A session secret is 192 random bits, not a password: nothing to stretch, so a plain
    # SHA-256 keeps the check that runs on every page run and media request cheap, and a
    # copy of the table still opens no session.
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def _session_secret_ok(secret: str, stored: str | None) -> bool:
    if not stored or not secret:
        return False
    if stored.startswith("sha256$"):
        return hmac.compare_digest(_session_hash(secret), stored)
    return verify_secret(secret, stored)


def _split_handle(handle: str | None) -> tuple[str, str] | None:
    """``(handle, secret)`` of ``<handle>.<secret>``, or None when malformed."""
    h, _, secret = (handle or "").partition(".")
    if not _HANDLE_RE.fullmatch(h) or not _HANDLE_RE.fullmatch(secret):
        return None
    return h, secret


def open_session(store: Store, account: Account, hours: float = SESSION_HOURS) -> str:
    """A new browser session for ``account``; returns ``<handle>.<secret>`` for the URL.

    Both parts are random (128 and 192 bits); only the secret's hash is stored.
    """
    from storage.models import AppSession

    handle, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)

    def add(s) -> None:
        s.add(AppSession(handle=handle, annotator_pk=account.pk, secret_hash=_session_hash(secret),
                         expires_at=datetime.now(timezone.utc) + timedelta(hours=hours)))

    in_transaction(store, add)
    return f"{handle}.{secret}"


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t  # SQLite hands back naive UTC


def resume_session(store: Store, handle: str) -> Account | None:
    """The account of a live session handle, else None (unknown, wrong secret, expired, or the account disabled).

    A read in a snapshot (no write lock): it runs on every page run and media request.
    """
    from storage.models import AppSession

    parts = _split_handle(handle)
    if parts is None:
        return None
    with store.reader() as conn:
        row = conn.execute(
            select(AppSession.secret_hash, AppSession.expires_at, Annotator.id, Annotator.name, Annotator.role,
                   Annotator.active)
            .join(Annotator, Annotator.id == AppSession.annotator_pk)
            .where(AppSession.handle == parts[0])
        ).first()
    if row is None or not row.active or not _session_secret_ok(parts[1], row.secret_hash):
        return None
    if _aware(row.expires_at) <= datetime.now(timezone.utc):
        return None
    role = row.role.value if isinstance(row.role, AnnotatorRole) else str(row.role)
    return Account(pk=row.id, name=row.name, role=role)


def close_session(store: Store, handle: str) -> bool:
    """Sign-out: forget the session when its secret matches; True when one was ended."""
    from storage.models import AppSession

    parts = _split_handle(handle)
    if parts is None:
        return False

    def end(s) -> bool:
        row = s.scalar(select(AppSession).where(AppSession.handle == parts[0]))
        if row is None or not _session_secret_ok(parts[1], row.secret_hash):
            return False
        s.delete(row)
        return True

    return in_transaction(store, end)


def _end_sessions(s, annotator_pk: int) -> int:
    from storage.models import AppSession

    return s.execute(delete(AppSession).where(AppSession.annotator_pk == annotator_pk)).rowcount


def set_active(store: Store, name: str, active: bool) -> dict:
    """``curate annotators disable/enable``. Disabling ends every session of the annotator at once
    and releases their leased clips, so the slots go back to the pool; nothing is deleted.

    Returns ``{"sessions_ended": n, "leases_released": m}``.
    """

    def tx(s) -> dict:
        ann = s.scalar(select(Annotator).where(Annotator.name == name))
        if ann is None:
            raise CurateError(f"no annotator named {name!r} (see `curate annotators list`).")
        ann.active = active
        if active:
            return {"sessions_ended": 0, "leases_released": 0}
        # An edit is abandoned, not released: its old ratings stay counted (annotate_app.assign).
        leased = (Assignment.annotator_pk == ann.id, Assignment.status == AssignmentStatus.leased)
        s.execute(update(Assignment).where(*leased, Assignment.completed_at.is_not(None))
                  .values(status=AssignmentStatus.done))
        released = s.execute(
            update(Assignment).where(*leased, Assignment.completed_at.is_(None)).values(status=AssignmentStatus.released)
        ).rowcount
        return {"sessions_ended": _end_sessions(s, ann.id), "leases_released": released}

    return in_transaction(store, tx)


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
