"""What a user sees when the lake has nothing for dbt to read yet."""

from __future__ import annotations

from typer.testing import CliRunner

from lake.catalog import list_table_names
from lake.errors import TransformError
from lakeforge.cli import app
from tests.dbt.conftest import DbtLake


def test_building_before_ingesting_says_what_to_do(dbt_lake: DbtLake) -> None:
    work = dbt_lake.work
    result = CliRunner().invoke(
        app,
        [
            "transform",
            "build",
            "--select",
            "stg_payments__merchants",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
    )

    assert result.exit_code == 1
    assert "staging.stg_payments__merchants" in result.output
    assert "raw tables come from 'lakeforge ingest'" in result.output
    assert isinstance(result.exception, TransformError)
    assert "dbt reported failures" in str(result.exception)
    assert not [name for name in list_table_names(dbt_lake.catalog) if name.startswith("staging.")]
