"""The running service under stress: hot swap under load, graceful shutdown, a killed replica, autoscaling.

Each test prints what it measured (error counts, recovery time, replica counts) for the report.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import ray
from ray import serve

from models.registry import resolve_alias
from serving.scoring.app import ServiceOptions, build_app
from serving.scoring.sandbox import Sandbox, register_champion, train_rule_model, transaction
from tests.serving.scoring.conftest import APP_NAME, LoadGenerator, call, wait_for_logged, wait_until_ready

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def bodies(sandbox: Sandbox, count: int = 50) -> list[dict]:
    return [
        transaction(sandbox.card_ids[i % len(sandbox.card_ids)], sandbox.merchant_ids[i % 5], 100 + i, i)
        for i in range(count)
    ]


def replicas(states: tuple[str, ...] = ("RUNNING",), app: str = APP_NAME) -> int:
    """Replicas of the scoring deployment in any of these states."""
    deployment = serve.status().applications[app].deployments["FraudScorer"]
    return sum(int(deployment.replica_states.get(state, 0)) for state in states)


def replica_pids(app: str = APP_NAME) -> list[int]:
    names = [
        actor
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if actor["name"].startswith(f"SERVE_REPLICA::{app}#FraudScorer#")
    ]
    pids = []
    for actor in names:
        handle = ray.get_actor(actor["name"], namespace=actor["namespace"])
        try:
            pids.append(ray.get(handle.__ray_call__.remote(lambda replica: os.getpid()), timeout=10))
        except ray.exceptions.RayError:
            continue
    return pids


def test_promoting_a_champion_under_load_switches_without_a_failed_request(
    scoring_url: str, scoring_sandbox: Sandbox
) -> None:
    settings = scoring_sandbox.settings
    before = resolve_alias("champion", settings)
    features = scoring_sandbox.champion.features
    deadline = time.monotonic() + 30  # an earlier test may have moved the alias: wait until replicas follow it
    while any(call(f"{scoring_url}/readyz")[1]["model_version"] != before for _ in range(5)):
        assert time.monotonic() < deadline, f"the service did not come to serve the champion v{before}"
        time.sleep(0.2)
    load = LoadGenerator(scoring_url, bodies(scoring_sandbox), concurrency=8)
    time.sleep(2)

    promoted = register_champion(settings, train_rule_model(features, seed=1, flip_above=2.0), features)
    deadline = time.monotonic() + 30
    while call(f"{scoring_url}/readyz")[1]["model_version"] != promoted.version and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)
    result = load.stop()

    print(f"hot swap under load: {result.total} requests, {result.errors} errors, versions {sorted(result.versions)}")
    assert result.errors == 0, result.statuses
    assert result.versions == {before, promoted.version}
    assert result.total > 50


def test_graceful_shutdown_writes_the_buffered_predictions(scoring_url: str, scoring_sandbox: Sandbox) -> None:
    name = "scoring-shutdown"
    options = ServiceOptions(flush_seconds=3600)
    serve.run(build_app(scoring_sandbox.settings, options), name=name, route_prefix=f"/{name}")
    url = f"{scoring_url}/{name}"
    wait_until_ready(url)
    status, answer = call(f"{url}/v1/score/batch", {"transactions": bodies(scoring_sandbox, 7)})
    assert status == 200, answer

    serve.delete(name)

    logged = wait_for_logged(scoring_sandbox, {score["request_id"] for score in answer["scores"]}, seconds=5)
    assert len(logged) == 7


def test_a_killed_replica_is_restarted_and_the_service_recovers(scoring_url: str, scoring_sandbox: Sandbox) -> None:
    (pid,) = replica_pids()
    load = LoadGenerator(scoring_url, bodies(scoring_sandbox), concurrency=4)
    time.sleep(2)

    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    deadline = killed_at + 120
    while time.monotonic() < deadline:
        pids = replica_pids()
        if pids and pid not in pids and call(f"{scoring_url}/readyz")[0] == 200:
            break
        time.sleep(0.5)
    time.sleep(2)
    result = load.stop()

    failed = [moment for moment in result.failures if moment >= killed_at]
    recovered_at = min(moment for moment in result.successes if moment > max(failed, default=killed_at))
    answered = [moment for moment in result.successes if killed_at <= moment <= recovered_at]
    print(
        f"replica kill: {len(failed)} of {len(failed) + len(answered)} requests failed during the outage, "
        f"first answer {recovered_at - killed_at:.1f} s after the kill; statuses {result.statuses}"
    )
    assert recovered_at - killed_at < 90
    assert replica_pids() and pid not in replica_pids()


def test_load_starts_a_second_replica(scoring_url: str, scoring_sandbox: Sandbox) -> None:
    assert replicas() == 1
    load = LoadGenerator(scoring_url, bodies(scoring_sandbox), concurrency=40)
    started = time.monotonic()
    try:
        while replicas(("STARTING", "RUNNING")) < 2 and time.monotonic() - started < 90:
            time.sleep(0.5)
        decided_after = time.monotonic() - started
    finally:
        result = load.stop()
    while replicas() < 2 and time.monotonic() - started < 180:
        time.sleep(0.5)

    print(f"autoscaling: a second replica started {decided_after:.1f} s into the load, {replicas()} running")
    assert replicas() >= 2
    assert result.errors == 0, result.statuses
