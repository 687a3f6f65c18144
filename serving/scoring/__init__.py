"""Real-time fraud scoring: a Ray Serve application answering ``POST /v1/score`` (see :mod:`serving.scoring.app`).

Online features come through the Feast service ``fraud_model_v1``, the model is the registry's champion, and
every answer is logged to the Iceberg table ``ml.predictions``.
"""
