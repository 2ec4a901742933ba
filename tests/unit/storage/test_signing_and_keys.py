from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_research_lab.storage import ExpiredURLError, InvalidKeyError, SignatureError, URLSigner, validate_key
from llm_research_lab.storage.base import MAX_PRESIGN_SECONDS, content_disposition
from llm_research_lab.storage.signing import verify_signed_request

SECRET = "signing-test-secret-0123456789"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_signature_matches_documented_formula() -> None:
    import hashlib
    import hmac

    signer = URLSigner(SECRET, "http://api")
    expected = hmac.new(SECRET.encode(), b"PUT\nk/x\n100\napplication/jsonl", hashlib.sha256).hexdigest()
    assert signer.sign("PUT", "k/x", 100, "application/jsonl") == expected


def test_verify_accepts_exact_values_and_rejects_any_change() -> None:
    clock = Clock(1_000_000)
    signer = URLSigner(SECRET, "http://api", clock)
    expires = 1_000_060
    sig = signer.sign("PUT", "a/b", expires, "text/csv")
    verify_signed_request(signer, "PUT", "a/b", expires, sig, "text/csv")
    verify_signed_request(signer, "PUT", "a/b", str(expires), sig.upper(), "text/csv")
    changes: list[tuple[str, str, int | str, str, str | None]] = [
        ("GET", "a/b", expires, sig, "text/csv"),
        ("PUT", "a/c", expires, sig, "text/csv"),
        ("PUT", "a/b", expires + 1, sig, "text/csv"),
        ("PUT", "a/b", expires, sig, "text/plain"),
        ("PUT", "a/b", expires, sig, None),
        ("PUT", "a/b", "soon", sig, "text/csv"),
        ("PUT", "a/b", expires, "", "text/csv"),
    ]
    for method, key, exp, s, ct in changes:
        with pytest.raises(SignatureError) as info:
            signer.verify(method, key, exp, s, ct)
        assert not isinstance(info.value, ExpiredURLError)
    other = URLSigner("another-secret-0123456789", "http://api", clock)
    with pytest.raises(SignatureError):
        other.verify("PUT", "a/b", expires, sig, "text/csv")


def test_expiry_is_checked_after_signature() -> None:
    clock = Clock(1_000_000)
    signer = URLSigner(SECRET, "http://api", clock)
    url = signer.presign("GET", "a/b", 60)
    sig = url.url.rsplit("sig=", 1)[1]
    clock.now += 60
    signer.verify("GET", "a/b", 1_000_060, sig)  # still valid at the last second
    clock.now += 1
    with pytest.raises(ExpiredURLError):
        signer.verify("GET", "a/b", 1_000_060, sig)


def test_presign_shape_and_limits() -> None:
    signer = URLSigner(SECRET, "https://lab.example.com/", Clock(1_700_000_000))
    url = signer.presign("PUT", "datasets/x/data.jsonl", 3600, content_type="application/jsonl")
    assert url.url.startswith(
        "https://lab.example.com/storage/objects/datasets/x/data.jsonl?method=PUT&expires=1700003600&sig="
    )
    assert url.headers == {"Content-Type": "application/jsonl"}
    assert url.expires_at.timestamp() == 1_700_003_600
    for bad in (0, -1, MAX_PRESIGN_SECONDS + 1):
        with pytest.raises(ValueError):
            signer.presign("GET", "k", bad)
    with pytest.raises(ValueError):
        signer.presign("DELETE", "k", 60)
    with pytest.raises(ValueError):
        URLSigner("short", "http://api")


def test_content_disposition_escapes_and_encodes() -> None:
    assert content_disposition("data.jsonl") == 'attachment; filename="data.jsonl"'
    assert content_disposition('evil"\r\nX-Injected: 1.txt') == 'attachment; filename="evilX-Injected: 1.txt"'
    assert content_disposition("données.csv") == (
        "attachment; filename=\"donn_es.csv\"; filename*=UTF-8''donn%C3%A9es.csv"
    )


@pytest.mark.parametrize("key", ["a", "datasets/550e8400/versions/1.0.0/data.jsonl", "x=1,y+2@z~w_-.txt"])
def test_good_keys(key: str) -> None:
    assert validate_key(key) == key


@given(st.text(min_size=1, max_size=60))
def test_any_accepted_key_stays_inside_the_root(key: str) -> None:
    root = Path("/srv/objects")
    try:
        validate_key(key)
    except InvalidKeyError:
        return
    resolved = (root / key).resolve()
    assert resolved.is_relative_to(root) and resolved != root
    assert ".." not in key.split("/") and not key.startswith("/") and "\\" not in key
