"""The asyncio client: thin typed facades over the shared operations in :mod:`._ops`.

GENERATED from :mod:`._sync` by :mod:`._unasync`; edit ``_sync.py`` and regenerate.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar, cast
from uuid import UUID

import httpx
from pydantic import BaseModel, PrivateAttr

from llm_research_lab.client import _ops as ops
from llm_research_lab.client._core import ClientConfig, Core, Op
from llm_research_lab.client._drivers import run_async
from llm_research_lab.client._settings import build_config, guess_content_type
from llm_research_lab.client.types import ExperimentMetrics
from llm_research_lab.errors import NotFoundError
from llm_research_lab.schemas import auth as sa
from llm_research_lab.schemas import datasets as sd
from llm_research_lab.schemas import evaluations as se
from llm_research_lab.schemas import experiments as s
from llm_research_lab.schemas import hub as h
from llm_research_lab.schemas import models as sm
from llm_research_lab.schemas import prompts as sp

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
ID = UUID | str


class _Bound:
    """Mixin for response objects that carry their client for bound methods."""

    _client: Any = PrivateAttr(default=None)

    @property
    def client(self) -> AsyncClient:
        return cast(AsyncClient, self._client)


class AsyncRun(_Bound, s.Run):
    """A run of an experiment, with ``refresh``, ``complete``, ``fail`` and ``wait_for_completion``."""

    def _replace(self, other: s.Run) -> AsyncRun:
        self.__dict__.update(other.__dict__)
        return self

    async def refresh(self) -> AsyncRun:
        return self._replace(await self.client.experiments.get_run(self.experiment_id, self.id))

    async def complete(self) -> AsyncRun:
        return self._replace(await self.client.experiments.complete_run(self.experiment_id, self.id))

    async def fail(self, error: str) -> AsyncRun:
        return self._replace(await self.client.experiments.fail_run(self.experiment_id, self.id, error))

    async def wait_for_completion(
        self, timeout: float | None = 3600, *, poll_interval: float = 0.5, max_poll_interval: float = 10.0
    ) -> AsyncRun:
        """Poll until the run ends; raise RunFailedError if it did not complete, TimeoutError_ on timeout."""
        done = await self.client._run(
            ops.wait_run(
                self.client._core,
                AsyncRun,
                self.experiment_id,
                self.id,
                timeout=timeout,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
            )
        )
        return self._replace(done)

    async def log_metrics(
        self, metrics: Mapping[str, Any], metadata: Mapping[str, Any] | None = None
    ) -> se.Evaluation:
        """Report metrics for this run (``POST /evaluations``)."""
        return await self.client.evaluations.create(self.experiment_id, self.id, metrics, metadata)

    def evaluations(self) -> AsyncIterator[se.Evaluation]:
        return self.client.evaluations.list(experiment_id=self.experiment_id, run_id=self.id)


class AsyncExperiment(_Bound, s.Experiment):
    """An experiment with bound methods (``start``, ``create_run``, ``get_metrics``, ...)."""

    def _replace(self, other: s.Experiment) -> AsyncExperiment:
        self.__dict__.update(other.__dict__)
        return self

    async def refresh(self) -> AsyncExperiment:
        return self._replace(await self.client.experiments.get(self.id))

    async def update(self, **fields: Any) -> AsyncExperiment:
        return self._replace(await self.client.experiments.update(self.id, **fields))

    async def start(self) -> AsyncExperiment:
        started = await self.client.experiments.start(self.id)
        self.status, self.started_at = started.status, started.started_at
        return self

    async def delete(self) -> None:
        await self.client.experiments.delete(self.id)

    async def create_run(
        self, config_overrides: Mapping[str, Any] | None = None, metadata: Mapping[str, Any] | None = None
    ) -> AsyncRun:
        return await self.client.experiments.create_run(self.id, config_overrides, metadata)

    async def get_run(self, run_id: ID) -> AsyncRun:
        return await self.client.experiments.get_run(self.id, run_id)

    def runs(self, status: str | None = None) -> AsyncIterator[AsyncRun]:
        return self.client.experiments.list_runs(self.id, status=status)

    async def get_metrics(self) -> ExperimentMetrics:
        return await self.client.experiments.get_metrics(self.id)

    def evaluations(self) -> AsyncIterator[se.Evaluation]:
        return self.client.evaluations.list(experiment_id=self.id)


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._core = client._core

    async def _run(self, op: Op[T]) -> T:
        return await self._client._run(op)

    def _bind(self, obj: M) -> M:
        if isinstance(obj, _Bound):
            obj._client = self._client
        return obj

    async def _iterate(
        self, path: str, params: Mapping[str, Any], parse: Callable[[Any], T], page_size: int
    ) -> AsyncIterator[T]:
        """Follow ``page_info.end_cursor`` with ``after=`` (or the offset) until the last page."""
        after: str | None = None
        offset = 0
        while True:
            data = await self._run(
                ops.page(self._core, path, params, after, page_size, None if after else offset)
            )
            for item in data.items:
                yield parse(item)
            if not data.has_next or not data.items:
                return
            if data.end_cursor:
                after = data.end_cursor
            else:
                offset += len(data.items)

    async def _get(self, cls: type[M], path: str, params: Mapping[str, Any] | None = None) -> M:
        return self._bind(await self._run(ops.get(self._core, cls, path, params)))

    async def _send(self, cls: type[M], method: str, path: str, payload: Any = None) -> M:
        return self._bind(await self._run(ops.send(self._core, cls, method, path, ops.jsonable(payload))))


class Experiments(_Resource):
    """``/experiments`` and its runs."""

    async def create(
        self,
        name: str,
        *,
        description: str | None = None,
        hypothesis: str | None = None,
        config: Mapping[str, Any] | s.ExperimentConfig | None = None,
        tags: list[str] | None = None,
        owner_id: ID | None = None,
        collaborators: list[ID] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AsyncExperiment:
        body = ops.drop_none(
            name=name,
            description=description,
            hypothesis=hypothesis,
            config=config,
            tags=tags,
            owner_id=owner_id,
            collaborators=collaborators,
            metadata=metadata,
        )
        return await self._send(AsyncExperiment, "POST", "/experiments", body)

    async def get(self, experiment_id: ID) -> AsyncExperiment:
        return await self._get(AsyncExperiment, ops.experiment_path(experiment_id))

    def list(
        self,
        *,
        status: str | None = None,
        owner_id: ID | None = None,
        tags: list[str] | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[AsyncExperiment]:
        params = ops.drop_none(status=status, owner_id=owner_id, tags=tags)
        return self._iterate(
            "/experiments", params, lambda b: self._bind(AsyncExperiment.model_validate(b)), page_size
        )

    async def update(self, experiment_id: ID, **fields: Any) -> AsyncExperiment:
        """Partial update (``PUT``): only the fields given change."""
        return await self._send(AsyncExperiment, "PUT", ops.experiment_path(experiment_id), fields)

    async def delete(self, experiment_id: ID) -> None:
        await self._run(ops.delete(self._core, ops.experiment_path(experiment_id)))

    async def start(self, experiment_id: ID) -> s.ExperimentStarted:
        return await self._send(s.ExperimentStarted, "POST", f"{ops.experiment_path(experiment_id)}/start")

    async def get_metrics(self, experiment_id: ID) -> ExperimentMetrics:
        return await self._get(ExperimentMetrics, f"{ops.experiment_path(experiment_id)}/metrics")

    async def create_run(
        self,
        experiment_id: ID,
        config_overrides: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AsyncRun:
        body = {"config_overrides": dict(config_overrides or {}), "metadata": dict(metadata or {})}
        return await self._send(AsyncRun, "POST", f"{ops.experiment_path(experiment_id)}/runs", body)

    async def get_run(self, experiment_id: ID, run_id: ID) -> AsyncRun:
        return await self._get(AsyncRun, ops.run_path(experiment_id, run_id))

    def list_runs(
        self, experiment_id: ID, *, status: str | None = None, page_size: int = 50
    ) -> AsyncIterator[AsyncRun]:
        return self._iterate(
            f"{ops.experiment_path(experiment_id)}/runs",
            ops.drop_none(status=status),
            lambda b: self._bind(AsyncRun.model_validate(b)),
            page_size,
        )

    async def complete_run(self, experiment_id: ID, run_id: ID) -> AsyncRun:
        return await self._send(AsyncRun, "POST", f"{ops.run_path(experiment_id, run_id)}/complete")

    async def fail_run(self, experiment_id: ID, run_id: ID, error: str) -> AsyncRun:
        return await self._send(
            AsyncRun, "POST", f"{ops.run_path(experiment_id, run_id)}/fail", {"error": error}
        )

    def run_samples(
        self, experiment_id: ID, run_id: ID, *, page_size: int = 100
    ) -> AsyncIterator[h.LedgerEntry]:
        """The run's sample ledger (managed runs): one entry per scored document."""
        return self._iterate(
            f"{ops.run_path(experiment_id, run_id)}/samples", {}, h.LedgerEntry.model_validate, page_size
        )


