"""What a user sees when the lake has nothing for dbt to read yet."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lake.catalog import list_table_names
from lake.dbt_runner import run_dbt, writes_tables
from lake.errors import PipelineError, TransformError
from lake.run_lock import run_lock
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


def test_a_build_is_refused_while_a_cycle_holds_the_lake(dbt_lake: DbtLake) -> None:
    with run_lock(dbt_lake.catalog):  # another open file: what a running `lakeforge run` holds
        result = CliRunner().invoke(app, ["transform", "build", "--select", "stg_payments__merchants"])

    assert result.exit_code == 1
    assert isinstance(result.exception, PipelineError)
    assert "another 'lakeforge run' or 'lakeforge transform' is in progress on this lake" in str(result.exception)
    assert not [name for name in list_table_names(dbt_lake.catalog) if name.startswith("staging.")]


@pytest.mark.parametrize(
    ("args", "writes"),
    [
        ([], True),
        (["build", "--select", "features"], True),
        (["--debug", "run"], True),
        (["seed"], True),
        (["test"], False),
        (["source", "freshness"], False),
        (["docs", "generate"], False),
        (["ls", "--select", "run"], False),
    ],
)
def test_only_dbt_commands_that_write_take_the_lock(args: list[str], writes: bool) -> None:
    assert writes_tables(args) is writes
