"""``make demo`` step: start the scoring service, score usual and fraudulent-looking payments, stop cleanly.

Runs on the data home the pipeline filled (cards, merchants, materialized features, a champion model): it
takes cards that have online features, sends each one payment at the card's usual amount in a shop and one
fifty times larger, online, at the other end of the world, plus one from a card the lake has never seen,
prints the answers, then shuts the service down (its predictions are written to ``ml.predictions``).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from lake.catalog import load_catalog, load_table
from lake.errors import ScoringError
from lake.settings import get_settings
from serving.scoring.prediction_log import PREDICTIONS_TABLE
from serving.scoring.service import start_service, stop_service

CARDS = 3
console = Console(width=130)


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _payments() -> list[tuple[str, dict[str, Any]]]:
    catalog = load_catalog()
    card_features = load_table(catalog, "features.card_features").scan(
        selected_fields=("card_id", "tx_count_7d", "amount_sum_7d_cents"), limit=500
    )
    cards = [row for row in card_features.to_arrow().to_pylist() if row["tx_count_7d"]][:CARDS]
    merchants = load_table(catalog, "features.merchant_features").scan(selected_fields=("merchant_id",), limit=1)
    merchant_id = merchants.to_arrow()["merchant_id"][0].as_py()
    now = datetime.now(UTC).isoformat()
    payments = []
    for number, card in enumerate(cards):
        usual = max(1, card["amount_sum_7d_cents"] // card["tx_count_7d"])
        base = {"card_id": card["card_id"], "merchant_id": merchant_id, "currency": "EUR", "transaction_at": now}
        payments.append(
            ("usual", {**base, "transaction_id": f"demo-{number}-a", "amount_cents": usual, "channel": "pos"})
        )
        payments.append(
            (
                "suspicious",
                {
                    **base,
                    "transaction_id": f"demo-{number}-b",
                    "amount_cents": usual * 50,
                    "channel": "online",
                    "lat": -33.9,
                    "lon": 151.2,
                },
            )
        )
    payments.append(
        (
            "unknown card",
            {
                "transaction_id": "demo-x",
                "card_id": "card-never-seen",
                "merchant_id": merchant_id,
                "amount_cents": 4_999,
                "currency": "EUR",
                "channel": "online",
                "transaction_at": now,
            },
        )
    )
    return payments


def _logged(transaction_ids: set[str]) -> int:
    table = load_table(load_catalog(), PREDICTIONS_TABLE)
    quoted = ", ".join(f"'{transaction_id}'" for transaction_id in sorted(transaction_ids))
    return len(table.scan(row_filter=f"transaction_id IN ({quoted})", selected_fields=("request_id",)).to_arrow())


def main() -> None:
    """Start, score, print, stop."""
    settings = get_settings()
    payments = _payments()
    with console.status("starting the scoring service on a local Ray instance ..."):
        url = start_service(settings)
    try:
        status, answer = _post(f"{url}/v1/score/batch", {"transactions": [body for _, body in payments]})
        if status != 200:
            raise ScoringError(f"the service answered {status}: {answer['detail']}")
        table = Table(
            "payment",
            "amount",
            "channel",
            "p(fraud)",
            "decision",
            "strongest reason",
            "unknown",
            "model",
            title=f"POST {url}/v1/score/batch",
        )
        for (kind, body), score in zip(payments, answer["scores"], strict=True):
            reason = score["reasons"][0]
            table.add_row(
                kind,
                f"{body['amount_cents'] / 100:,.2f}",
                body["channel"],
                f"{score['fraud_probability']:.3f}",
                score["decision"],
                f"{reason['feature']} {reason['contribution']:+.2f}",
                ",".join(score["unknown_entities"]) or "-",
                f"v{score['model_version']}",
            )
        console.print(table)
    finally:
        with console.status("stopping: writing the prediction log ..."):
            stop_service()
    scored = {body["transaction_id"] for _, body in payments}
    console.print(f"stopped cleanly; {_logged(scored)} of {len(scored)} predictions are in {PREDICTIONS_TABLE}")


if __name__ == "__main__":
    try:
        main()
    except ScoringError as error:
        console.print(f"[bold red]error:[/] {error}")
        sys.exit(1)
