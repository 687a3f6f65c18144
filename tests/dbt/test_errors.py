"""What a user sees when the lake has nothing for dbt to read yet."""

from __future__ import annotations

from typer.testing import CliRunner

from lake.catalog import list_table_names
from lake.dbt_runner import run_dbt
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
            "stg_payments__cards",
            "stg_payments__customers",
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
    assert "dbt reported failures (stg_payments__cards (error), stg_payments__customers (error), " in str(
        result.exception
    ), "the error line names the failed models"
    assert not [name for name in list_table_names(dbt_lake.catalog) if name.startswith("staging.")]


def test_a_long_list_of_failures_is_cut_short(dbt_lake: DbtLake) -> None:
    work = dbt_lake.work
    run = run_dbt(
        ["run", "--select", "staging", "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    )

    assert not run.success
    assert run.failures(shown=2) == "stg_payments__cards (error), stg_payments__chargebacks (error) and 3 more"
