"""Request ids, Prometheus metrics, body limits: the ASGI edge."""
