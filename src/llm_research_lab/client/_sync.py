"""The blocking client: thin typed facades over the shared operations in :mod:`._ops`.

Keep this file and :mod:`._async` in step: they differ only in ``await``/``async``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar, cast
from uuid import UUID

import httpx
from pydantic import BaseModel, PrivateAttr

from llm_research_lab.client import _ops as ops
from llm_research_lab.client._core import ClientConfig, Core, Op
from llm_research_lab.client._drivers import run_sync
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
    def client(self) -> Client:
        return cast(Client, self._client)


class Run(_Bound, s.Run):
    """A run of an experiment, with ``refresh``, ``complete``, ``fail`` and ``wait_for_completion``."""

    def _replace(self, other: s.Run) -> Run:
        self.__dict__.update(other.__dict__)
        return self

    def refresh(self) -> Run:
        return self._replace(self.client.experiments.get_run(self.experiment_id, self.id))

    def complete(self) -> Run:
        return self._replace(self.client.experiments.complete_run(self.experiment_id, self.id))

    def fail(self, error: str) -> Run:
        return self._replace(self.client.experiments.fail_run(self.experiment_id, self.id, error))

    def wait_for_completion(
        self, timeout: float | None = 3600, *, poll_interval: float = 0.5, max_poll_interval: float = 10.0
    ) -> Run:
        """Poll until the run ends; raise RunFailedError if it did not complete, TimeoutError_ on timeout."""
        done = self.client._run(
            ops.wait_run(
                self.client._core,
                Run,
                self.experiment_id,
                self.id,
                timeout=timeout,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
            )
        )
        return self._replace(done)

    def log_metrics(
        self, metrics: Mapping[str, Any], metadata: Mapping[str, Any] | None = None
    ) -> se.Evaluation:
        """Report metrics for this run (``POST /evaluations``)."""
        return self.client.evaluations.create(self.experiment_id, self.id, metrics, metadata)

    def evaluations(self) -> Iterator[se.Evaluation]:
        return self.client.evaluations.list(experiment_id=self.experiment_id, run_id=self.id)


class Experiment(_Bound, s.Experiment):
    """An experiment with bound methods (``start``, ``create_run``, ``get_metrics``, ...)."""

    def _replace(self, other: s.Experiment) -> Experiment:
        self.__dict__.update(other.__dict__)
        return self

    def refresh(self) -> Experiment:
        return self._replace(self.client.experiments.get(self.id))

    def update(self, **fields: Any) -> Experiment:
        return self._replace(self.client.experiments.update(self.id, **fields))

    def start(self) -> Experiment:
        started = self.client.experiments.start(self.id)
        self.status, self.started_at = started.status, started.started_at
        return self

    def delete(self) -> None:
        self.client.experiments.delete(self.id)

    def create_run(
        self, config_overrides: Mapping[str, Any] | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Run:
        return self.client.experiments.create_run(self.id, config_overrides, metadata)

    def get_run(self, run_id: ID) -> Run:
        return self.client.experiments.get_run(self.id, run_id)

    def runs(self, status: str | None = None) -> Iterator[Run]:
        return self.client.experiments.list_runs(self.id, status=status)

    def get_metrics(self) -> ExperimentMetrics:
        return self.client.experiments.get_metrics(self.id)

    def evaluations(self) -> Iterator[se.Evaluation]:
        return self.client.evaluations.list(experiment_id=self.id)


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._core = client._core

    def _run(self, op: Op[T]) -> T:
        return self._client._run(op)

    def _bind(self, obj: M) -> M:
        if isinstance(obj, _Bound):
            obj._client = self._client
        return obj

    def _iterate(
        self, path: str, params: Mapping[str, Any], parse: Callable[[Any], T], page_size: int
    ) -> Iterator[T]:
        """Follow ``page_info.end_cursor`` with ``after=`` (or the offset) until the last page."""
        after: str | None = None
        offset = 0
        while True:
            data = self._run(ops.page(self._core, path, params, after, page_size, None if after else offset))
            for item in data.items:
                yield parse(item)
            if not data.has_next or not data.items:
                return
            if data.end_cursor:
                after = data.end_cursor
            else:
                offset += len(data.items)

    def _get(self, cls: type[M], path: str, params: Mapping[str, Any] | None = None) -> M:
        return self._bind(self._run(ops.get(self._core, cls, path, params)))

    def _send(self, cls: type[M], method: str, path: str, payload: Any = None) -> M:
        return self._bind(self._run(ops.send(self._core, cls, method, path, ops.jsonable(payload))))


class Experiments(_Resource):
    """``/experiments`` and its runs."""

    def create(
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
    ) -> Experiment:
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
        return self._send(Experiment, "POST", "/experiments", body)

    def get(self, experiment_id: ID) -> Experiment:
        return self._get(Experiment, ops.experiment_path(experiment_id))

    def list(
        self,
        *,
        status: str | None = None,
        owner_id: ID | None = None,
        tags: list[str] | None = None,
        page_size: int = 50,
    ) -> Iterator[Experiment]:
        params = ops.drop_none(status=status, owner_id=owner_id, tags=tags)
        return self._iterate(
            "/experiments", params, lambda b: self._bind(Experiment.model_validate(b)), page_size
        )

    def update(self, experiment_id: ID, **fields: Any) -> Experiment:
        """Partial update (``PUT``): only the fields given change."""
        return self._send(Experiment, "PUT", ops.experiment_path(experiment_id), fields)

    def delete(self, experiment_id: ID) -> None:
        self._run(ops.delete(self._core, ops.experiment_path(experiment_id)))

    def start(self, experiment_id: ID) -> s.ExperimentStarted:
        return self._send(s.ExperimentStarted, "POST", f"{ops.experiment_path(experiment_id)}/start")

    def get_metrics(self, experiment_id: ID) -> ExperimentMetrics:
        return self._get(ExperimentMetrics, f"{ops.experiment_path(experiment_id)}/metrics")

    def create_run(
        self,
        experiment_id: ID,
        config_overrides: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Run:
        body = {"config_overrides": dict(config_overrides or {}), "metadata": dict(metadata or {})}
        return self._send(Run, "POST", f"{ops.experiment_path(experiment_id)}/runs", body)

    def get_run(self, experiment_id: ID, run_id: ID) -> Run:
        return self._get(Run, ops.run_path(experiment_id, run_id))

    def list_runs(
        self, experiment_id: ID, *, status: str | None = None, page_size: int = 50
    ) -> Iterator[Run]:
        return self._iterate(
            f"{ops.experiment_path(experiment_id)}/runs",
            ops.drop_none(status=status),
            lambda b: self._bind(Run.model_validate(b)),
            page_size,
        )

    def complete_run(self, experiment_id: ID, run_id: ID) -> Run:
        return self._send(Run, "POST", f"{ops.run_path(experiment_id, run_id)}/complete")

    def fail_run(self, experiment_id: ID, run_id: ID, error: str) -> Run:
        return self._send(Run, "POST", f"{ops.run_path(experiment_id, run_id)}/fail", {"error": error})

    def run_samples(self, experiment_id: ID, run_id: ID, *, page_size: int = 100) -> Iterator[h.LedgerEntry]:
        """The run's sample ledger (managed runs): one entry per scored document."""
        return self._iterate(
            f"{ops.run_path(experiment_id, run_id)}/samples", {}, h.LedgerEntry.model_validate, page_size
        )


