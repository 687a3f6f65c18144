"""``make demo``'s feature-store step: fraud_model_v1 online and offline on the lake the demo just built.

Applies ``feature_repo/`` if the registry does not know ``fraud_model_v1`` yet, materializes every view up to
the newest feature row (incrementally: a second run writes nothing), then shows the online vector of the
newest real transaction (on-demand ratios included) and a point-in-time training set for a few real
transactions, as rich tables.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from rich.table import Table

from lake.catalog import load_catalog
from lake.duck import connect, register_iceberg_views
from lake.errors import FeaturesError
from lake.feast.environment import apply_feature_repo, open_feature_store
from lake.feast.materialization import MaterializedRange, feature_freshness, materialize_incremental_views
from lake.settings import get_settings
from lakeforge.console import make_console

SERVICE = "fraud_model_v1"
TRANSACTIONS_SQL = """
SELECT transaction_id, card_id, merchant_id, customer_id, amount_cents, transaction_at AS event_timestamp
FROM curated.fct_transactions ORDER BY transaction_at DESC LIMIT ?
"""
console = make_console()


def read_recent_transactions(count: int) -> tuple[pd.DataFrame, datetime]:
    """The ``count`` newest transactions of the lake, and the newest card feature time.

    Raises:
        FeaturesError: the lake has no transactions or card features yet (run the demo's earlier steps).
    """
    settings = get_settings()
    with connect(settings) as con:
        views = register_iceberg_views(
            con, load_catalog(settings), ["curated.fct_transactions", "features.card_features"]
        )
        if len(views) < 2:
            raise FeaturesError("the lake has no transactions or card features yet; run ingest and dbt build first")
        transactions = con.execute(TRANSACTIONS_SQL, [count]).df()
        newest = con.execute("SELECT max(feature_timestamp) FROM features.card_features").fetchone()
    if transactions.empty or not newest or newest[0] is None:
        raise FeaturesError("the lake has no transactions or card features yet; run ingest and dbt build first")
    return transactions, newest[0]


def show(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print rows as a rich table (floats rounded)."""
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*[f"{value:,.3f}" if isinstance(value, float) else str(value) for value in row])
    console.print(table)


def main() -> None:
    """Apply if needed, materialize, print one online feature vector and a small training set."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5, help="transactions in the training set")
    rows = parser.parse_args().rows

    transactions, newest = read_recent_transactions(rows)
    store = open_feature_store()
    if SERVICE not in {service.name for service in store.list_feature_services()}:
        apply_feature_repo()
        store = open_feature_store()
    service = store.get_feature_service(SERVICE)

    def announce(step: MaterializedRange) -> None:
        console.print(f"materializing [bold]{step.view}[/]: {step.rows:,} entities, {step.start} .. {step.end}")

    already = [end for end in feature_freshness(store).values() if end is not None]
    done = materialize_incremental_views(store, max([newest + timedelta(seconds=1), *already]), on_view=announce)
    show("Materialized", ["view", "to", "entity rows written"], [[s.view, s.end, f"{s.rows:,}"] for s in done])

    scored = transactions.iloc[0]
    request = {key: scored[key] for key in ("card_id", "merchant_id", "customer_id")}
    request["amount_cents"] = int(scored["amount_cents"])
    vector = store.get_online_features(features=service, entity_rows=[request]).to_dict()
    show(
        f"Online features of transaction {scored['transaction_id']} through {SERVICE}",
        ["feature", "value"],
        [[name, values[0]] for name, values in vector.items()],
    )

    training = store.get_historical_features(entity_df=transactions, features=service).to_df()
    training["event_timestamp"] = training["event_timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")
    picked = ["transaction_id", "event_timestamp", "tx_count_24h", "amount_to_card_avg_7d"]
    picked += ["merchant_chargeback_rate_30d", "customer_avg_amount_30d_cents"]
    show(
        f"Training set: {len(training)} transactions, {len(training.columns)} columns (a few shown)",
        picked,
        training[picked].astype(object).where(training[picked].notna(), None).values.tolist(),
    )


if __name__ == "__main__":
    main()
