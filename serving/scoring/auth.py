"""Optional API-key authentication: ``Authorization: Bearer <key>`` checked against ``settings.scoring.api_keys``."""

from __future__ import annotations

import hmac
import logging

from fastapi import HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

log = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, description="One of LAKEFORGE_SCORING__API_KEYS, when keys are configured.")
"""The security scheme of the ``/v1`` routes (shown in the OpenAPI document)."""


class ApiKeyCheck:
    """Accepts a request when no keys are configured, or when its bearer token is one of them."""

    def __init__(self, keys: list[SecretStr]) -> None:
        """Remember the accepted keys, warning when there are none.

        Args:
            keys: accepted bearer tokens; empty turns authentication off.
        """
        self._keys = [key.get_secret_value().encode() for key in keys]
        if not self._keys:
            log.warning("scoring API authentication is OFF: set LAKEFORGE_SCORING__API_KEYS to require bearer keys")

    @property
    def enabled(self) -> bool:
        """Whether requests must carry a key."""
        return bool(self._keys)

    def verify(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        """Let the request through or answer 401.

        Raises:
            HTTPException: 401 when keys are configured and the request has none or a wrong one.
        """
        if not self._keys:
            return
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing API key: send the header 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        given = credentials.credentials.encode()
        if not any(hmac.compare_digest(given, key) for key in self._keys):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
