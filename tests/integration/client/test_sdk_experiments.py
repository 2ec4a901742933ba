"""The SDK against a live server: experiments, runs, evaluations, metrics (sync and async)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from llm_research_lab import AsyncClient, Client, Experiment, ExperimentMetrics, Run
from llm_research_lab.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    RunFailedError,
    TimeoutError_,
    UnprocessableEntityError,
    ValidationError,
)


def _name(prefix: str = "sdk") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def config(dataset_id: str) -> dict[str, object]:
    """A tracked experiment's config: a dataset but no model, so the client reports results."""
    return {
        "dataset_ids": [dataset_id],
        "parameters": {"temperature": 0.7, "max_tokens": 2048, "top_p": 0.95},
    }


def test_seed_sdk_flow_with_a_tracked_run_completed_elsewhere(lab: Client, config: dict[str, object]) -> None:
    """The seed's Python SDK example, with the run finished by another thread (a tracked run)."""
    experiment = lab.experiments.create(
        name=_name("My Experiment"), description="Testing GPT-4 on math problems", config=config
    )
    assert isinstance(experiment, Experiment)
    assert experiment.status == "draft"
    experiment.start()
    assert experiment.status == "running" and experiment.started_at is not None

    run = experiment.create_run(config_overrides={"parameters": {"temperature": 0.5}})
    assert isinstance(run, Run)
    assert run.config["parameters"] == {"temperature": 0.5, "max_tokens": 2048, "top_p": 0.95}
    assert run.status == "pending"

    def finish_elsewhere() -> None:
        with Client(base_url=lab.base_url) as other:
            time.sleep(0.6)
            other.evaluations.create(experiment.id, run.id, {"accuracy": 0.8, "bleu": 0.5})
            other.experiments.complete_run(experiment.id, run.id)

    worker = threading.Thread(target=finish_elsewhere)
    worker.start()
    started = time.monotonic()
    run.wait_for_completion(timeout=30, poll_interval=0.1)
    worker.join()
    assert time.monotonic() - started >= 0.5
    assert run.status == "completed" and run.completed_at is not None

    metrics = experiment.get_metrics()
    assert isinstance(metrics, ExperimentMetrics)
    assert metrics.accuracy == pytest.approx(0.8)
    assert metrics["bleu"].mean == pytest.approx(0.5)
    assert metrics["accuracy"].count == 1 and metrics["accuracy"].std is None
    assert f"Accuracy: {metrics.accuracy}" == "Accuracy: 0.8"
    with pytest.raises(AttributeError, match="no metric 'nope'"):
        _ = metrics.nope


def test_metrics_std_over_several_runs(lab: Client, config: dict[str, object]) -> None:
    experiment = lab.experiments.create(name=_name(), config=config)
    for value in (0.6, 0.8, 1.0):
        run = experiment.create_run()
        run.log_metrics({"accuracy": value})
        run.complete()
    metrics = experiment.get_metrics()
    assert metrics.accuracy == pytest.approx(0.8)
    assert metrics["accuracy"].std == pytest.approx(0.2)
    assert metrics["accuracy"].min == pytest.approx(0.6) and metrics["accuracy"].max == pytest.approx(1.0)
    assert len(metrics.runs) == 3
    assert "accuracy" in metrics and metrics.means() == {"accuracy": pytest.approx(0.8)}


def test_wait_raises_run_failed_with_the_runs_error(lab: Client, config: dict[str, object]) -> None:
    experiment = lab.experiments.create(name=_name(), config=config)
    run = experiment.create_run()
    run.fail("Out of memory error during model inference")
    assert run.status == "failed"
    with pytest.raises(RunFailedError, match="Out of memory") as info:
        run.wait_for_completion(timeout=5)
    assert info.value.extra["status"] == "failed"


def test_wait_times_out(lab: Client, config: dict[str, object]) -> None:
    experiment = lab.experiments.create(name=_name(), config=config)
    run = experiment.create_run()
    started = time.monotonic()
    with pytest.raises(TimeoutError_, match="still pending"):
        run.wait_for_completion(timeout=0.5, poll_interval=0.1)
    assert 0.4 <= time.monotonic() - started < 5
    assert run.refresh().status == "pending"


