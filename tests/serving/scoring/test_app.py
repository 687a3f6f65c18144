"""The HTTP contract of the running service: answers, batches, bad input, health, metrics, OpenAPI."""

from __future__ import annotations

import json
import urllib.request

import pytest

from lake.contracts import get_contract
from models.registry import get_model_version, resolve_alias
from serving.scoring.app import MAX_BATCH_TRANSACTIONS
from serving.scoring.sandbox import THRESHOLDS, Sandbox, transaction
from tests.serving.scoring.conftest import call, wait_for_logged

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_score_answers_probability_decision_reasons_and_freshness(scoring_url: str, scoring_sandbox: Sandbox) -> None:
    card, merchant = scoring_sandbox.card_ids[0], scoring_sandbox.merchant_ids[0]
    status, usual = call(f"{scoring_url}/v1/score", transaction(card, merchant, amount_cents=1))
    assert status == 200, usual
    status, huge = call(f"{scoring_url}/v1/score", transaction(card, merchant, amount_cents=5_000_000, number=1))
    assert status == 200, huge

    assert usual["decision"] == "approve" and usual["fraud_probability"] < THRESHOLDS["review"]
    assert huge["decision"] == "decline" and huge["fraud_probability"] >= THRESHOLDS["decline"]
    assert huge["reasons"][0]["feature"] == "amount_to_card_avg_7d" and huge["reasons"][0]["contribution"] > 0
    assert huge["model_version"] == resolve_alias("champion", scoring_sandbox.settings)
    assert huge["unknown_entities"] == [] and huge["transaction_id"] == f"tx-{card}-1"
    freshness = {item["view"]: item for item in huge["freshness"]}
    assert set(freshness) == {"card_features", "merchant_features", "customer_features"}
    assert all(item["value_time"] and item["materialized_until"] for item in freshness.values())
    assert usual["request_id"] != huge["request_id"]


def test_unknown_card_and_merchant_are_scored_with_defaults_and_flagged(scoring_url: str) -> None:
    status, answer = call(f"{scoring_url}/v1/score", transaction("card-never-seen", "merchant-never-seen", 2_500))

    assert status == 200, answer
    assert answer["unknown_entities"] == ["card", "merchant", "customer"]
    assert 0.0 <= answer["fraud_probability"] <= 1.0
    assert all(item["value_time"] is None for item in answer["freshness"])


def test_batch_keeps_request_order(scoring_url: str, scoring_sandbox: Sandbox) -> None:
    cards = scoring_sandbox.card_ids[:40]
    body = {
        "transactions": [transaction(card, scoring_sandbox.merchant_ids[1], 100 + i, i) for i, card in enumerate(cards)]
    }

    status, answer = call(f"{scoring_url}/v1/score/batch", body)

    assert status == 200, answer
    assert [score["transaction_id"] for score in answer["scores"]] == [f"tx-{card}-{i}" for i, card in enumerate(cards)]
    assert len({score["request_id"] for score in answer["scores"]}) == len(cards)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_cents": 0}, "amount_cents"),
        ({"currency": "JPY"}, "currency"),
        ({"transaction_at": "2026-01-06T12:00:00"}, "transaction_at"),
        ({"lat": 123.0}, "lat"),
        ({"is_fraud": True}, "is_fraud"),
    ],
)
def test_schema_violations_answer_422_naming_the_field(scoring_url: str, change: dict, field: str) -> None:
    status, answer = call(f"{scoring_url}/v1/score", transaction("card000001", "merc000001", 100) | change)

    assert status == 422
    assert [error["loc"][-1] for error in answer["detail"]] == [field]


def test_missing_field_and_broken_json_answer_422(scoring_url: str) -> None:
    body = transaction("card000001", "merc000001", 100)
    del body["card_id"]
    status, answer = call(f"{scoring_url}/v1/score", body)
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "card_id"]

    status, answer = call(f"{scoring_url}/v1/score", b'{"transaction_id": ')
    assert status == 422 and answer["detail"][0]["type"] == "json_invalid"


def test_oversized_batch_answers_413(scoring_url: str) -> None:
    event = transaction("card000001", "merc000001", 100)
    status, answer = call(f"{scoring_url}/v1/score/batch", {"transactions": [event] * (MAX_BATCH_TRANSACTIONS + 1)})
    assert status == 413 and str(MAX_BATCH_TRANSACTIONS) in answer["detail"]

    status, answer = call(f"{scoring_url}/v1/score/batch", {"transactions": [event] * 20_000})
    assert status == 413 and "bytes" in answer["detail"]


def test_health_readiness_and_metrics(scoring_url: str) -> None:
    assert call(f"{scoring_url}/healthz")[0] == 200
    status, ready = call(f"{scoring_url}/readyz")
    assert status == 200 and ready["model_version"] >= 1

    text = replica_metrics_after_scoring(scoring_url)
    for name in (
        'lakeforge_scoring_requests_total{route="/v1/score",status="200"}',
        "lakeforge_scoring_request_seconds_bucket",
        "lakeforge_scoring_fraud_probability_bucket",
        'lakeforge_scoring_feature_values_total{state="missing"}',
        "lakeforge_scoring_model_version",
    ):
        assert name in text


def replica_metrics_after_scoring(url: str) -> str:
    """Metrics of a replica that scored (each replica counts its own requests)."""
    text = ""
    for _ in range(20):
        call(f"{url}/v1/score", transaction("card-never-seen", "merc000001", 100))
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        if 'route="/v1/score",status="200"' in text:
            break
    return text


def test_openapi_request_model_is_the_transactions_contract(scoring_url: str) -> None:
    with urllib.request.urlopen(f"{scoring_url}/openapi.json", timeout=10) as answer:
        document = json.loads(answer.read())
    transaction_schema = document["components"]["schemas"]["Transaction"]

    assert list(transaction_schema["properties"]) == list(get_contract("transactions").columns)
    assert set(document["paths"]) >= {"/v1/score", "/v1/score/batch", "/healthz", "/readyz", "/metrics"}
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    with urllib.request.urlopen(f"{scoring_url}/docs", timeout=10) as answer:
        assert answer.status == 200


def test_every_scored_request_lands_in_the_prediction_log(scoring_url: str, scoring_sandbox: Sandbox) -> None:
    cards = scoring_sandbox.card_ids[:10]
    body = {"transactions": [transaction(card, "merchant-never-seen", 300, 900 + i) for i, card in enumerate(cards)]}
    status, answer = call(f"{scoring_url}/v1/score/batch", body)
    assert status == 200, answer
    expected = {score["request_id"]: score for score in answer["scores"]}

    logged = wait_for_logged(scoring_sandbox, set(expected))

    champion = get_model_version(settings=scoring_sandbox.settings)
    for row in logged:
        score = expected[row["request_id"]]
        assert (row["transaction_id"], row["decision"]) == (score["transaction_id"], score["decision"])
        assert row["fraud_probability"] == pytest.approx(score["fraud_probability"])
        assert row["model_version"] == score["model_version"] and row["unknown_entities"] == "merchant"
        assert list(json.loads(row["feature_values"])) == champion.features
        assert row["scored_at"].tzinfo is not None and row["merchant_id"] == "merchant-never-seen"
