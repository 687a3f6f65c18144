"""The dbt project end to end on a tiny lake: full build, one more day incrementally, then a full rebuild.

One built project is shared by the module (each dbt invocation costs seconds): the fixture runs the three
builds and records what each left in the lake; the tests check those records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from lake.catalog import list_table_names
from lake.contracts import load_contracts
from lakeforge.cli import app
from tests.dbt.conftest import CARDS, CUSTOMERS, START, TRANSACTIONS_PER_DAY, DbtLake, append_raw, land_days

MODELS = {
    "staging.stg_payments__transactions",
    "staging.stg_payments__chargebacks",
    "staging.stg_payments__cards",
    "staging.stg_payments__customers",
    "staging.stg_payments__merchants",
    "staging.int_transactions_enriched",
    "staging.int_merchant_days_aggregated",
    "staging.int_customer_days_aggregated",
    "curated.fct_transactions",
    "curated.fct_chargebacks",
    "curated.dim_cards",
    "curated.dim_customers",
    "curated.dim_merchants",
    "features.card_features",
    "features.merchant_features",
    "features.customer_features",
}

FULL_REPLACE = {
    "stg_payments__cards",
    "stg_payments__customers",
    "stg_payments__merchants",
    "dim_cards",
    "dim_customers",
    "dim_merchants",
}
"""Models without an incremental strategy: a build replaces them when their inputs changed, and their tests read
the whole table."""
UNCHANGED = {"stg_payments__customers", "stg_payments__merchants", "dim_merchants"}
"""Full-replace models whose inputs the incremental build leaves alone (it lands a new card, no customer or
merchant): they are not written again."""
NEW_CARD = {**CARDS[0], "card_id": "ca6", "card_number": "4000123412340006", "issued_at": START + timedelta(days=3)}
"""A card issued on the day the incremental build adds."""


@dataclass
class Builds:
    """What the three builds left: invocation ids, published contents and snapshots, the CLI's output."""

    lake: DbtLake
    full_run_id: str
    after_full: dict[str, int]
    after_incremental: dict[str, pa.Table]
    incremental_snapshots: dict[str, list[int]]
    after_rebuild: dict[str, pa.Table]
    cli_output: str
    incremental_tests: dict[str, list[str]]
    rebuild_tests: dict[str, list[str]]
    incremental_responses: dict[str, dict[str, object]]


def _tests_by_model(target: Path) -> dict[str, list[str]]:
    """The SQL each data test of the last dbt run ran, by the name of the model it tests (from its artifacts)."""
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    results = json.loads((target / "run_results.json").read_text())["results"]
    tests: dict[str, list[str]] = {}
    for result in results:
        node = nodes.get(result["unique_id"], {})  # unit tests are listed apart
        if node.get("resource_type") == "test" and node.get("attached_node"):
            tests.setdefault(nodes[node["attached_node"]]["name"], []).append(result["compiled_code"])
    return tests


