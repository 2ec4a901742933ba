"""Models, providers, prompts and evaluations through the SDK against the live server."""

from __future__ import annotations

import uuid

import pytest

from llm_research_lab import AsyncClient, Client
from llm_research_lab.errors import NotFoundError, ValidationError


def test_models(lab: Client) -> None:
    ident = f"claude-{uuid.uuid4().hex[:8]}"
    model = lab.models.create(
        "Claude 3.5 Sonnet",
        "anthropic",
        ident,
        version="20241022",
        config={
            "max_context_window": 200000,
            "pricing": {"input_per_million": 3.0, "output_per_million": 15.0},
        },
    )
    assert model.model_identifier == ident and model.config["pricing"]["output_per_million"] == 15.0
    updated = lab.models.update(model.id, version="20250101", config={"max_context_window": 250000})
    assert updated.version == "20250101"
    assert updated.config["max_context_window"] == 250000 and "pricing" in updated.config  # deep merge
    assert lab.models.get(model.id).version == "20250101"
    assert model.id in {m.id for m in lab.models.list(provider="anthropic", page_size=1)}
    assert model.id not in {m.id for m in lab.models.list(provider="openai")}
    names = {p.name for p in lab.models.providers()}
    assert {"openai", "anthropic", "google"} <= names
    with pytest.raises(ValidationError) as info:
        lab.models.create("x", "not-a-provider", "y")
    assert "provider" in info.value.fields
    lab.models.delete(model.id)
    with pytest.raises(NotFoundError):
        lab.models.get(model.id)


def test_prompts(lab: Client) -> None:
    prompt = lab.prompts.create(
        f"cot-{uuid.uuid4().hex[:6]}", "Problem: {{question}}\nThink.", variables=["question"], tags=["r"]
    )
    assert prompt.variables == ["question"]
    assert lab.prompts.render(prompt.id, {"question": "2+2?"}) == "Problem: 2+2?\nThink."
    with pytest.raises(ValidationError):
        lab.prompts.render(prompt.id, {})
    changed = lab.prompts.update(prompt.id, description="d")
    assert changed.description == "d" and lab.prompts.get(prompt.id).description == "d"
    assert prompt.id in {p.id for p in lab.prompts.list()}
    lab.prompts.delete(prompt.id)
    with pytest.raises(NotFoundError):
        lab.prompts.render(prompt.id, {"question": "x"})


def test_evaluations_list_filters(lab: Client) -> None:
    experiment = lab.experiments.create(name=f"ev-{uuid.uuid4().hex[:8]}")
    runs = [experiment.create_run() for _ in range(3)]
    made = [lab.evaluations.create(experiment.id, r.id, {"accuracy": 0.1 * i}) for i, r in enumerate(runs)]
    listed = list(lab.evaluations.list(experiment_id=experiment.id, page_size=2))
    assert {e.id for e in listed} == {e.id for e in made}
    assert [e.id for e in lab.evaluations.list(run_id=runs[1].id)] == [made[1].id]
    with pytest.raises(NotFoundError):
        lab.evaluations.create(experiment.id, uuid.uuid4(), {"accuracy": 1})


def test_generic_request_and_health(lab: Client) -> None:
    assert lab.health() == "OK"
    body = lab.request("GET", "/experiments", params={"limit": 1})
    assert set(body) >= {"data", "pagination", "links", "page_info"}


async def test_async_models_and_prompts(alab: AsyncClient) -> None:
    model = await alab.models.create("m", "mock", f"mock-{uuid.uuid4().hex[:6]}")
    assert (await alab.models.get(model.id)).provider == "mock"
    assert model.id in {m.id async for m in alab.models.list(provider="mock")}
    prompt = await alab.prompts.create(f"p-{uuid.uuid4().hex[:6]}", "Hi {{name}}")
    assert await alab.prompts.render(prompt.id, {"name": "Ada"}) == "Hi Ada"
    providers = await alab.models.providers()
    assert any(p.name == "mock" for p in providers)
