"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this keeps an unknown e-mail as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("regua-timing-equaliser")

MIN_PASSWORD_LENGTH = 10
# Hashing cost grows with the input; a cap keeps a huge "password" from being a cheap DoS.
MAX_PASSWORD_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str) -> str | None:
    """A message (Portuguese, shown to users) when the password is too weak, else None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a senha deve ter pelo menos {MIN_PASSWORD_LENGTH} caracteres"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a senha deve ter no máximo {MAX_PASSWORD_LENGTH} caracteres"
    return None
