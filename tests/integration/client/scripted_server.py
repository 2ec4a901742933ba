"""A tiny loopback HTTP server that answers from a script (429/503 with Retry-After, 401, ...).

Real sockets, so the SDK's retry and refresh logic is exercised end to end, not through a mock.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Seen], Reply]


@dataclass
class Script:
    """Per path, a queue of replies; the last one repeats. Or a handler for full control."""

    routes: dict[str, list[Reply]] = field(default_factory=dict)
    handler: Handler | None = None
    seen: list[Seen] = field(default_factory=list)

    def answer(self, seen: Seen) -> Reply:
        self.seen.append(seen)
        if self.handler is not None:
            return self.handler(seen)
        queue = self.routes.get(seen.path.split("?")[0])
        if not queue:
            return Reply(404, {"error": "not_found", "message": "no route", "request_id": "req_x"})
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path.split("?")[0] == path]


@contextlib.contextmanager
def scripted_server(script: Script) -> Iterator[str]:
    class H(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    body += self.rfile.read(size)
                    self.rfile.readline()
            else:
                body = self.rfile.read(length) if length else b""
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                time.monotonic(),
            )
            reply = script.answer(seen)
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