def _model_responses(target: Path) -> dict[str, dict[str, object]]:
    """The adapter response each model of the last dbt run reported in run_results.json, by table name."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {
        result["relation_name"].replace('"', "").split(".", 1)[1]: result["adapter_response"]
        for result in results
        if result["unique_id"].startswith("model.")
    }


def _snapshot_ids(lake: DbtLake) -> dict[str, list[int]]:
    return {name: [s.snapshot_id for s in lake.catalog.load_table(name).snapshots()] for name in MODELS}


@pytest.fixture(scope="module")
def builds(dbt_lake: DbtLake) -> Builds:
    land_days(dbt_lake.catalog, range(3))
    full = dbt_lake.dbt("build")
    assert full.success
    after_full = {name: dbt_lake.catalog.load_table(name).current_snapshot().snapshot_id for name in MODELS}

    land_days(dbt_lake.catalog, range(3, 4))
    append_raw(dbt_lake.catalog, "cards", [NEW_CARD])
    work = dbt_lake.work
    cli = CliRunner().invoke(
        app, ["transform", "build", "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    )
    assert cli.exit_code == 0, cli.output
    after_incremental = {name: dbt_lake.read(name) for name in MODELS}
    incremental_snapshots = _snapshot_ids(dbt_lake)
    incremental_tests = _tests_by_model(work / "target")
    incremental_responses = _model_responses(work / "target")

    assert dbt_lake.dbt("build", "--full-refresh").success
    return Builds(
        lake=dbt_lake,
        full_run_id=full.invocation_id,
        after_full=after_full,
        after_incremental=after_incremental,
        incremental_snapshots=incremental_snapshots,
        after_rebuild={name: dbt_lake.read(name) for name in MODELS},
        cli_output=cli.output,
        incremental_tests=incremental_tests,
        rebuild_tests=_tests_by_model(work / "target"),
        incremental_responses=incremental_responses,
    )


def _incremental_snapshot(builds: Builds, name: str) -> dict[str, str]:
    table = builds.lake.catalog.load_table(name)
    snapshot = table.snapshot_by_id(builds.incremental_snapshots[name][-1])
    assert snapshot is not None and snapshot.summary is not None
    return {"operation": snapshot.summary.operation.value, **snapshot.summary.additional_properties}


def test_every_model_is_an_iceberg_table_in_its_layer(builds: Builds) -> None:
    written = {name for name in list_table_names(builds.lake.catalog) if not name.startswith("raw.")}
    assert written == MODELS
    for name in MODELS:
        table = builds.lake.catalog.load_table(name)
        first_publish = table.snapshot_by_id(builds.after_full[name])
        assert first_publish.summary["dbt.invocation-id"] == builds.full_run_id
        assert first_publish.summary["dbt.model"] == f"model.lakeforge.{name.split('.', 1)[1]}"
        assert "audit" not in table.metadata.refs


def test_each_model_write_is_one_snapshot_on_the_previous_one(builds: Builds) -> None:
    for name in MODELS:
        table = builds.lake.catalog.load_table(name)
        ids = builds.incremental_snapshots[name]
        if name.split(".", 1)[1] in UNCHANGED:
            assert ids[-1] == builds.after_full[name], name
            continue
        assert ids[-2] == builds.after_full[name], name
        assert table.snapshot_by_id(ids[-1]).parent_snapshot_id == builds.after_full[name], name


def test_incremental_run_equals_a_full_rebuild(builds: Builds) -> None:
    for name in MODELS:
        assert builds.after_incremental[name].num_rows > 0, name
        assert builds.after_incremental[name].equals(builds.after_rebuild[name]), name


def test_tests_of_an_incremental_write_read_only_the_files_it_added(builds: Builds) -> None:
    assert set(builds.incremental_tests) == {name.split(".", 1)[1] for name in MODELS}
    for model, tests in builds.incremental_tests.items():
        incremental = model not in FULL_REPLACE
        assert all(("read_parquet(" in sql) == incremental for sql in tests), model
        assert all(("limit 0" in sql) == (model in UNCHANGED) for sql in tests), model
        assert not any("read_parquet(" in sql for sql in builds.rebuild_tests[model]), model


@pytest.mark.parametrize(
    "name", ["staging.stg_payments__transactions", "staging.int_transactions_enriched", "curated.fct_transactions"]
)
def test_incremental_run_reads_and_writes_only_new_data(builds: Builds, name: str) -> None:
    transactions = _incremental_snapshot(builds, name)
    assert transactions["operation"] == "overwrite"
    assert int(transactions["added-records"]) == TRANSACTIONS_PER_DAY  # the new day only: no other day changed
    assert int(transactions["total-records"]) == 4 * TRANSACTIONS_PER_DAY
    assert transactions["changed-partition-count"] == "1"
    response = builds.incremental_responses[name]
    assert (response["code"], response["rows_affected"]) == ("staged", TRANSACTIONS_PER_DAY)


def test_models_whose_inputs_did_not_change_are_written_only_by_a_full_refresh(builds: Builds) -> None:
    for model in FULL_REPLACE:
        name = next(name for name in MODELS if name.endswith(f".{model}"))
        rewritten = builds.incremental_snapshots[name][-1] != builds.after_full[name]
        assert rewritten == (model not in UNCHANGED), name
        response = builds.incremental_responses[name]
        assert response["code"] == ("staged" if rewritten else "unchanged"), name
        assert (response["rows_affected"] == 0) == (not rewritten), name
        assert (
            builds.lake.catalog.load_table(name).current_snapshot().snapshot_id
            not in builds.incremental_snapshots[name]
        )
    assert "lake: unchanged staging.stg_payments__customers" in builds.cli_output


def test_strategies_full_replace_append_merge(builds: Builds) -> None:
    replaced = _incremental_snapshot(builds, "curated.dim_cards")
    assert replaced["operation"] == "overwrite"
    assert replaced["deleted-records"] == str(len(CARDS))
    assert replaced["added-records"] == str(len(CARDS) + 1)

    appended = _incremental_snapshot(builds, "features.card_features")
    assert appended["operation"] == "append"
    assert int(appended["added-records"]) == TRANSACTIONS_PER_DAY
    assert "deleted-records" not in appended

    merged = _incremental_snapshot(builds, "curated.fct_chargebacks")
    chargebacks = builds.after_incremental["curated.fct_chargebacks"]
    assert merged["operation"] == "overwrite"
    assert int(merged["deleted-records"]) > 0
    assert len(set(chargebacks["chargeback_id"].to_pylist())) == chargebacks.num_rows == 6


def test_no_clear_personal_data_outside_raw(builds: Builds) -> None:
    clear = pa.array(
        [row["full_name"] for row in CUSTOMERS]
        + [row["email"] for row in CUSTOMERS]
        + [row["card_number"] for row in [*CARDS, NEW_CARD]]
    )
    pii_columns = {column for contract in load_contracts().values() for column in contract.pii_columns}
    for name, table in builds.after_rebuild.items():
        assert not pii_columns & set(table.column_names), name
        for column in table.column_names:
            if pa.types.is_string(table[column].type) or pa.types.is_large_string(table[column].type):
                assert not pc.any(pc.is_in(table[column], value_set=clear)).as_py(), f"{name}.{column}"
    tokens = builds.after_rebuild["curated.dim_customers"]["email_token"].to_pylist()
    assert len(set(tokens)) == len(CUSTOMERS)


def test_cli_lists_what_the_run_published(builds: Builds) -> None:
    assert "Published by this dbt run" in builds.cli_output
    assert "features.card_features" in builds.cli_output


def test_docs_generate_documents_every_model_and_column(builds: Builds) -> None:
    run = builds.lake.dbt("docs", "generate")
    assert run.success
    target = builds.lake.work / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    assert {f"{node['schema']}.{node['name']}" for node in models} == MODELS
    for node in models:
        assert node["description"].strip(), node["name"]
        documented = {name for name, column in node["columns"].items() if column["description"].strip()}
        built = {name.lower() for name in catalog["nodes"][node["unique_id"]]["columns"]}
        assert built == documented, node["name"]
    assert {exposure["name"] for exposure in manifest["exposures"].values()} == {"fraud_feature_service", "fraud_model"}


def test_source_freshness_reads_event_time(builds: Builds) -> None:
    run = builds.lake.dbt("source", "freshness")
    assert run.success
    sources = json.loads((builds.lake.work / "target" / "sources.json").read_text())
    latest = {result["unique_id"].rsplit(".", 1)[1]: result["max_loaded_at"] for result in sources["results"]}
    newest = builds.lake.catalog.load_table("raw.transactions").scan().to_arrow()["transaction_at"]
    assert latest["transactions"].startswith(pc.max(newest).as_py().strftime("%Y-%m-%dT%H:%M:%S"))
    assert set(latest) == {"transactions", "chargebacks"}
