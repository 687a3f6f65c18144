"""``make demo`` step: start the scoring service, score usual and fraudulent-looking payments, stop cleanly.

Runs on the data home the pipeline filled (cards, merchants, materialized features, a champion model): it
takes cards that have online features, sends each one payment at the card's usual amount in a shop and one
fifty times larger, online, at the other end of the world, plus one from a card the lake has never seen,
prints the answers. With ``--replay FILE``, it then scores a landing file's transactions that the lake has not
ingested yet, as the payment system would send them during the day, before shutting the service down (every
prediction is written to ``ml.predictions``, where the next cycle's drift check reads them).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lake.catalog import load_catalog, load_table
from lake.errors import ScoringError
from lake.settings import get_settings
from models.cycle import lake_clock
from serving.scoring.prediction_log import PREDICTIONS_TABLE
from serving.scoring.service import start_service, stop_service

CARDS = 3
REPLAY_BATCH = 500
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
    now = (lake_clock(catalog) + timedelta(minutes=5)).isoformat()  # the lake lives in data time
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


def _score_batch(url: str, transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    status, answer = _post(f"{url}/v1/score/batch", {"transactions": transactions})
    if status != 200:
        raise ScoringError(f"the service answered {status}: {answer['detail']}")
    return list(answer["scores"])


def _replay(url: str, path: Path, limit: int) -> set[str]:
    """Score up to ``limit`` transactions of a landing file in batches; print the decisions they got."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path).slice(0, limit).to_pylist()
    decisions: Counter[str] = Counter()
    with console.status(f"scoring {len(rows):,} transactions of {path.name} ..."):
        for start in range(0, len(rows), REPLAY_BATCH):
            batch = [
                {**row, "transaction_at": row["transaction_at"].isoformat()}
                for row in rows[start : start + REPLAY_BATCH]
            ]
            decisions.update(score["decision"] for score in _score_batch(url, batch))
    summary = ", ".join(f"{count:,} {decision}" for decision, count in decisions.most_common())
    console.print(f"scored {len(rows):,} transactions of {path.name} that the lake has not ingested yet: {summary}")
    return {row["transaction_id"] for row in rows}


def main() -> None:
    """Start, score, print, optionally replay a landing file, stop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replay", type=Path, help="A transactions landing file (Parquet) to score.")
    parser.add_argument("--limit", type=int, default=2_000, help="Transactions of --replay to score.")
    options = parser.parse_args()
    settings = get_settings()
    payments = _payments()
    scored = {body["transaction_id"] for _, body in payments}
    with console.status("starting the scoring service on a local Ray instance ..."):
        url = start_service(settings)
    try:
        answer = {"scores": _score_batch(url, [body for _, body in payments])}
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
        if options.replay:
            scored |= _replay(url, options.replay, options.limit)
    finally:
        with console.status("stopping: writing the prediction log ..."):
            stop_service()
    console.print(f"stopped cleanly; {_logged(scored)} of {len(scored)} predictions are in {PREDICTIONS_TABLE}")


if __name__ == "__main__":
    try:
        main()
    except ScoringError as error:
        console.print(f"[bold red]error:[/] {error}")
        sys.exit(1)
