"""Who is asking: HTTP basic authentication against Trino's password file, and groups from its group file.

The password file has Trino's format (``user:bcrypt-hash`` per line, as ``htpasswd -B -C 10`` writes it); the
group file too (``group:user1,user2``). Clients send the password with every request, and bcrypt is slow by
design, so a verified (user, password digest) pair is remembered, as Trino's own authenticator cache does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from pathlib import Path

import bcrypt

from lake.errors import SqlEndpointError
from serving.sql.rules import Identity

BCRYPT_PREFIXES = ("$2y$", "$2a$", "$2b$")


class AuthenticationFailed(SqlEndpointError):
    """The request carries no credentials, or wrong ones (answered with HTTP 401)."""


def _read_lines(path: Path, kind: str) -> list[tuple[int, str]]:
    try:
        text = path.read_text()
    except OSError as error:
        raise SqlEndpointError(f"cannot read the {kind} file {path}: {error}") from None
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]


def load_password_file(path: Path) -> dict[str, bytes]:
    """Read a Trino password file into user -> bcrypt hash.

    Raises:
        SqlEndpointError: the file cannot be read, or a line is not ``user:bcrypt-hash``; the message names the line.
    """
    hashes = {}
    for number, line in _read_lines(path, "password"):
        user, _, hashed = line.partition(":")
        if not user or not hashed.startswith(BCRYPT_PREFIXES):
            raise SqlEndpointError(
                f"{path}:{number} is not 'user:bcrypt-hash'; create entries with `htpasswd -B -C 10 {path} USER`"
            )
        hashes[user] = hashed.encode()
    return hashes


def load_group_file(path: Path) -> dict[str, frozenset[str]]:
    """Read a Trino group file into user -> groups.

    Raises:
        SqlEndpointError: the file cannot be read, or a line is not ``group:user1,user2``.
    """
    groups: dict[str, set[str]] = {}
    for number, line in _read_lines(path, "group"):
        group, separator, members = line.partition(":")
        if not group or not separator:
            raise SqlEndpointError(f"{path}:{number} is not 'group:user1,user2'")
        for user in filter(None, (member.strip() for member in members.split(","))):
            groups.setdefault(user, set()).add(group)
    return {user: frozenset(names) for user, names in groups.items()}


class Authenticator:
    """Turns a request's ``Authorization`` and ``X-Trino-User`` headers into an :class:`Identity`."""

    def __init__(self, passwords: dict[str, bytes] | None, groups: dict[str, frozenset[str]]) -> None:
        """Args:
        passwords: user -> bcrypt hash; ``None`` turns authentication off (the user is taken on trust).
        groups: user -> groups.
        """
        self._passwords = passwords
        self._groups = groups
        self._verified: set[tuple[str, bytes]] = set()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether requests must carry a valid password."""
        return self._passwords is not None

    def identify(self, authorization: str | None, trino_user: str | None) -> Identity:
        """The identity a request acts as.

        Args:
            authorization: the ``Authorization`` header (``Basic base64(user:password)``).
            trino_user: the ``X-Trino-User`` header.

        Raises:
            AuthenticationFailed: credentials missing or wrong, or ``X-Trino-User`` names somebody else.
        """
        if self._passwords is None:
            if not trino_user:
                raise AuthenticationFailed("X-Trino-User header is required: set the user in your client")
            return Identity(trino_user, self._groups.get(trino_user, frozenset()))
        user, password = _basic_credentials(authorization)
        if not self._check(user, password):
            raise AuthenticationFailed(f"Access Denied: invalid credentials for user {user!r}")
        if trino_user and trino_user != user:
            raise AuthenticationFailed(f"Access Denied: user {user} cannot impersonate user {trino_user}")
        return Identity(user, self._groups.get(user, frozenset()))

    def _check(self, user: str, password: str) -> bool:
        assert self._passwords is not None
        hashed = self._passwords.get(user)
        if hashed is None:
            return False
        key = (user, hashlib.sha256(password.encode()).digest())
        with self._lock:
            if key in self._verified:
                return True
        if not bcrypt.checkpw(password.encode(), hashed):
            return False
        with self._lock:
            self._verified.add(key)
        return True


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization or not authorization.startswith("Basic "):
        raise AuthenticationFailed("Unauthorized: this endpoint requires a user name and password (HTTP basic)")
    try:
        decoded = base64.b64decode(authorization.removeprefix("Basic "), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("Unauthorized: malformed basic credentials") from None
    user, separator, password = decoded.partition(":")
    if not separator or not user:
        raise AuthenticationFailed("Unauthorized: malformed basic credentials")
    return user, password
