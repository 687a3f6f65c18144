"""HTTP basic authentication against a Trino password file, and the groups the group file gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import requests
import trino
from trino.auth import BasicAuthentication

from lake.catalog import load_catalog
from lake.errors import SqlEndpointError
from serving.sql.auth import AuthenticationFailed, Authenticator, load_group_file, load_password_file
from serving.sql.server import BackgroundServer
from tests.conftest import clean_environment
from tests.serving.sql.conftest import build_lake, endpoint_settings, fetch


def _trino_bcrypt(password: str) -> str:
    """A hash as ``htpasswd -B -C 10`` writes it (``$2y$``), which Trino requires."""
    return "$2y$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()[4:]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    home = tmp_path_factory.mktemp("auth") / "home"
    home.mkdir(parents=True)
    passwords = home / "password.db"
    passwords.write_text(f"alice:{_trino_bcrypt('wonderland')}\nadmin:{_trino_bcrypt('s3cret')}\n")
    with clean_environment():
        settings = endpoint_settings(home, password_file=passwords)
        build_lake(load_catalog(settings))
        with BackgroundServer(settings) as server:
            yield server


def _connect(server: BackgroundServer, user: str, password: str) -> trino.dbapi.Connection:
    return trino.dbapi.connect(
        host="127.0.0.1",
        port=server.port,
        user=user,
        catalog="lake",
        auth=BasicAuthentication(user, password),
        allow_insecure_auth=True,
    )


def test_the_right_password_lets_the_user_in_with_their_groups(secured: BackgroundServer) -> None:
    rows = fetch(
        _connect(secured, "alice", "wonderland"), "SELECT email FROM curated.customers WHERE customer_id = 'c1'"
    )
    assert rows == [["***@example.com"]]
    assert fetch(_connect(secured, "admin", "s3cret"), "SELECT count(*) FROM raw.cards") == [[3]]


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("mallory", "wonderland")])
def test_wrong_credentials_are_refused(secured: BackgroundServer, user: str, password: str) -> None:
    with pytest.raises(trino.exceptions.HttpError, match="401"):
        fetch(_connect(secured, user, password), "SELECT 1")


def test_no_credentials_get_a_basic_challenge(secured: BackgroundServer) -> None:
    response = requests.post(
        f"http://127.0.0.1:{secured.port}/v1/statement", data=b"SELECT 1", headers={"X-Trino-User": "alice"}, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_user_cannot_claim_to_be_someone_else(secured: BackgroundServer) -> None:
    response = requests.post(
        f"http://127.0.0.1:{secured.port}/v1/statement",
        data=b"SELECT 1",
        headers={"X-Trino-User": "admin"},
        auth=("alice", "wonderland"),
        timeout=10,
    )
    assert response.status_code == 401
    assert "cannot impersonate" in response.text


def test_malformed_password_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "password.db"
    path.write_text("# users\nalice:plaintext\n")
    with pytest.raises(SqlEndpointError, match=r"password.db:2"):
        load_password_file(path)


def test_group_file_maps_users_to_groups(tmp_path: Path) -> None:
    path = tmp_path / "group.txt"
    path.write_text("analyst:alice,bob\nml:bob\n")
    assert load_group_file(path) == {"alice": frozenset({"analyst"}), "bob": frozenset({"analyst", "ml"})}
    path.write_text("no separator here\n")
    with pytest.raises(SqlEndpointError, match="group:user1,user2"):
        load_group_file(path)


def test_authentication_off_trusts_the_user_header() -> None:
    authenticator = Authenticator(None, {"alice": frozenset({"analyst"})})
    assert authenticator.identify(None, "alice").groups == {"analyst"}
    with pytest.raises(AuthenticationFailed, match="X-Trino-User"):
        authenticator.identify(None, None)