class Evaluations(_Resource):
    """``/evaluations``: metrics reported for a run."""

    async def create(
        self,
        experiment_id: ID,
        run_id: ID,
        metrics: Mapping[str, Any],
        metadata: Mapping[str, Any] | None = None,
    ) -> se.Evaluation:
        body = {
            "experiment_id": experiment_id,
            "run_id": run_id,
            "metrics": dict(metrics),
            "metadata": dict(metadata or {}),
        }
        return await self._send(se.Evaluation, "POST", "/evaluations", body)

    async def get(self, evaluation_id: ID) -> se.Evaluation:
        return await self._get(se.Evaluation, f"/evaluations/{evaluation_id}")

    def list(
        self, *, experiment_id: ID | None = None, run_id: ID | None = None, page_size: int = 50
    ) -> AsyncIterator[se.Evaluation]:
        params = ops.drop_none(experiment_id=experiment_id, run_id=run_id)
        return self._iterate("/evaluations", params, se.Evaluation.model_validate, page_size)


class Models(_Resource):
    """``/models``: registered models (Research Lab view)."""

    async def create(
        self,
        name: str,
        provider: str,
        model_identifier: str,
        *,
        version: str | None = None,
        description: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = None,
        config: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> sm.Model:
        body = ops.drop_none(
            name=name,
            provider=provider,
            model_identifier=model_identifier,
            version=version,
            description=description,
            base_url=base_url,
            api_key_env=api_key_env,
            config=config,
            tags=tags,
        )
        return await self._send(sm.Model, "POST", "/models", body)

    async def get(self, model_id: ID) -> sm.Model:
        return await self._get(sm.Model, f"/models/{model_id}")

    def list(self, *, provider: str | None = None, page_size: int = 50) -> AsyncIterator[sm.Model]:
        return self._iterate("/models", ops.drop_none(provider=provider), sm.Model.model_validate, page_size)

    async def update(self, model_id: ID, **fields: Any) -> sm.Model:
        return await self._send(sm.Model, "PUT", f"/models/{model_id}", fields)

    async def delete(self, model_id: ID) -> None:
        await self._run(ops.delete(self._core, f"/models/{model_id}"))

    async def providers(self) -> builtins.list[sm.Provider]:
        body = await self._run(self._core.json("GET", "/models/providers"))
        return [sm.Provider.model_validate(p) for p in body]


class Prompts(_Resource):
    """``/prompts``: prompt templates."""

    async def create(
        self,
        name: str,
        template: str,
        *,
        description: str | None = None,
        variables: list[str] | None = None,
        default_values: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> sp.PromptTemplate:
        body = ops.drop_none(
            name=name,
            template=template,
            description=description,
            variables=variables,
            default_values=default_values,
            tags=tags,
            metadata=metadata,
        )
        return await self._send(sp.PromptTemplate, "POST", "/prompts", body)

    async def get(self, template_id: ID) -> sp.PromptTemplate:
        return await self._get(sp.PromptTemplate, f"/prompts/{template_id}")

    def list(self, *, page_size: int = 50) -> AsyncIterator[sp.PromptTemplate]:
        return self._iterate("/prompts", {}, sp.PromptTemplate.model_validate, page_size)

    async def update(self, template_id: ID, **fields: Any) -> sp.PromptTemplate:
        return await self._send(sp.PromptTemplate, "PUT", f"/prompts/{template_id}", fields)

    async def delete(self, template_id: ID) -> None:
        await self._run(ops.delete(self._core, f"/prompts/{template_id}"))

    async def render(self, template_id: ID, variables: Mapping[str, Any] | None = None) -> str:
        body = {"variables": dict(variables or {})}
        return (await self._send(sp.RenderResponse, "POST", f"/prompts/{template_id}/render", body)).rendered


class DatasetVersions(_Resource):
    """``/datasets/{id}/versions``: immutable snapshots of a dataset's content."""

    async def create(
        self, dataset_id: ID, version: str, *, description: str | None = None, changelog: str | None = None
    ) -> sd.DatasetVersion:
        body = ops.drop_none(version=version, description=description, changelog=changelog)
        return await self._send(sd.DatasetVersion, "POST", f"/datasets/{dataset_id}/versions", body)

    def list(self, dataset_id: ID, *, page_size: int = 50) -> AsyncIterator[sd.DatasetVersion]:
        return self._iterate(
            f"/datasets/{dataset_id}/versions", {}, sd.DatasetVersion.model_validate, page_size
        )


class Datasets(_Resource):
    """``/datasets``: create, upload through a signed URL (streamed), download, versions, rows."""

    def __init__(self, client: AsyncClient) -> None:
        super().__init__(client)
        self.versions = DatasetVersions(client)

    async def create(
        self,
        name: str,
        *,
        description: str | None = None,
        format: str = "jsonl",
        schema: Mapping[str, Any] | None = None,
        tags: builtins.list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> sd.Dataset:
        body = ops.drop_none(
            name=name, description=description, format=format, schema=schema, tags=tags, metadata=metadata
        )
        return await self._send(sd.Dataset, "POST", "/datasets", body)

    async def get(self, dataset_id: ID) -> sd.Dataset:
        return await self._get(sd.Dataset, f"/datasets/{dataset_id}")

    def list(self, *, page_size: int = 50, **filters: Any) -> AsyncIterator[sd.Dataset]:
        return self._iterate("/datasets", ops.drop_none(**filters), sd.Dataset.model_validate, page_size)

    async def update(self, dataset_id: ID, **fields: Any) -> sd.Dataset:
        return await self._send(sd.Dataset, "PUT", f"/datasets/{dataset_id}", fields)

    async def delete(self, dataset_id: ID) -> None:
        await self._run(ops.delete(self._core, f"/datasets/{dataset_id}"))

    async def upload(
        self,
        dataset_id: ID,
        source: str | Path | IO[bytes],
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> sd.Dataset:
        """Upload a file (path or binary file object) in chunks; it is never read into memory.

        Returns the dataset once the server has validated the file and made it current.
        """
        src, name, size = ops.source_of(source, filename)
        op = ops.upload_dataset(
            self._core,
            dataset_id,
            src,
            filename=name,
            content_type=content_type or guess_content_type(name),
            size=size,
        )
        return await self._run(op)

    async def download(
        self, dataset_id: ID, target: str | Path | IO[bytes], *, version: str | None = None
    ) -> sd.DownloadURL:
        """Stream the dataset file into ``target`` (a path or a binary file object)."""
        sink = Path(target) if isinstance(target, str | Path) else target
        return await self._run(
            ops.download_dataset(self._core, dataset_id, sink, ops.drop_none(version=version))
        )

    async def rows(
        self, dataset_id: ID, *, version: str | None = None, offset: int = 0, limit: int = 20
    ) -> sd.Rows:
        """One page of parsed rows (a preview)."""
        params = ops.drop_none(version=version, offset=offset, limit=limit)
        return await self._get(sd.Rows, f"/datasets/{dataset_id}/rows", params)

    async def iter_rows(
        self, dataset_id: ID, *, version: str | None = None, page_size: int = 500
    ) -> AsyncIterator[Any]:
        """Every row, page by page."""
        offset = 0
        while True:
            page = await self.rows(dataset_id, version=version, offset=offset, limit=page_size)
            for row in page.data:
                yield row
            if not page.has_more or not page.data:
                return
            offset += len(page.data)


class ApiKeys(_Resource):
    """``/auth/api-keys``: the plaintext key is only in ``create``'s answer."""

    async def create(
        self,
        name: str | None = None,
        *,
        scopes: builtins.list[str] | None = None,
        expires_in: str | None = None,
    ) -> sa.ApiKeyCreated:
        body = ops.drop_none(name=name, scopes=scopes, expires_in=expires_in)
        return await self._send(sa.ApiKeyCreated, "POST", "/auth/api-keys", body)

    async def list(self) -> builtins.list[sa.ApiKey]:
        body = await self._run(self._core.json("GET", "/auth/api-keys"))
        return [sa.ApiKey.model_validate(k) for k in ops.hub_items(body, "api_keys")]

    async def revoke(self, key_id: ID) -> None:
        await self._run(ops.delete(self._core, f"/auth/api-keys/{key_id}"))


class Auth(_Resource):
    """``/auth``: log in, refresh, who am I. The client logs in and refreshes by itself."""

    async def login(self, username: str, password: str) -> sa.TokenPair:
        self._core.config.username, self._core.config.password = username, password
        self._core.config.api_key = None
        return sa.TokenPair.model_validate(await self._run(self._core.login()))

    async def refresh(self) -> bool:
        return await self._run(self._core.refresh())

    async def me(self) -> sa.Me:
        return await self._get(sa.Me, "/auth/me")

    async def logout(self) -> None:
        body = ops.drop_none(refresh_token=self._core.refresh_token)
        await self._run(self._core.json("POST", "/auth/logout", json=body))
        self._core.access_token = self._core.refresh_token = None


class HubProviders(_Resource):
    async def list(self) -> builtins.list[h.HubProvider]:
        return (await self._get(h.ProviderList, "/api/v1/providers")).providers

    async def get(self, provider_id: str) -> h.HubProvider:
        return await self._get(h.HubProvider, f"/api/v1/providers/{provider_id}")

    async def benchmarks(self, provider_id: str) -> builtins.list[h.HubBenchmark]:
        body = await self._run(self._core.json("GET", f"/api/v1/providers/{provider_id}/benchmarks"))
        return [h.HubBenchmark.model_validate(b) for b in ops.hub_items(body, "benchmarks")]


class HubBenchmarks(_Resource):
    async def list(
        self, *, category: str | None = None, provider_id: str | None = None
    ) -> builtins.list[h.HubBenchmark]:
        params = ops.drop_none(category=category, provider_id=provider_id)
        return (await self._get(h.BenchmarkList, "/api/v1/benchmarks", params)).benchmarks


class HubCollections(_Resource):
    async def list(self) -> builtins.list[h.HubCollection]:
        return (await self._get(h.CollectionList, "/api/v1/collections")).collections

    async def get(self, collection_id: str) -> h.HubCollection:
        """One collection (looked up in the list: the API has no per-collection route)."""
        for collection in await self.list():
            if collection.collection_id == collection_id:
                return collection
        raise NotFoundError(f"Collection {collection_id} not found")


class HubModels(_Resource):
    async def list(self, *, include_inactive: bool = True) -> h.HubModelList:
        return await self._get(h.HubModelList, "/api/v1/models", {"include_inactive": include_inactive})

    async def get(self, model_id: str) -> h.HubModel:
        return await self._get(h.HubModel, f"/api/v1/models/{model_id}")

    async def create(
        self, model: h.HubModelCreate | Mapping[str, Any] | None = None, **fields: Any
    ) -> h.HubModel:
        payload = h.HubModelCreate.model_validate({**ops.jsonable(model or {}), **fields})
        return await self._send(h.HubModel, "POST", "/api/v1/models", payload)

    async def update(self, model_id: str, **fields: Any) -> h.HubModel:
        return await self._send(h.HubModel, "PUT", f"/api/v1/models/{model_id}", fields)

    async def delete(self, model_id: str) -> str:
        return (await self._send(h.HubMessage, "DELETE", f"/api/v1/models/{model_id}")).message

    async def reload(self) -> h.ReloadResult:
        return await self._send(h.ReloadResult, "POST", "/api/v1/models/reload")

    async def probe(self, model_id: str) -> h.HubModel:
        """Probe the endpoint (completions+logprobs, chat, tokenize); the result is in ``.probe``."""
        return await self._send(h.HubModel, "POST", f"/api/v1/models/{model_id}/probe")


class HubEvaluations(_Resource):
    async def create(
        self, request: h.EvaluationRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> h.EvaluationCreated:
        """``POST /api/v1/evaluations`` (validated locally with the shared schema first)."""
        payload = h.EvaluationRequest.model_validate({**ops.jsonable(request or {}), **fields})
        return await self._send(h.EvaluationCreated, "POST", "/api/v1/evaluations", payload)

    async def create_single(
        self,
        provider_id: str,
        benchmark_id: str,
        request: h.SingleBenchmarkRequest | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> h.EvaluationCreated:
        """``POST /api/v1/evaluations/benchmarks/{provider}/{benchmark}`` (the simplified API)."""
        payload = h.SingleBenchmarkRequest.model_validate({**ops.jsonable(request or {}), **fields})
        path = f"/api/v1/evaluations/benchmarks/{provider_id}/{benchmark_id}"
        return await self._send(h.EvaluationCreated, "POST", path, payload)

    async def get(self, request_id: ID) -> h.EvaluationStatus:
        return await self._get(h.EvaluationStatus, f"/api/v1/evaluations/{request_id}")

    async def list(self, *, status: str | None = None) -> builtins.list[h.EvaluationStatus]:
        body = await self._run(
            self._core.json("GET", "/api/v1/evaluations", params=ops.drop_none(status=status))
        )
        return [h.EvaluationStatus.model_validate(e) for e in ops.hub_items(body, "evaluations")]

    async def cancel(self, request_id: ID) -> str:
        return (await self._send(h.HubMessage, "DELETE", f"/api/v1/evaluations/{request_id}")).message

    async def wait(
        self,
        request_id: ID,
        *,
        timeout: float | None = 3600,
        poll_interval: float = 0.5,
        max_poll_interval: float = 5.0,
        raise_on_failure: bool = True,
        on_status: Callable[[h.EvaluationStatus], None] | None = None,
    ) -> h.EvaluationStatus:
        """Poll until the job ends; RunFailedError if it failed or was cancelled, TimeoutError_ on timeout."""
        return await self._run(
            ops.wait_hub(
                self._core,
                request_id,
                timeout=timeout,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                raise_on_failure=raise_on_failure,
                on_status=on_status,
            )
        )

    def samples(
        self, request_id: ID, *, page_size: int = 100, **filters: Any
    ) -> AsyncIterator[h.LedgerEntry]:
        """Scored samples of the job (the sample ledger), across pages."""
        return self._iterate(
            f"/api/v1/evaluations/{request_id}/samples",
            ops.drop_none(**filters),
            h.LedgerEntry.model_validate,
            page_size,
        )


class Hub(_Resource):
    """The Eval Hub surface (``/api/v1``)."""

    def __init__(self, client: AsyncClient) -> None:
        super().__init__(client)
        self.providers = HubProviders(client)
        self.benchmarks = HubBenchmarks(client)
        self.collections = HubCollections(client)
        self.models = HubModels(client)
        self.evaluations = HubEvaluations(client)

    async def health(self) -> h.HubHealth:
        return await self._get(h.HubHealth, "/api/v1/health")

    async def system_metrics(self) -> h.SystemMetrics:
        return await self._get(h.SystemMetrics, "/api/v1/metrics/system")


class AsyncClient:
    """Asyncio client for the LLM Research Lab API (both surfaces).

    >>> client = AsyncClient(api_key="llm-research_...", base_url="http://127.0.0.1:8000")
    >>> experiment = client.experiments.create(name="My Experiment", config={...})

    Credentials: ``api_key`` (sent as ``X-API-Key``), or ``username``/``password`` (the client logs
    in with ``POST /auth/token`` and refreshes the access token by itself when it expires).
    ``LAB_API_KEY`` and ``LAB_BASE_URL`` are the defaults, read here and nowhere else.
    Requests answered 429 or 503 are retried up to ``max_retries`` times, waiting as
    ``Retry-After`` says (never longer than ``max_backoff`` seconds per wait).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_backoff: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        config: ClientConfig | None = None,
    ) -> None:
        self._config = config or build_config(
            api_key=api_key,
            base_url=base_url,
            username=username,
            password=password,
            timeout=timeout,
            max_retries=max_retries,
            max_backoff=max_backoff,
        )
        self._core = Core(self._config)
        self._http = httpx.AsyncClient(
            base_url=self._config.base_url,
            timeout=httpx.Timeout(self._config.timeout, connect=min(10.0, self._config.timeout)),
            transport=transport,
        )
        self.experiments = Experiments(self)
        self.evaluations = Evaluations(self)
        self.models = Models(self)
        self.prompts = Prompts(self)
        self.datasets = Datasets(self)
        self.auth = Auth(self)
        self.api_keys = ApiKeys(self)
        self.hub = Hub(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    async def _run(self, op: Op[T]) -> T:
        return await run_async(op, self._http)

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any endpoint, with the client's auth, retries and error mapping; returns decoded JSON."""
        return await self._run(self._core.json(method, path, **kwargs))

    async def health(self) -> str:
        return str(await self._run(self._core.json("GET", "/health", auth=False)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
