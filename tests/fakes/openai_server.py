"""A fast loopback OpenAI-compatible server for tests, examples and throughput benchmarks.

Real HTTP/1.1 (keep-alive, Content-Length bodies) on a raw asyncio Protocol: one process, no
framework, answers memoised per request body, so it outruns the engine it is measuring
(DESIGN.md §6). It speaks the wire formats our clients need:

- `GET /v1/models`
- `POST /v1/completions`: echo+logprobs in the legacy format (tokens, token_logprobs,
  top_logprobs, text_offset) with a deterministic whitespace tokeniser (`\\s*\\S+`), plus plain
  generation; a list of prompts gives one choice per prompt (`index` set).
- `POST /v1/chat/completions`, `POST /tokenize` (vLLM style, at the root)
- any extra routes a test registers (the Anthropic/Google fakes use that).

Behaviour is scripted by a `Script`: log-likelihood rules ("for a prompt containing X that ends
with continuation Y, Y costs logprob L, greedy or not"), generation rules, a callable, and fault
injection (N x HTTP 500, 429 + Retry-After, added latency, dropped connections, chat-only mode).
Every request is logged so tests can assert what was sent and how often.

Use it from tests::

    script = Script(ll_rules=[LLRule("Capital of France", " Paris", -0.5, greedy=True)])
    with running_openai_server(script) as base_url:
        ...
    assert script.count("/v1/completions") == 1

or standalone: `python tests/fakes/openai_server.py --port 8011 --latency-ms 5`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs

TOKEN_RE = re.compile(r"\s*\S+|\s+")
ALT_TOKEN = " the"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}


def tokenize(text: str) -> list[tuple[str, int]]:
    """Deterministic whitespace-ish tokens with their character offsets (" Paris" is one token)."""
    return [(m.group(0), m.start()) for m in TOKEN_RE.finditer(text)]


def default_token_logprob(token: str) -> float:
    """A stable pseudo-random logprob in [-4, -1) for tokens no rule covers."""
    return -(1.0 + (zlib.crc32(token.encode("utf-8")) % 300) / 100.0)


@dataclass
class LLRule:
    """A prompt containing `context_contains` and ending with `continuation` gives the
    continuation a total logprob of `logprob`, spread evenly over its tokens."""

    context_contains: str
    continuation: str
    logprob: float
    greedy: bool = False


@dataclass
class GenRule:
    """A generation prompt (or chat transcript) containing `prompt_contains` answers `text`."""

    prompt_contains: str
    text: str


@dataclass
class Fault:
    """Applied to the next `times` matching requests (-1: forever)."""

    status: int | None = 500  # None: no error status (e.g. only a delay)
    retry_after: str | None = None
    drop: bool = False  # close the connection without a response
    delay_ms: float = 0.0
    path: str | None = None
    prompt_contains: str | None = None
    times: int = 1
    body: str | None = None


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    received_at: float
    json: Any = None
    status: int = 0  # filled in when answered (0: dropped)


@dataclass
class FakeReply:
    status: int = 200
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


Route = Callable[[FakeRequest], FakeReply]


@dataclass
class Script:
    model: str = "fake-model"
    ll_rules: list[LLRule] = field(default_factory=list)
    gen_rules: list[GenRule] = field(default_factory=list)
    default_answer: str = "fake answer"
    answer_fn: Callable[[str], str] | None = None
    chat_only: bool = False  # /v1/completions answers 404 (like a chat-only endpoint)
    completions_only: bool = False
    accept_prompt_lists: bool = True
    tokenize_enabled: bool = True
    honour_stop: bool = True
    latency_ms: float = 0.0
    api_key: str | None = None
    log_requests: bool = True
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[FakeRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    # -- fault injection helpers (safe to call while the server runs) --
    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def fail_next(
        self, n: int, status: int = 500, *, retry_after: str | None = None, path: str | None = None
    ) -> None:
        self.add_fault(Fault(status=status, retry_after=retry_after, path=path, times=n))

    def drop_next(self, n: int, *, path: str | None = None) -> None:
        self.add_fault(Fault(status=None, drop=True, path=path, times=n))

    def _take_fault(self, path: str, body: bytes) -> Fault | None:
        if not self.faults:
            return None
        with self._lock:
            for fault in self.faults:
                if fault.times == 0 or (fault.path is not None and fault.path != path):
                    continue
                if fault.prompt_contains is not None and fault.prompt_contains.encode() not in body:
                    continue
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None

    # -- request log helpers --
    def count(self, path: str | None = None) -> int:
        return sum(1 for r in list(self.requests) if path is None or r.path == path)

    def bodies(self, path: str) -> list[Any]:
        return [r.json for r in list(self.requests) if r.path == path]

    def answer_for(self, text: str) -> str:
        for rule in self.gen_rules:
            if rule.prompt_contains in text:
                return rule.text
        if self.answer_fn is not None:
            return self.answer_fn(text)
        return self.default_answer


def _error(status: int, message: str, kind: str = "invalid_request_error") -> FakeReply:
    return FakeReply(status, {"error": {"message": message, "type": kind, "code": status}})


class FakeOpenAIApp:
    """Request handling, independent of the socket layer."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._ll_cache: dict[str, dict[str, Any]] = {}

    # -- log-likelihood --
    def prompt_logprobs(self, prompt: str) -> dict[str, Any]:
        cached = self._ll_cache.get(prompt)
        if cached is not None:
            return cached
        toks = tokenize(prompt)
        lps: list[float | None] = [default_token_logprob(t) for t, _ in toks]
        greedy = [t == ALT_TOKEN for t, _ in toks]
        for rule in self.script.ll_rules:
            if rule.context_contains in prompt and prompt.endswith(rule.continuation) and rule.continuation:
                start = len(prompt) - len(rule.continuation)
                ends = [off for _, off in toks[1:]] + [len(prompt)]
                idx = [i for i in range(len(toks)) if ends[i] > start]
                for i in idx:
                    lps[i] = rule.logprob / len(idx)
                    greedy[i] = rule.greedy
                break
        tops: list[dict[str, float] | None] = []
        for i, (tok, _) in enumerate(toks):
            lp = lps[i]
            assert lp is not None
            if greedy[i]:
                tops.append({tok: lp})
            else:
                tops.append({ALT_TOKEN if tok != ALT_TOKEN else " a": lp / 2 if lp < 0 else 0.0, tok: lp})
        if toks:  # the first token has nothing to condition on, as with real servers
            lps[0] = None
            tops[0] = None
        result = {
            "tokens": [t for t, _ in toks],
            "token_logprobs": lps,
            "top_logprobs": tops,
            "text_offset": [o for _, o in toks],
        }
        if len(self._ll_cache) > 200_000:
            self._ll_cache.clear()
        self._ll_cache[prompt] = result
        return result

    def _generate(self, text: str, body: Mapping[str, Any]) -> tuple[str, str]:
        answer = self.script.answer_for(text)
        finish = "stop"
        stops = body.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        if self.script.honour_stop:
            for stop in stops:
                idx = answer.find(stop) if stop else -1
                if idx >= 0:
                    answer = answer[:idx]
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int):
            toks = tokenize(answer)
            if len(toks) > max_tokens:
                answer = "".join(t for t, _ in toks[:max_tokens])
                finish = "length"
        return answer, finish

    def completions(self, body: dict[str, Any]) -> FakeReply:
        prompt = body.get("prompt")
        prompts = prompt if isinstance(prompt, list) else [prompt]
        if isinstance(prompt, list) and not self.script.accept_prompt_lists:
            return _error(400, "prompt must be a string")
        if not prompts or not all(isinstance(p, str) for p in prompts):
            return _error(400, "prompt must be a string or a list of strings")
        echo = bool(body.get("echo"))
        choices = []
        prompt_tokens = completion_tokens = 0
        for i, p in enumerate(prompts):
            gen, finish = self._generate(p, body) if body.get("max_tokens", 16) else ("", "length")
            ptoks = len(tokenize(p))
            gtoks = len(tokenize(gen))
            prompt_tokens += ptoks
            completion_tokens += gtoks
            choice: dict[str, Any] = {"index": i, "text": (p + gen) if echo else gen, "finish_reason": finish}
            if body.get("logprobs") is not None:
                if echo:
                    lp = dict(self.prompt_logprobs(p))
                    if gen:  # generated tokens follow the prompt's offsets
                        extra = tokenize(gen)
                        lp = {
                            "tokens": lp["tokens"] + [t for t, _ in extra],
                            "token_logprobs": lp["token_logprobs"]
                            + [default_token_logprob(t) for t, _ in extra],
                            "top_logprobs": lp["top_logprobs"]
                            + [{t: default_token_logprob(t)} for t, _ in extra],
                            "text_offset": lp["text_offset"] + [len(p) + o for _, o in extra],
                        }
                else:
                    extra = tokenize(gen)
                    lp = {
                        "tokens": [t for t, _ in extra],
                        "token_logprobs": [default_token_logprob(t) for t, _ in extra],
                        "top_logprobs": [{t: default_token_logprob(t)} for t, _ in extra],
                        "text_offset": [o for _, o in extra],
                    }
                choice["logprobs"] = lp
            else:
                choice["logprobs"] = None
            choices.append(choice)
        return FakeReply(
            200,
            {
                "id": "cmpl-fake",
                "object": "text_completion",
                "created": 0,
                "model": self.script.model,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def chat(self, body: dict[str, Any]) -> FakeReply:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "messages must be a non-empty list")
        text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        answer, finish = self._generate(text, body)
        ptoks, ctoks = len(tokenize(text)), len(tokenize(answer))
        return FakeReply(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": self.script.model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": finish}
                ],
                "usage": {"prompt_tokens": ptoks, "completion_tokens": ctoks, "total_tokens": ptoks + ctoks},
            },
        )

    def handle(self, req: FakeRequest) -> FakeReply:
        s = self.script
        route = s.routes.get((req.method, req.path))
        if route is not None:
            return route(req)
        if s.api_key is not None and req.headers.get("authorization") != f"Bearer {s.api_key}":
            return _error(401, "invalid api key", "authentication_error")
        if req.path == "/v1/models":
            if req.method != "GET":
                return _error(405, "method not allowed")
            return FakeReply(
                200, {"object": "list", "data": [{"id": s.model, "object": "model", "owned_by": "fake"}]}
            )
        known = {"/v1/completions", "/v1/chat/completions", "/tokenize"}
        if req.path not in known:
            return _error(404, f"no route {req.path}")
        if req.method != "POST":
            return _error(405, "method not allowed")
        if (req.path == "/v1/completions" and s.chat_only) or (
            req.path == "/v1/chat/completions" and s.completions_only
        ):
            return _error(404, "not supported by this server")
        if req.path == "/tokenize" and not s.tokenize_enabled:
            return _error(404, "no route /tokenize")
        body = req.json
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        if body.get("model") != s.model:
            return _error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
        if req.path == "/v1/completions":
            return self.completions(body)
        if req.path == "/v1/chat/completions":
            return self.chat(body)
        prompt = str(body.get("prompt", ""))
        ids = [zlib.crc32(t.encode()) % 50_000 for t, _ in tokenize(prompt)]
        return FakeReply(200, {"tokens": ids, "count": len(ids), "max_model_len": 4096})


