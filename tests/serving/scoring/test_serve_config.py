"""The committed Serve config is valid, points at the app, and carries the deployment's current options."""

from __future__ import annotations

from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

import serving.scoring.app as scoring_app
from serving.scoring.service import APP_NAME

CONFIG = Path(scoring_app.__file__).with_name("serve_config.yaml")


def test_serve_config_matches_the_deployment() -> None:
    config = ServeDeploySchema(**yaml.safe_load(CONFIG.read_text()))
    (application,) = config.applications
    (deployment,) = application.deployments
    declared = scoring_app.scorer_deployment._deployment_config

    assert (application.name, application.import_path) == (APP_NAME, "serving.scoring.app:app")
    assert application.runtime_env["env_vars"]["LAKEFORGE_PROFILE"] == "cluster"
    assert deployment.name == scoring_app.scorer_deployment.name
    assert deployment.user_config == scoring_app.DEFAULT_OPTIONS.model_dump()
    scaling = deployment.autoscaling_config
    wanted = declared.autoscaling_config
    assert (scaling["min_replicas"], scaling["max_replicas"]) == (wanted.min_replicas, wanted.max_replicas)
    assert scaling["target_ongoing_requests"] == wanted.target_ongoing_requests and wanted.max_replicas > 1
    assert (scaling["upscale_delay_s"], scaling["look_back_period_s"]) == (
        wanted.upscale_delay_s,
        wanted.look_back_period_s,
    )
    # Ray Serve warns that it will refuse a look-back window not longer than the metrics interval
    assert wanted.look_back_period_s > wanted.metrics_interval_s
    assert deployment.max_ongoing_requests == declared.max_ongoing_requests
