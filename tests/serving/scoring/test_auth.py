"""API keys: off without keys, otherwise only a configured bearer token passes."""

from __future__ import annotations

import logging

import pytest
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import SecretStr

from serving.scoring.auth import ApiKeyCheck


def bearer(token: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


def test_without_keys_every_request_passes_and_a_warning_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        check = ApiKeyCheck([])

    check.verify(None)
    check.verify(bearer("anything"))
    assert not check.enabled
    assert "authentication is OFF" in caplog.text


def test_with_keys_only_a_configured_token_passes() -> None:
    check = ApiKeyCheck([SecretStr("first-key"), SecretStr("second-key")])

    check.verify(bearer("second-key"))
    for credentials in (None, bearer("wrong-key"), bearer("first-ke")):
        with pytest.raises(HTTPException) as refused:
            check.verify(credentials)
        assert refused.value.status_code == 401
        assert refused.value.headers == {"WWW-Authenticate": "Bearer"}
