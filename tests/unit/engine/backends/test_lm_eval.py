"""The lm-evaluation-harness backend: task generation, result mapping, and real lm_eval subprocess runs
against the loopback fake server (progress, resume, cancel, timeout, crash, chat generation, API key)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import yaml

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.backends import (
    BackendError,
    BackendProcessError,
    BackendTask,
    BackendTimeoutError,
    BackendUnavailableError,
)
from llm_research_lab.engine.backends.lm_eval import (
    LmEvalBackend,
    map_metrics,
    metric_name,
    samples_to_scored,
)
from llm_research_lab.engine.backends.lm_eval_tasks import lm_eval_tasks_dir, prepare_tasks
from llm_research_lab.engine.models import GenerationParams, ModelCapabilities, ModelSpec
from llm_research_lab.engine.registry import BACKENDS
from llm_research_lab.engine.types import ScoredSample
from tests.fakes.openai_server import FakeServer, GenRule, Script
from tests.parity.fake_tokenizer import add_tokenizer_routes

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]


class MemorySink:
    def __init__(self, done: Mapping[int, ScoredSample] | None = None) -> None:
        self.done = dict(done or {})
        self.recorded: list[ScoredSample] = []

    async def completed(self, benchmark: str) -> Mapping[int, ScoredSample]:
        return self.done

    async def record(self, samples: Sequence[ScoredSample]) -> None:
        self.recorded.extend(samples)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script(model="fake-model")
    add_tokenizer_routes(script)
    srv = FakeServer(script)
    url = srv.start()
    try:
        yield url, script
    finally:
        srv.stop()


def completions_spec(url: str, **kw: object) -> ModelSpec:
    return ModelSpec("openai-compatible", "fake-model", base_url=url, generation_endpoint="completions", **kw)  # type: ignore[arg-type]


def backend(**config: object) -> LmEvalBackend:
    return LmEvalBackend({"parallelism": 4, **config}, resolver=load_catalog().resolver())


# --------------------------------------------------------------------------- pure functions


def test_metric_names_map_to_ours() -> None:
    assert metric_name("acc,none") == "acc"
    assert metric_name("acc_stderr,none") == "acc_stderr"
    assert metric_name("exact_match,strict-match") == "exact_match_strict"
    assert metric_name("exact_match_stderr,flexible-extract") == "exact_match_flexible_stderr"
    assert metric_name("alias") is None
    raw = {"alias": "arc_easy", "acc,none": 0.5, "acc_stderr,none": "N/A", "acc_norm,none": 0.25}
    assert map_metrics(raw) == {"acc": 0.5, "acc_norm": 0.25}


def test_samples_become_scored_samples() -> None:
    mc = {
        "doc_id": 3,
        "target": 1,
        "arguments": [["Q?\nAnswer:", " red"], ["Q?\nAnswer:", " blue"]],
        "filtered_resps": [[-2.0, False], [-1.0, True]],
        "filter": "none",
        "metrics": ["acc", "acc_norm"],
        "acc": 1.0,
        "acc_norm": 0.0,
    }
    (s,) = samples_to_scored("arc_easy", [mc], method="loglikelihood", offset=10)
    assert (s.doc_id, s.prompt, s.response, s.target) == (13, "Q?\nAnswer:", " blue", "blue")
    assert s.scores == {"acc": 1.0, "acc_norm": 0.0}
    assert s.extra["logprobs"] == [-2.0, -1.0] and s.extra["is_greedy"] == [False, True]
    gen = [
        {
            "doc_id": 0,
            "target": "x #### 4",
            "arguments": [["Question: 2+2?\nAnswer:", {"until": ["Question:"]}]],
            "resps": [["It is 4.\n#### 4"]],
            "filtered_resps": ["4"],
            "filter": f,
            "metrics": ["exact_match"],
            "exact_match": v,
        }
        for f, v in (("strict-match", 1.0), ("flexible-extract", 0.0))
    ]
    (g,) = samples_to_scored("gsm8k", gen, method="generate_until")
    assert g.response == "It is 4.\n#### 4" and g.target == "x #### 4"
    assert g.scores == {"exact_match_strict": 1.0, "exact_match_flexible": 0.0}
    assert g.extra["filtered"] == {"strict-match": "4", "flexible-extract": "4"}


def test_registered_under_its_hub_type() -> None:
    made = BACKENDS["lm-evaluation-harness"]({"batch_size": 1}, resolver=load_catalog().resolver())
    assert isinstance(made, LmEvalBackend) and made.config == {"batch_size": 1}


def test_task_yaml_includes_lm_evals_file_with_absolute_local_data(tmp_path: Path) -> None:
    prepared = prepare_tasks("arc_easy", load_catalog().resolver(), tmp_path)
    cfg = yaml.safe_load((tmp_path / "arc_easy.yaml").read_text())
    assert cfg["include"] == str(lm_eval_tasks_dir() / "arc/arc_easy.yaml")
    assert cfg["dataset_path"] == "json" and cfg["dataset_name"] is None
    files = cfg["dataset_kwargs"]["data_files"]
    assert set(files) == {"train", "validation", "test"}
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in files.values())
    assert prepared.leaf_docs == {"arc_easy": 2376}


def test_no_train_split_means_shots_from_the_eval_split(tmp_path: Path) -> None:
    prepare_tasks("winogrande", load_catalog().resolver(), tmp_path)
    cfg = yaml.safe_load((tmp_path / "winogrande.yaml").read_text())
    assert cfg["training_split"] is None and cfg["fewshot_split"] == "validation"
    # Shipped HellaSwag rows are preprocessed: no lm-eval process_docs, same templates.
    prepare_tasks("hellaswag", load_catalog().resolver(), tmp_path)
    hs = yaml.safe_load((tmp_path / "hellaswag.yaml").read_text())
    assert "include" not in hs and "process_docs" not in hs
    assert hs["doc_to_text"] == "{{query}}" and hs["doc_to_choice"] == "choices"


def test_mmlu_group_splits_subjects_into_files(tmp_path: Path) -> None:
    prepared = prepare_tasks("mmlu", load_catalog().resolver(), tmp_path)
    assert len(prepared.leaf_docs) == 57 and sum(prepared.leaf_docs.values()) == 14042
    group = yaml.safe_load((tmp_path / "_mmlu_group.yaml").read_text())
    assert group["group"] == "mmlu" and group["aggregate_metric_list"][0]["weight_by_size"] is True
    offsets = prepared.leaf_offsets()
    assert offsets["mmlu_abstract_algebra"] == 0 and offsets["mmlu_anatomy"] == 100


def test_tasks_that_need_the_hub_fail_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="code_eval"):
        prepare_tasks("humaneval", load_catalog().resolver(), tmp_path)
    with pytest.raises(BackendUnavailableError, match="Hugging Face hub"):
        prepare_tasks("boolq", load_catalog().resolver(), tmp_path)


async def test_chat_only_model_cannot_run_loglikelihood_tasks() -> None:
    spec = ModelSpec(
        "openai-compatible",
        "m",
        base_url="http://127.0.0.1:9",
        capabilities=ModelCapabilities(supports_logprobs=False, supports_completions=False),
    )
    with pytest.raises(BackendError, match="native backend"):
        await backend().run(spec, BackendTask("arc_easy", limit=2), MemorySink())


async def test_endpoint_without_tokenizer_is_a_clear_error() -> None:
    script = Script(model="fake-model", tokenize_enabled=False)
    srv = FakeServer(script)
    url = srv.start()
    try:
        with pytest.raises(BackendError, match="needs a tokenizer"):
            await backend().run(completions_spec(url), BackendTask("arc_easy", limit=2), MemorySink())
    finally:
        srv.stop()


# --------------------------------------------------------------------------- real lm_eval runs


async def test_run_reports_progress_records_samples_and_sends_the_api_key(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.api_key = "sekret"
    seen: list[tuple[int, int]] = []

    async def progress(name: str, done: int, total: int, running: Mapping[str, float]) -> None:
        assert name == "arc_easy"
        seen.append((done, total))

    sink = MemorySink()
    be = LmEvalBackend({"parallelism": 2}, resolver=load_catalog().resolver(), environ={"LAB_KEY": "sekret"})
    result = await be.run(
        completions_spec(url, api_key_env="LAB_KEY"),
        BackendTask("arc_easy", num_fewshot=1, limit=6),
        sink,
        progress=progress,
    )
    assert result.status == "completed" and result.backend == "lm-evaluation-harness"
    assert set(result.metrics) >= {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}
    assert sorted(s.doc_id for s in sink.recorded) == list(range(6))
    assert result.metrics["acc"] == pytest.approx(sum(s.scores["acc"] for s in sink.recorded) / 6)
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    ll = [b for b in script.bodies("/v1/completions") if b and b.get("echo")]
    assert ll and all(b["logprobs"] == 1 for b in ll)
    assert all(r.headers.get("authorization") == "Bearer sekret" for r in script.requests)
    assert all("Answer:" in s.prompt and s.extra["backend"] == "lm-evaluation-harness" for s in sink.recorded)


async def test_resume_sends_only_the_missing_documents(server: tuple[str, Script]) -> None:
    url, script = server
    first = MemorySink()
    await backend().run(completions_spec(url), BackendTask("piqa", limit=6), first)
    done = {s.doc_id: s for s in first.recorded if s.doc_id < 4}
    before = script.count("/v1/completions")
    sink = MemorySink(done)
    result = await backend().run(completions_spec(url), BackendTask("piqa", limit=6), sink)
    assert sorted(s.doc_id for s in sink.recorded) == [4, 5]
    assert script.count("/v1/completions") - before == 2 * 2  # two docs, two choices each
    assert result.num_resumed == 4 and result.num_scored == 2 and result.num_docs == 6
    full = {s.doc_id: s.scores["acc"] for s in first.recorded}
    assert result.metrics["acc"] == pytest.approx(sum(full.values()) / 6)


async def test_chat_generation_passes_generation_parameters(server: tuple[str, Script]) -> None:
    url, script = server
    script.gen_rules.append(GenRule("Question:", "So 5 + 3 = 8.\n#### 8"))
    spec = ModelSpec(
        "openai-compatible",
        "fake-model",
        base_url=url,
        generation=GenerationParams(temperature=0.1, top_p=0.95, max_tokens=64),
    )
    sink = MemorySink()
    result = await backend(seed=7).run(spec, BackendTask("gsm8k", num_fewshot=1, limit=3), sink)
    assert result.method == "generate_until"
    assert set(result.metrics) >= {"exact_match_strict", "exact_match_flexible"}
    bodies = script.bodies("/v1/chat/completions")
    assert len(bodies) == 3
    assert all(b["temperature"] == 0.1 and b["top_p"] == 0.95 and b["max_tokens"] == 64 for b in bodies)
    assert all(b["seed"] == 7 for b in bodies)
    assert all(s.response == "So 5 + 3 = 8.\n#### 8" for s in sink.recorded)


async def test_cancel_kills_the_subprocess_within_seconds(server: tuple[str, Script]) -> None:
    url, script = server
    script.latency_ms = 3000.0
    cancel = asyncio.Event()

    async def progress(name: str, done: int, total: int, running: Mapping[str, float]) -> None:
        if done == 0:
            asyncio.get_running_loop().call_later(4.0, cancel.set)

    task = asyncio.create_task(
        backend(parallelism=1).run(
            completions_spec(url),
            BackendTask("arc_easy", limit=50),
            MemorySink(),
            progress=progress,
            cancel=cancel,
        )
    )
    await cancel.wait()
    set_at = time.monotonic()
    result = await asyncio.wait_for(task, timeout=30)
    assert result.status == "cancelled"
    assert time.monotonic() - set_at < 6.0


async def test_timeout_is_enforced(server: tuple[str, Script]) -> None:
    url, script = server
    script.latency_ms = 3000.0
    started = time.monotonic()
    with pytest.raises(BackendTimeoutError, match="limit"):
        await backend(parallelism=1, timeout_seconds=6).run(
            completions_spec(url), BackendTask("arc_easy", limit=50), MemorySink()
        )
    assert time.monotonic() - started < 20


async def test_crashed_subprocess_fails_with_its_stderr(server: tuple[str, Script]) -> None:
    url, _ = server
    spec = ModelSpec("openai-compatible", "no-such-model", base_url=url, max_retries=1)
    with pytest.raises(BackendProcessError) as info:
        await backend().run(spec, BackendTask("arc_easy", limit=2), MemorySink())
    assert info.value.returncode not in (0, None)
    assert "Error" in info.value.stderr_tail  # lm-eval's traceback, for the user to read
    assert "exited with code" in str(info.value) and info.value.stderr_tail in str(info.value)
