"""Health probes and the Prometheus endpoint."""

from __future__ import annotations

import httpx

from llm_research_lab.server.health.checks import register


async def test_liveness_plain_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200 and r.text == "OK"


async def test_readiness(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200
    assert r.json() == {
        "status": "healthy",
        "components": {"database": "healthy", "cache": "healthy", "storage": "healthy"},
    }


async def test_readiness_503_when_critical_component_down(client: httpx.AsyncClient, app: object) -> None:
    async def broken() -> None:
        raise ConnectionError("db gone")

    register(app.state.lab, "database", broken, critical=True)  # type: ignore[attr-defined]
    r = await client.get("/health/ready")
    assert r.status_code == 503
    assert r.json()["status"] == "unhealthy" and r.json()["components"]["database"] == "unhealthy"
    r = await client.get("/health/detailed")
    assert r.status_code == 503
    assert "db gone" in r.json()["components"]["database"]["error"]


async def test_detailed(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/detailed")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] and body["uptime_seconds"] >= 0
    assert body["versions"]["python"]
    assert set(body["components"]) == {"database", "cache", "storage"}
    assert all(c["latency_ms"] >= 0 for c in body["components"].values())
    assert "jwt" not in str(body["settings"]).lower()


async def test_prometheus_uses_route_templates(client: httpx.AsyncClient) -> None:
    await client.get("/experiments")
    await client.get("/experiments/6b1c1f0e-0000-4000-8000-000000000000")
    await client.get("/definitely/not/here")
    text = (await client.get("/metrics")).text
    assert "# TYPE http_requests_total counter" in text
    assert 'http_requests_total{method="GET",path="/experiments",status="200"} 1.0' in text
    assert 'path="/experiments/{experiment_id}",status="404"' in text
    assert "6b1c1f0e" not in text and "/definitely/not/here" not in text
    assert 'http_request_duration_seconds_bucket{le="0.1",method="GET",path="/experiments"}' in text
    assert "db_connections_active" in text