def _encode(reply: FakeReply, keep_alive: bool) -> bytes:
    body = reply.raw if reply.raw is not None else json.dumps(reply.json, separators=(",", ":")).encode()
    head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
    head.append(f"content-length: {len(body)}")
    head.append("content-type: application/json")
    if not keep_alive:
        head.append("connection: close")
    head.extend(f"{k}: {v}" for k, v in reply.headers.items())
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.buf = bytearray()
        self.busy = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, so cast rather than check.
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            keep_alive = headers.get("connection", "").lower() != "close"
            path, _, query = target.partition("?")
            req = FakeRequest(method, path, parse_qs(query), headers, body, time.monotonic())
            delay, reply = self.server.dispatch(req)
            if delay > 0 or reply is None:
                self.busy = True
                task = asyncio.get_running_loop().create_task(self._later(delay, req, reply, keep_alive))
                self.server.tasks.add(task)
                task.add_done_callback(self.server.tasks.discard)
                return
            self._send(req, reply, keep_alive)

    async def _later(self, delay: float, req: FakeRequest, reply: FakeReply | None, keep_alive: bool) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if reply is None:
            if self.transport is not None:
                self.transport.close()  # the "dropped connection" fault
            return
        self._send(req, reply, keep_alive)
        self.busy = False
        self._process()

    def _send(self, req: FakeRequest, reply: FakeReply, keep_alive: bool) -> None:
        req.status = reply.status
        if self.transport is None:
            return
        self.transport.write(_encode(reply, keep_alive))
        if not keep_alive:
            self.transport.close()


