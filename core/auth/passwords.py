"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile),
and the password policy of NIST SP 800-63B: a length range and no guessable passwords.
"""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Verifying against this keeps an unknown e-mail as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("regua-timing-equaliser")

MIN_PASSWORD_LENGTH = 10
# Hashing cost grows with the input; a cap keeps a huge "password" from being a cheap DoS.
MAX_PASSWORD_LENGTH = 128
# zxcvbn's score 3: about 10^8 guesses or more. Scores 0-2 are dictionary words, common
# passwords, repeats, sequences, keyboard walks, dates, and these with small changes.
MIN_PASSWORD_SCORE = 3
# Words an attacker of this platform tries first, beyond zxcvbn's own lists.
_CONTEXT_WORDS = ("regua", "régua", "senha", "cobranca", "cobrança", "assessoria", "credor")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    # A password longer than any we accept is refused before hashing a huge input.
    if len(password) > MAX_PASSWORD_LENGTH * 4:
        password = ""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """A message (Portuguese, shown to users, naming the field) when the password may not
    be used, else None. `user_inputs` (e-mail, name) count as guessable words."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a senha deve ter pelo menos {MIN_PASSWORD_LENGTH} caracteres"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a senha deve ter no máximo {MAX_PASSWORD_LENGTH} caracteres"
    if not password.strip():
        return "a senha não pode ser feita só de espaços"
    words = [*_CONTEXT_WORDS]
    for value in user_inputs:
        # The whole value (a password equal to the e-mail or the name) and its words.
        words.append(value.strip().lower())
        words.extend(part for part in value.lower().replace("@", " ").replace(".", " ").split()
                     if len(part) >= 3)
    if zxcvbn(password, user_inputs=words)["score"] < MIN_PASSWORD_SCORE:
        return ("a senha é fácil de adivinhar (palavra comum, sequência, repetição ou "
                "dado pessoal); use uma frase mais longa ou menos previsível")
    return None
