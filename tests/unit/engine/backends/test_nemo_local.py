"""NeMo Evaluator local mode: BYOB per-sample predictions -> ledger samples, and adapter ports."""

from __future__ import annotations

import json

from llm_research_lab.engine.backends.nemo import predictions_to_scored


def _line(**row: object) -> str:
    base: dict[str, object] = {
        "sample_id": 0,
        "prompt": "Q?",
        "response": "A",
        "target": "A",
        "scores": {"acc": True},
        "status": "scored",
        "error": None,
        "metadata": {},
    }
    base.update(row)
    return json.dumps(base)


def test_scored_rows_become_samples_with_numeric_scores() -> None:
    lines = [
        _line(sample_id=0, scores={"acc": True}),
        "",
        _line(sample_id=1, response="B", scores={"acc": False}),
        _line(sample_id=2, scores={"exact_match": 1, "f1": 0.5, "note": "x"}),
    ]
    samples = predictions_to_scored("arc_challenge", lines)
    assert [s.doc_id for s in samples] == [0, 1, 2]
    assert samples[0].scores == {"acc": 1.0} and samples[1].scores == {"acc": 0.0}
    assert samples[2].scores == {"exact_match": 1.0, "f1": 0.5}  # non-numeric scores dropped
    assert samples[1].response == "B" and samples[0].target == "A"
    assert all(s.benchmark == "arc_challenge" and s.extra["backend"] == "nemo-evaluator" for s in samples)
    # The same prompt hashes the same; a different prompt differently.
    other = predictions_to_scored("arc_challenge", [_line(prompt="Other?")])[0]
    assert samples[0].request_hash == samples[1].request_hash != other.request_hash


def test_skipped_rows_keep_their_error_and_no_scores() -> None:
    (sample,) = predictions_to_scored(
        "gsm8k",
        [_line(response=None, scores=None, status="skipped_model_error", error="HTTP 500 from endpoint")],
    )
    assert sample.response == "" and sample.scores == {}
    assert sample.extra["status"] == "skipped_model_error"
    assert sample.extra["error"] == "HTTP 500 from endpoint"


def test_adapter_ports_start_at_the_configured_port_and_are_never_shared() -> None:
    """Local mode's adapter port: the config `port` (3825 by default) when free; a run in progress
    holds its port, so a second run started meanwhile gets the next free one."""
    import socket

    from llm_research_lab.engine.backends.nemo import hold_adapter_port, release_adapter_port

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        busy.listen()
        first = hold_adapter_port(taken)  # the configured port is in use by someone else
        second = hold_adapter_port(taken)
    try:
        assert taken < first < second <= taken + 200
    finally:
        release_adapter_port(first)
        release_adapter_port(second)
    again = hold_adapter_port(taken)  # released ports (and the freed one) are offered again
    release_adapter_port(again)
    assert again == taken