def test_crud_filters_and_runs(lab: Client, config: dict[str, object]) -> None:
    tag = uuid.uuid4().hex[:8]
    a = lab.experiments.create(name=_name(), tags=[tag, "x"], hypothesis="h", config=config)
    b = lab.experiments.create(name=_name(), tags=[tag], config=config)
    assert {e.id for e in lab.experiments.list(tags=[tag])} == {a.id, b.id}
    assert [e.id for e in lab.experiments.list(tags=[tag, "x"])] == [a.id]
    b.start()
    assert [e.id for e in lab.experiments.list(tags=[tag], status="running")] == [b.id]

    updated = a.update(description="Updated description", tags=[tag, "x", "production"])
    assert updated is a and a.description == "Updated description" and "production" in a.tags
    assert lab.experiments.get(a.id).tags == [tag, "x", "production"]

    r1 = b.create_run()
    r2 = b.create_run(metadata={"k": 1})
    r2.complete()
    assert {r.id for r in b.runs()} == {r1.id, r2.id}
    assert [r.id for r in b.runs(status="completed")] == [r2.id]
    assert b.get_run(r1.id).status == "pending"
    assert [e.run_id for e in r2.evaluations()] == []
    evaluation = r2.log_metrics({"accuracy": 0.5}, {"hardware": "cpu"})
    assert lab.evaluations.get(evaluation.id).metadata == {"hardware": "cpu"}
    assert [e.id for e in b.evaluations()] == [evaluation.id]

    a.delete()
    with pytest.raises(NotFoundError) as info:
        lab.experiments.get(a.id)
    assert info.value.request_id and info.value.http_status == 404


def test_error_mapping(lab: Client, config: dict[str, object]) -> None:
    name = _name()
    first = lab.experiments.create(name=name, config=config)
    with pytest.raises(ConflictError) as conflict:
        lab.experiments.create(name=name)
    assert conflict.value.extra["existing_id"] == str(first.id)

    with pytest.raises(ValidationError) as invalid:
        lab.experiments.create(name=_name(), config={"parameters": {"temperature": 5}})
    assert invalid.value.fields == {"config.parameters.temperature": "Temperature must be between 0 and 2"}
    assert invalid.value.http_status == 400 and invalid.value.request_id

    bare = lab.experiments.create(name=_name())
    with pytest.raises(UnprocessableEntityError, match="no datasets configured"):
        bare.start()

    run = first.create_run()
    run.complete()
    with pytest.raises(ConflictError) as illegal:
        run.fail("too late")
    assert illegal.value.extra["current_status"] == "completed"
    assert illegal.value.extra["allowed_transitions"] == []
    assert not isinstance(illegal.value, InvalidTransitionError)  # rebuilt from the code, not the class

    with pytest.raises(NotFoundError, match="not found"):
        lab.experiments.get_run(first.id, uuid.uuid4())


def test_cursor_iteration_crosses_pages(lab: Client, config: dict[str, object]) -> None:
    tag = uuid.uuid4().hex[:8]
    made = {lab.experiments.create(name=_name(), tags=[tag]).id for _ in range(7)}
    seen = [e.id for e in lab.experiments.list(tags=[tag], page_size=3)]
    assert len(seen) == 7 and set(seen) == made  # three pages, nothing skipped or repeated


async def test_async_client_flow(alab: AsyncClient, config: dict[str, object]) -> None:
    tag = uuid.uuid4().hex[:8]
    experiment = await alab.experiments.create(name=_name("async"), tags=[tag], config=config)
    await experiment.start()
    assert experiment.status == "running"
    run = await experiment.create_run(config_overrides={"parameters": {"temperature": 0.1}})
    assert run.config["parameters"]["temperature"] == 0.1
    await run.log_metrics({"accuracy": 0.25})
    await run.complete()
    done = await run.wait_for_completion(timeout=5)
    assert done.status == "completed"
    metrics = await experiment.get_metrics()
    assert metrics.accuracy == pytest.approx(0.25)
    for _ in range(4):
        await alab.experiments.create(name=_name("async"), tags=[tag])
    ids = [e.id async for e in alab.experiments.list(tags=[tag], page_size=2)]
    assert len(ids) == 5 and experiment.id in ids
    runs = [r async for r in experiment.runs()]
    assert [r.id for r in runs] == [run.id]
    with pytest.raises(NotFoundError):
        await alab.experiments.get(uuid.uuid4())
    failed = await experiment.create_run()
    await failed.fail("boom")
    with pytest.raises(RunFailedError, match="boom"):
        await failed.wait_for_completion(timeout=5)