class FakeServer:
    """Runs a `FakeOpenAIApp` on 127.0.0.1 in a background thread (or in the caller's loop)."""

    def __init__(self, script: Script | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.script = script or Script()
        self.app = FakeOpenAIApp(self.script)
        self.host = host
        self.port = port
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Memoised replies for deterministic routes: the endpoint must be faster than the engine.
        self._reply_cache: dict[tuple[str, bytes], FakeReply] = {}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def dispatch(self, req: FakeRequest) -> tuple[float, FakeReply | None]:
        """Returns (delay seconds, reply or None for a dropped connection)."""
        s = self.script
        if s.log_requests:
            try:
                req.json = json.loads(req.body) if req.body else None
            except ValueError:
                req.json = None
            s.requests.append(req)
        delay = s.latency_ms / 1000.0
        fault = s._take_fault(req.path, req.body)
        if fault is not None:
            delay += fault.delay_ms / 1000.0
            if fault.drop:
                return delay, None
            if fault.status is not None:
                headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
                reply = _error(fault.status, fault.body or f"injected HTTP {fault.status}", "server_error")
                reply.headers.update(headers)
                return delay, reply
        cacheable = req.method == "POST" and req.path in ("/v1/completions", "/v1/chat/completions")
        key = (req.path, req.body)
        if cacheable:
            cached = self._reply_cache.get(key)
            if cached is not None:
                return delay, cached
        if req.json is None and req.body:
            try:
                req.json = json.loads(req.body)
            except ValueError:
                return delay, _error(400, "invalid JSON body")
        reply = self.app.handle(req)
        if cacheable and reply.status == 200 and s.answer_fn is None:
            reply = FakeReply(reply.status, raw=json.dumps(reply.json, separators=(",", ":")).encode())
            if len(self._reply_cache) > 100_000:
                self._reply_cache.clear()
            self._reply_cache[key] = reply
        return delay, reply

    async def serve(self) -> None:
        """Start listening in the running loop (used by the CLI and by `start()`)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self.tasks):
            task.cancel()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)

    def start(self) -> str:
        started = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.serve())
            except BaseException as exc:
                errors.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        started.wait(10)
        if errors:
            raise errors[0]
        return self.base_url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None


@contextlib.contextmanager
def running_openai_server(script: Script | None = None) -> Iterator[str]:
    """Serve `script` on a free loopback port for the duration of the block; yields the base URL
    (without `/v1`). Works from sync and async tests: the server has its own thread and loop."""
    server = FakeServer(script)
    base_url = server.start()
    try:
        yield base_url
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fast fake OpenAI-compatible server (tests/benchmarks).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--chat-only", action="store_true")
    parser.add_argument(
        "--log-requests", action="store_true", help="keep a request log (grows without bound)"
    )
    args = parser.parse_args(argv)
    script = Script(
        model=args.model, latency_ms=args.latency_ms, chat_only=args.chat_only, log_requests=args.log_requests
    )
    server = FakeServer(script, args.host, args.port)

    async def run() -> None:
        await server.serve()
        print(f"fake OpenAI-compatible server on {server.base_url} (model {args.model})", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
