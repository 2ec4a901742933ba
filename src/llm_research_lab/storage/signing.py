"""HMAC-signed, expiring URLs for the local backend, served by `llm_research_lab.storage.http`.

URL shape: ``{public_base_url}/storage/objects/{key}?method=PUT&expires=<unix>&sig=<hex>``
(``&filename=...`` for downloads). The signature covers
``f"{method}\\n{key}\\n{expires}\\n{content_type or ''}"`` plus ``f"\\n{filename}"`` when a download
filename is given, so neither the key, the method, the lifetime, the upload's Content-Type nor the
download name can be changed without invalidating it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from llm_research_lab.storage.base import PresignedURL, check_expires_in, safe_filename, validate_key
from llm_research_lab.storage.errors import ExpiredURLError, SignatureError

#: Where `storage.http.router` serves objects; the router must be mounted without a prefix.
OBJECTS_ROUTE = "/storage/objects"

_MIN_SECRET_BYTES = 16


def _message(method: str, key: str, expires: int, content_type: str | None, filename: str | None) -> bytes:
    text = f"{method}\n{key}\n{expires}\n{content_type or ''}"
    if filename:
        text += f"\n{filename}"
    return text.encode("utf-8")


@dataclass(frozen=True)
class URLSigner:
    """Signs and verifies local storage URLs. ``clock`` is injectable so tests can mint URLs that
    are already expired without sleeping."""

    secret: str
    public_base_url: str
    clock: Callable[[], float] = field(default=time.time)

    def __post_init__(self) -> None:
        if len(self.secret.encode("utf-8")) < _MIN_SECRET_BYTES:
            raise ValueError(f"URL signing secret must be at least {_MIN_SECRET_BYTES} bytes")

    def sign(
        self,
        method: str,
        key: str,
        expires: int,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> str:
        mac = hmac.new(
            self.secret.encode("utf-8"),
            _message(method.upper(), key, expires, content_type, filename),
            hashlib.sha256,
        )
        return mac.hexdigest()

    def presign(
        self,
        method: str,
        key: str,
        expires_in: int,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> PresignedURL:
        validate_key(key)
        method = method.upper()
        if method not in ("GET", "PUT"):
            raise ValueError(f"Cannot presign method {method!r}")
        expires = int(self.clock()) + check_expires_in(expires_in)
        if filename is not None:
            filename = safe_filename(filename)
        params = {"method": method, "expires": str(expires)}
        if filename:
            params["filename"] = filename
        params["sig"] = self.sign(method, key, expires, content_type, filename)
        url = f"{self.public_base_url.rstrip('/')}{OBJECTS_ROUTE}/{quote(key, safe='/')}?{urlencode(params)}"
        headers = {"Content-Type": content_type} if method == "PUT" and content_type else {}
        return PresignedURL(
            url=url,
            expires_at=datetime.fromtimestamp(expires, tz=UTC),
            method="PUT" if method == "PUT" else "GET",
            headers=headers,
        )

    def verify(
        self,
        method: str,
        key: str,
        expires: int | str,
        sig: str,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> None:
        """Raise `SignatureError` unless ``sig`` was made by us for exactly these values, then
        `ExpiredURLError` if it has expired. The signature is checked first so a forged URL
        learns nothing from the error."""
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            raise SignatureError("Signed URL has an invalid 'expires' value") from None
        expected = self.sign(method, key, expires_at, content_type, filename)
        # compare_digest: constant time, so the signature cannot be guessed byte by byte.
        if not hmac.compare_digest(expected, sig.lower()):
            raise SignatureError("URL signature does not match (tampered URL, wrong method or Content-Type)")
        if expires_at < int(self.clock()):
            raise ExpiredURLError(
                f"The signed URL expired at {datetime.fromtimestamp(expires_at, tz=UTC).isoformat()}"
            )


def verify_signed_request(
    signer: URLSigner,
    method: str,
    key: str,
    expires: int | str,
    sig: str,
    content_type: str | None = None,
    filename: str | None = None,
) -> None:
    """Functional form of `URLSigner.verify` (raises `SignatureError` / `ExpiredURLError`)."""
    signer.verify(method, key, expires, sig, content_type, filename)
