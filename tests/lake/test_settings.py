"""Settings: profiles, environment variables, masking and errors naming the variable."""

import os
from pathlib import Path

import pytest

from lake.errors import ConfigError
from lake.settings import data_home, get_settings, load_settings, without_settings
from tests.conftest import isolate_environment


def test_local_profile_keeps_everything_under_the_data_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    assert settings.catalog.uri == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert settings.catalog.warehouse == (tmp_path / "warehouse").as_uri()
    assert settings.duckdb.path == tmp_path / "lakeforge.duckdb"
    assert settings.feast.online_store == "sqlite"


def test_cluster_profile_defaults_to_postgres_s3_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_PROFILE", "cluster")
    settings = load_settings()
    assert settings.catalog.uri.startswith("postgresql+psycopg2://")
    assert settings.catalog.warehouse.startswith("s3://")
    assert settings.feast.online_store == "redis"


def test_nested_environment_variables_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAKEFORGE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEFORGE_SQL__PORT", "9090")
    assert load_settings().sql.port == 9090


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LAKEFORGE_PROFILE", "production"), ("LAKEFORGE_CATALOG__URI", "mysql://x"), ("LAKEFORGE_SQL__PORT", "x")],
)
def test_wrong_value_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_PROFILE", "cluster")
    monkeypatch.setenv("LAKEFORGE_CATALOG__URI", "postgresql+psycopg2://lf:hunter2@db:5432/lake")
    monkeypatch.setenv("LAKEFORGE_CATALOG__S3_SECRET_ACCESS_KEY", "topsecret")
    shown = str(load_settings().masked())
    assert "hunter2" not in shown
    assert "topsecret" not in shown
    assert "lf:****@db" in shown


def test_a_scratch_data_home_hides_the_machines_profile_and_restores_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_environment(monkeypatch)  # earlier tests may have exported Feast's LAKEFORGE_FEAST_* variables
    monkeypatch.setenv("LAKEFORGE_PROFILE", "cluster")
    monkeypatch.setenv("LAKEFORGE_SQL__PORT", "9090")
    with data_home(tmp_path / "scratch") as settings:
        assert settings.profile == "local"
        assert settings.home == tmp_path / "scratch"
        assert get_settings() == settings
        assert os.environ["LAKEFORGE_HOME"] == str(tmp_path / "scratch")
        os.environ["LAKEFORGE_FEAST_ONLINE_STORE"] = "set inside the block"
    assert "LAKEFORGE_FEAST_ONLINE_STORE" not in os.environ
    assert "LAKEFORGE_HOME" not in os.environ
    assert (os.environ["LAKEFORGE_PROFILE"], os.environ["LAKEFORGE_SQL__PORT"]) == ("cluster", "9090")


def test_a_child_environment_carries_no_settings_variable() -> None:
    environ = {"PATH": "/bin", "LAKEFORGE_PROFILE": "cluster", "LAKEFORGE_CATALOG__URI": "sqlite://", "HOME": "/root"}
    assert without_settings(environ) == {"PATH": "/bin", "HOME": "/root"}
