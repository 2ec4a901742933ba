"""The Eval Hub notebook's flows (seed 003) as a script, with plain httpx against /api/v1.

    LAB_BASE_URL=http://127.0.0.1:8000 LAB_EXAMPLE_MODEL_URL=http://127.0.0.1:8011 \
    python examples/eval_hub_notebook.py

Exits non-zero if a step that should succeed does not.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any
from uuid import uuid4

import httpx

BASE_URL = os.environ.get("LAB_BASE_URL", "http://localhost:8000")
API_BASE = f"{BASE_URL}/api/v1"
MODEL_URL = os.environ.get("LAB_EXAMPLE_MODEL_URL", "http://127.0.0.1:8011")
HEADERS = {"X-API-Key": os.environ["LAB_API_KEY"]} if os.environ.get("LAB_API_KEY") else {}


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def api_request(method: str, endpoint: str, **kwargs: Any) -> httpx.Response:
    response = httpx.request(method, f"{API_BASE}{endpoint}", headers=HEADERS, timeout=30, **kwargs)
    print(f"{method.upper()} {API_BASE}{endpoint} -> {response.status_code}")
    return response


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        print(f"unexpected {response.status_code}: {response.text}")
        sys.exit(1)
    return response.json()


def main() -> None:
    health = expect(api_request("GET", "/health"), 200)
    print(f"Service is healthy! Version: {health['version']}, uptime {health['uptime_seconds']:.1f}s")

    providers = expect(api_request("GET", "/providers"), 200)
    print(f"Found {providers['total_providers']} providers:")
    for provider in providers["providers"]:
        name, pid, count = provider["provider_name"], provider["provider_id"], provider["benchmark_count"]
        print(f"  - {name} ({pid}): {count} benchmarks")
    provider = expect(api_request("GET", "/providers/lm_evaluation_harness"), 200)
    print(f"Provider: {provider['provider_name']}, {len(provider['benchmarks'])} benchmarks")

    benchmarks = expect(api_request("GET", "/benchmarks"), 200)
    print(f"Total benchmarks available: {benchmarks['total_count']}")
    math = expect(api_request("GET", "/benchmarks", params={"category": "math"}), 200)
    print(f"Math benchmarks: {math['total_count']}")
    per_provider = expect(api_request("GET", "/providers/lm_evaluation_harness/benchmarks"), 200)
    categories: dict[str, list[str]] = {}
    for benchmark in per_provider:
        categories.setdefault(benchmark["category"], []).append(benchmark["name"])
    print(f"Categories: {', '.join(sorted(categories))}")

    collections = expect(api_request("GET", "/collections"), 200)
    print(f"Available collections: {collections['total_collections']}")

    models = expect(api_request("GET", "/models"), 200)
    print(f"Total models: {models['total_models']}, runtime models: {len(models.get('runtime_models', []))}")

    model_id = f"notebook-{uuid4().hex[:8]}"
    new_model = {
        "model_id": model_id,
        "model_name": "Notebook model",
        "description": "An OpenAI-compatible endpoint",
        "model_type": "openai-compatible",
        "base_url": MODEL_URL,
        "api_key_required": False,
        "model_path": "fake-model",
        "capabilities": {"max_tokens": 512, "supports_streaming": False, "context_window": 4096},
        "config": {"temperature": 0.0, "max_tokens": 64, "timeout": 60, "retry_attempts": 1},
        "status": "active",
        "tags": ["example"],
    }
    registered = expect(api_request("POST", "/models", json=new_model), 201)
    print(f"Model registered successfully! Model ID: {registered['model_id']}")
    updated = expect(
        api_request(
            "PUT", f"/models/{model_id}", json={"model_name": "Notebook model - Updated", "tags": ["x"]}
        ),
        200,
    )
    print(f"New name: {updated['model_name']}")
    expect(api_request("POST", f"/models/{model_id}/probe"), 200)

    single = {
        "model_name": model_id,
        "model_configuration": {"temperature": 0.0, "max_tokens": 16},
        "timeout_minutes": 30,
        "retry_attempts": 1,
        "limit": 5,
        "num_fewshot": 0,
        "experiment_name": "Single Benchmark - ARC Easy",
        "tags": {"example_type": "single_benchmark"},
    }
    created = expect(
        api_request("POST", "/evaluations/benchmarks/lm_evaluation_harness/arc_easy", json=single), 202
    )
    request_id = created["request_id"]
    print(f"Evaluation created: {request_id}, experiment URL: {created['experiment_url']}")

    deadline = time.time() + 300
    while True:
        status = expect(api_request("GET", f"/evaluations/{request_id}"), 200)
        print(f"Status: {status['status']} ({status.get('progress_percentage', 0):.1f}%)")
        if status["status"] in ("completed", "failed", "cancelled"):
            break
        if time.time() > deadline:
            print("Monitoring timed out")
            sys.exit(1)
        time.sleep(0.5)
    for result in status["results"]:
        print(f"  - {result['benchmark_name']}: {result['status']} {result['metrics']}")
    if status["status"] != "completed":
        sys.exit(1)

    evaluations = expect(api_request("GET", "/evaluations"), 200)
    print(f"Active evaluations: {len(evaluations)}")
    metrics = expect(api_request("GET", "/metrics/system"), 200)
    print(
        f"System metrics: active {metrics['active_evaluations']}, total requests {metrics['total_requests']}"
    )

    invalid = {
        "request_id": "invalid-uuid-format",
        "evaluations": [{"name": "", "model_name": "", "backends": []}],
    }
    error = api_request("POST", "/evaluations", json=invalid)
    print(f"Invalid request rejected with {error.status_code}: {error.json().get('detail')}")
    missing = api_request("GET", f"/evaluations/{uuid4()}")
    print(f"Non-existent evaluation: {missing.status_code} {missing.json()['detail']}")
    if error.status_code < 400 or missing.status_code != 404:
        sys.exit(1)

    deleted = expect(api_request("DELETE", f"/models/{model_id}"), 200)
    print(deleted.get("message", "Model deleted"))
    print("Notebook flows completed")


if __name__ == "__main__":
    main()
