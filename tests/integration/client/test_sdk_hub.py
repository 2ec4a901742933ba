"""The Eval Hub surface (/api/v1) through the SDK, with a job executed by the server's engine
against the loopback OpenAI-compatible fake."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from llm_research_lab import AsyncClient, Client
from llm_research_lab.errors import ConflictError, NotFoundError, RunFailedError, ValidationError
from llm_research_lab.schemas import hub as h
from tests.fakes.openai_server import Script, running_openai_server


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with running_openai_server(Script()) as url:
        yield url


def test_catalog(lab: Client) -> None:
    assert lab.hub.health().status == "healthy"
    providers = {p.provider_id: p for p in lab.hub.providers.list()}
    assert "lm_evaluation_harness" in providers
    lm = lab.hub.providers.get("lm_evaluation_harness")
    assert lm.benchmark_count == len(lab.hub.providers.benchmarks("lm_evaluation_harness")) > 0
    math = lab.hub.benchmarks.list(category="math")
    assert math and {b.category for b in math} == {"math"}
    collections = lab.hub.collections.list()
    assert collections and lab.hub.collections.get(collections[0].collection_id).benchmarks
    with pytest.raises(NotFoundError) as info:
        lab.hub.providers.get("nope")
    assert info.value.request_id


def test_models_crud(lab: Client, fake_url: str) -> None:
    slug = f"m-{uuid.uuid4().hex[:8]}"
    made = lab.hub.models.create(
        model_id=slug, model_name="M", base_url=fake_url, model_path="fake-model", tags=["t"]
    )
    assert made.model_id == slug and made.status == "active"
    assert lab.hub.models.get(slug).base_url == fake_url
    assert slug in {m.model_id for m in lab.hub.models.list().models}
    assert lab.hub.models.update(slug, model_name="M2", tags=["t", "u"]).model_name == "M2"
    probed = lab.hub.models.probe(slug)
    assert probed.probe is not None and probed.probe["ok"] is True
    with pytest.raises(ConflictError):
        lab.hub.models.create(model_id=slug, model_name="again")
    assert slug in lab.hub.models.delete(slug) or lab.hub.models.list()
    with pytest.raises(NotFoundError):
        lab.hub.models.get(slug)
    with pytest.raises(Exception, match="model_id"):
        lab.hub.models.create(model_id="bad slug!", model_name="x")  # validated locally first


def test_evaluation_job_runs_to_completion(lab: Client, fake_url: str) -> None:
    slug = f"job-{uuid.uuid4().hex[:8]}"
    lab.hub.models.create(model_id=slug, model_name=slug, base_url=fake_url, model_path="fake-model")
    lab.hub.models.probe(slug)
    created = lab.hub.evaluations.create_single(
        "lm_evaluation_harness", "arc_easy", model_name=slug, limit=5, experiment_name=f"hub {slug}"
    )
    seen: list[str] = []
    final = lab.hub.evaluations.wait(
        created.request_id, timeout=120, on_status=lambda s: seen.append(s.status)
    )
    assert final.status is h.HubStatus.COMPLETED and seen[-1] == "completed"
    result = final.results[0]
    assert result.samples_done == 5 and "acc" in result.metrics
    samples = list(lab.hub.evaluations.samples(created.request_id, page_size=2))
    assert len(samples) == 5 and sorted(s.doc_id for s in samples) == sorted({s.doc_id for s in samples})
    assert created.request_id in {e.request_id for e in lab.hub.evaluations.list()}
    # the same job seen from the Research Lab surface
    metrics = lab.experiments.get_metrics(final.experiment_id)
    assert metrics["acc"].mean == pytest.approx(result.metrics["acc"])
    run = next(iter(lab.experiments.list_runs(final.experiment_id)))
    assert (
        run.managed and len(list(lab.experiments.run_samples(final.experiment_id, run.id, page_size=3))) == 5
    )
    assert lab.hub.system_metrics().executor
    with pytest.raises(ConflictError):
        lab.hub.evaluations.cancel(created.request_id)


def test_failed_job_raises_run_failed(lab: Client, fake_url: str) -> None:
    slug = f"unprobed-{uuid.uuid4().hex[:6]}"
    lab.hub.models.create(model_id=slug, model_name=slug, base_url="http://127.0.0.1:9", model_path="x")
    created = lab.hub.evaluations.create(
        experiment_name="fails",
        evaluations=[
            {
                "name": "e",
                "model_name": slug,
                "backends": [
                    {
                        "name": "native",
                        "type": "native",
                        "benchmarks": [{"name": "arc_easy", "config": {"limit": 2}}],
                    }
                ],
            }
        ],
    )
    with pytest.raises(RunFailedError, match="failed"):
        lab.hub.evaluations.wait(created.request_id, timeout=120, poll_interval=0.2)


def test_hub_validation_and_not_found(lab: Client) -> None:
    with pytest.raises(NotFoundError):
        lab.hub.evaluations.get(uuid.uuid4())
    with pytest.raises(ValidationError):
        lab.request("POST", "/api/v1/evaluations", json={"request_id": "invalid", "evaluations": []})


async def test_async_hub(alab: AsyncClient) -> None:
    assert (await alab.hub.health()).status == "healthy"
    benchmarks = await alab.hub.benchmarks.list(provider_id="lm_evaluation_harness")
    assert benchmarks and all(b.provider_id == "lm_evaluation_harness" for b in benchmarks)
    assert (await alab.hub.system_metrics()).executor