class Evaluations(_Resource):
    """``/evaluations``: metrics reported for a run."""

    def create(
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
        return self._send(se.Evaluation, "POST", "/evaluations", body)

    def get(self, evaluation_id: ID) -> se.Evaluation:
        return self._get(se.Evaluation, f"/evaluations/{evaluation_id}")

    def list(
        self, *, experiment_id: ID | None = None, run_id: ID | None = None, page_size: int = 50
    ) -> Iterator[se.Evaluation]:
        params = ops.drop_none(experiment_id=experiment_id, run_id=run_id)
        return self._iterate("/evaluations", params, se.Evaluation.model_validate, page_size)


class Models(_Resource):
    """``/models``: registered models (Research Lab view)."""

    def create(
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
        return self._send(sm.Model, "POST", "/models", body)

    def get(self, model_id: ID) -> sm.Model:
        return self._get(sm.Model, f"/models/{model_id}")

    def list(self, *, provider: str | None = None, page_size: int = 50) -> Iterator[sm.Model]:
        return self._iterate("/models", ops.drop_none(provider=provider), sm.Model.model_validate, page_size)

    def update(self, model_id: ID, **fields: Any) -> sm.Model:
        return self._send(sm.Model, "PUT", f"/models/{model_id}", fields)

    def delete(self, model_id: ID) -> None:
        self._run(ops.delete(self._core, f"/models/{model_id}"))

    def providers(self) -> builtins.list[sm.Provider]:
        body = self._run(self._core.json("GET", "/models/providers"))
        return [sm.Provider.model_validate(p) for p in body]


class Prompts(_Resource):
    """``/prompts``: prompt templates."""

    def create(
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
        return self._send(sp.PromptTemplate, "POST", "/prompts", body)

    def get(self, template_id: ID) -> sp.PromptTemplate:
        return self._get(sp.PromptTemplate, f"/prompts/{template_id}")

    def list(self, *, page_size: int = 50) -> Iterator[sp.PromptTemplate]:
        return self._iterate("/prompts", {}, sp.PromptTemplate.model_validate, page_size)

    def update(self, template_id: ID, **fields: Any) -> sp.PromptTemplate:
        return self._send(sp.PromptTemplate, "PUT", f"/prompts/{template_id}", fields)

    def delete(self, template_id: ID) -> None:
        self._run(ops.delete(self._core, f"/prompts/{template_id}"))

    def render(self, template_id: ID, variables: Mapping[str, Any] | None = None) -> str:
        body = {"variables": dict(variables or {})}
        return self._send(sp.RenderResponse, "POST", f"/prompts/{template_id}/render", body).rendered


class DatasetVersions(_Resource):
    """``/datasets/{id}/versions``: immutable snapshots of a dataset's content."""

    def create(
        self, dataset_id: ID, version: str, *, description: str | None = None, changelog: str | None = None
    ) -> sd.DatasetVersion:
        body = ops.drop_none(version=version, description=description, changelog=changelog)
        return self._send(sd.DatasetVersion, "POST", f"/datasets/{dataset_id}/versions", body)

    def list(self, dataset_id: ID, *, page_size: int = 50) -> Iterator[sd.DatasetVersion]:
        return self._iterate(
            f"/datasets/{dataset_id}/versions", {}, sd.DatasetVersion.model_validate, page_size
        )


class Datasets(_Resource):
    """``/datasets``: create, upload through a signed URL (streamed), download, versions, rows."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.versions = DatasetVersions(client)

    def create(
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
        return self._send(sd.Dataset, "POST", "/datasets", body)

    def get(self, dataset_id: ID) -> sd.Dataset:
        return self._get(sd.Dataset, f"/datasets/{dataset_id}")

    def list(self, *, page_size: int = 50, **filters: Any) -> Iterator[sd.Dataset]:
        return self._iterate("/datasets", ops.drop_none(**filters), sd.Dataset.model_validate, page_size)

    def update(self, dataset_id: ID, **fields: Any) -> sd.Dataset:
        return self._send(sd.Dataset, "PUT", f"/datasets/{dataset_id}", fields)

    def delete(self, dataset_id: ID) -> None:
        self._run(ops.delete(self._core, f"/datasets/{dataset_id}"))

    def upload(
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
        return self._run(op)

    def download(
        self, dataset_id: ID, target: str | Path | IO[bytes], *, version: str | None = None
    ) -> sd.DownloadURL:
        """Stream the dataset file into ``target`` (a path or a binary file object)."""
        sink = Path(target) if isinstance(target, str | Path) else target
        return self._run(ops.download_dataset(self._core, dataset_id, sink, ops.drop_none(version=version)))

    def rows(
        self, dataset_id: ID, *, version: str | None = None, offset: int = 0, limit: int = 20
    ) -> sd.Rows:
        """One page of parsed rows (a preview)."""
        params = ops.drop_none(version=version, offset=offset, limit=limit)
        return self._get(sd.Rows, f"/datasets/{dataset_id}/rows", params)

    def iter_rows(self, dataset_id: ID, *, version: str | None = None, page_size: int = 500) -> Iterator[Any]:
        """Every row, page by page."""
        offset = 0
        while True:
            page = self.rows(dataset_id, version=version, offset=offset, limit=page_size)
            yield from page.data
            if not page.has_more or not page.data:
                return
            offset += len(page.data)


class ApiKeys(_Resource):
    """``/auth/api-keys``: the plaintext key is only in ``create``'s answer."""

    def create(
        self,
        name: str | None = None,
        *,
        scopes: builtins.list[str] | None = None,
        expires_in: str | None = None,
    ) -> sa.ApiKeyCreated:
        body = ops.drop_none(name=name, scopes=scopes, expires_in=expires_in)
        return self._send(sa.ApiKeyCreated, "POST", "/auth/api-keys", body)

    def list(self) -> builtins.list[sa.ApiKey]:
        body = self._run(self._core.json("GET", "/auth/api-keys"))
        return [sa.ApiKey.model_validate(k) for k in ops.hub_items(body, "api_keys")]

    def revoke(self, key_id: ID) -> None:
        self._run(ops.delete(self._core, f"/auth/api-keys/{key_id}"))


class Auth(_Resource):
    """``/auth``: log in, refresh, who am I. The client logs in and refreshes by itself."""

    def login(self, username: str, password: str) -> sa.TokenPair:
        self._core.config.username, self._core.config.password = username, password
        self._core.config.api_key = None
        return sa.TokenPair.model_validate(self._run(self._core.login()))

    def refresh(self) -> bool:
        return self._run(self._core.refresh())

    def me(self) -> sa.Me:
        return self._get(sa.Me, "/auth/me")

    def logout(self) -> None:
        body = ops.drop_none(refresh_token=self._core.refresh_token)
        self._run(self._core.json("POST", "/auth/logout", json=body))
        self._core.access_token = self._core.refresh_token = None


class HubProviders(_Resource):
    def list(self) -> builtins.list[h.HubProvider]:
        return self._get(h.ProviderList, "/api/v1/providers").providers

    def get(self, provider_id: str) -> h.HubProvider:
        return self._get(h.HubProvider, f"/api/v1/providers/{provider_id}")

    def benchmarks(self, provider_id: str) -> builtins.list[h.HubBenchmark]:
        body = self._run(self._core.json("GET", f"/api/v1/providers/{provider_id}/benchmarks"))
        return [h.HubBenchmark.model_validate(b) for b in ops.hub_items(body, "benchmarks")]


class HubBenchmarks(_Resource):
    def list(
        self, *, category: str | None = None, provider_id: str | None = None
    ) -> builtins.list[h.HubBenchmark]:
        params = ops.drop_none(category=category, provider_id=provider_id)
        return self._get(h.BenchmarkList, "/api/v1/benchmarks", params).benchmarks


class HubCollections(_Resource):
    def list(self) -> builtins.list[h.HubCollection]:
        return self._get(h.CollectionList, "/api/v1/collections").collections

    def get(self, collection_id: str) -> h.HubCollection:
        """One collection (looked up in the list: the API has no per-collection route)."""
        for collection in self.list():
            if collection.collection_id == collection_id:
                return collection
        raise NotFoundError(f"Collection {collection_id} not found")


class HubModels(_Resource):
    def list(self, *, include_inactive: bool = True) -> h.HubModelList:
        return self._get(h.HubModelList, "/api/v1/models", {"include_inactive": include_inactive})

    def get(self, model_id: str) -> h.HubModel:
        return self._get(h.HubModel, f"/api/v1/models/{model_id}")

    def create(self, model: h.HubModelCreate | Mapping[str, Any] | None = None, **fields: Any) -> h.HubModel:
        payload = h.HubModelCreate.model_validate({**ops.jsonable(model or {}), **fields})
        return self._send(h.HubModel, "POST", "/api/v1/models", payload)

    def update(self, model_id: str, **fields: Any) -> h.HubModel:
        return self._send(h.HubModel, "PUT", f"/api/v1/models/{model_id}", fields)

    def delete(self, model_id: str) -> str:
        return self._send(h.HubMessage, "DELETE", f"/api/v1/models/{model_id}").message

    def reload(self) -> h.ReloadResult:
        return self._send(h.ReloadResult, "POST", "/api/v1/models/reload")

    def probe(self, model_id: str) -> h.HubModel:
        """Probe the endpoint (completions+logprobs, chat, tokenize); the result is in ``.probe``."""
        return self._send(h.HubModel, "POST", f"/api/v1/models/{model_id}/probe")


class HubEvaluations(_Resource):
    def create(
        self, request: h.EvaluationRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> h.EvaluationCreated:
        """``POST /api/v1/evaluations`` (validated locally with the shared schema first)."""
        payload = h.EvaluationRequest.model_validate({**ops.jsonable(request or {}), **fields})
        return self._send(h.EvaluationCreated, "POST", "/api/v1/evaluations", payload)

    def create_single(
        self,
        provider_id: str,
        benchmark_id: str,
        request: h.SingleBenchmarkRequest | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> h.EvaluationCreated:
        """``POST /api/v1/evaluations/benchmarks/{provider}/{benchmark}`` (the simplified API)."""
        payload = h.SingleBenchmarkRequest.model_validate({**ops.jsonable(request or {}), **fields})
        path = f"/api/v1/evaluations/benchmarks/{provider_id}/{benchmark_id}"
        return self._send(h.EvaluationCreated, "POST", path, payload)

    def get(self, request_id: ID) -> h.EvaluationStatus:
        return self._get(h.EvaluationStatus, f"/api/v1/evaluations/{request_id}")

    def list(self, *, status: str | None = None) -> builtins.list[h.EvaluationStatus]:
        body = self._run(self._core.json("GET", "/api/v1/evaluations", params=ops.drop_none(status=status)))
        return [h.EvaluationStatus.model_validate(e) for e in ops.hub_items(body, "evaluations")]

    def cancel(self, request_id: ID) -> str:
        return self._send(h.HubMessage, "DELETE", f"/api/v1/evaluations/{request_id}").message

    def wait(
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
        return self._run(
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

    def samples(self, request_id: ID, *, page_size: int = 100, **filters: Any) -> Iterator[h.LedgerEntry]:
        """Scored samples of the job (the sample ledger), across pages."""
        return self._iterate(
            f"/api/v1/evaluations/{request_id}/samples",
            ops.drop_none(**filters),
            h.LedgerEntry.model_validate,
            page_size,
        )


class Hub(_Resource):
    """The Eval Hub surface (``/api/v1``)."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.providers = HubProviders(client)
        self.benchmarks = HubBenchmarks(client)
        self.collections = HubCollections(client)
        self.models = HubModels(client)
        self.evaluations = HubEvaluations(client)

    def health(self) -> h.HubHealth:
        return self._get(h.HubHealth, "/api/v1/health")

    def system_metrics(self) -> h.SystemMetrics:
        return self._get(h.SystemMetrics, "/api/v1/metrics/system")


class Client:
    """Blocking client for the LLM Research Lab API (both surfaces).

    >>> client = Client(api_key="llm-research_...", base_url="http://127.0.0.1:8000")
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
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(
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

    def _run(self, op: Op[T]) -> T:
        return run_sync(op, self._http)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any endpoint, with the client's auth, retries and error mapping; returns decoded JSON."""
        return self._run(self._core.json(method, path, **kwargs))

    def health(self) -> str:
        return str(self._run(self._core.json("GET", "/health", auth=False)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
