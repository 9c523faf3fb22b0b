"""Two-factor authentication: TOTP (RFC 6238, 30-second steps, each code used once) and single-use recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
import sqlalchemy as sa

from portal.extensions import db
from portal.models import RecoveryCode, User
from portal.models.base import utcnow
from portal.services import audit
from portal.services.audit import Events
from portal.services.errors import DomainError

ISSUER = "AP commissioning"
STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
# A code from the step before or after is accepted too: phones' clocks drift.
ALLOWED_DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_svg(uri: str) -> str:
    """An inline SVG (attributes only, no style), so the strict CSP needs no exception."""
    return segno.make(uri, error="m").svg_inline(scale=4, title="QR code for your authenticator app")


def formatted_secret(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    code = _normalise(code)
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for step in range(current - ALLOWED_DRIFT_STEPS, current + ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_code(user: User, code: str) -> bool:
    """True once for a valid code: the step is recorded atomically, so a replayed code fails, even concurrently."""
    if not user.totp_secret or not user.two_factor_enabled:
        return False
    step = _matching_step(user.totp_secret, code)
    if step is None:
        return False
    claimed = db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .where(sa.or_(User.totp_last_timestep.is_(None), User.totp_last_timestep < step))
        .values(totp_last_timestep=step)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return claimed.rowcount == 1


def start_set_up(user: User) -> str:
    """Give the user a new secret to add to their app; it takes effect only when they confirm a code from it."""
    user.totp_secret = new_secret()
    user.totp_enabled_at = None
    user.totp_last_timestep = None
    db.session.commit()
    return user.totp_secret


def confirm_set_up(user: User, code: str, *, ip: str | None) -> list[str]:
    """Turn two-factor on if the code matches the new secret; return the recovery codes to show once. Commits."""
    if not user.totp_secret or user.two_factor_enabled:
        raise DomainError("Start setting up two-factor authentication again", field="code")
    step = _matching_step(user.totp_secret, code)
    if step is None:
        raise DomainError("Enter the 6-digit code shown in your authenticator app", field="code")
    user.totp_enabled_at = utcnow()
    user.totp_last_timestep = step
    codes = replace_recovery_codes(user)
    audit.record(Events.TWO_FACTOR_SET_UP, actor=user, ip=ip)
    db.session.commit()
    return codes


def turn_off(user: User) -> None:
    """The caller has checked the password and that the user's role allows it. The caller commits."""
    if user.two_factor_required:
        raise DomainError("Two-factor authentication is required for your role")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_timestep = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def replace_recovery_codes(user: User) -> list[str]:
    """Ten new codes (50 random bits each); old ones stop working. Only hashes are kept. The caller commits."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(5)
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(raw)))
    return codes


def use_recovery_code(user: User, code: str, *, ip: str | None = None) -> bool:
    """True once per code; the code is spent atomically and the use audited. Commits."""
    spent = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount == 1:
        audit.record(Events.RECOVERY_CODE_USED, actor=user, ip=ip, left=recovery_codes_left(user))
    db.session.commit()
    return spent.rowcount == 1


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
