"""Loopback fake HTTP servers for tests and benchmarks: the machinery shared by the OpenAI and Anthropic fakes.

Real HTTP on 127.0.0.1 (stdlib ``http.server`` in a daemon thread), driven through the official SDKs by pointing
their ``base_url`` here. Each server counts requests per path, keeps the request bodies and headers, and can be
told to misbehave for the next requests (``srv.fail_next("429", "500")``): ``"429"`` (with ``Retry-After``),
``"500"``, ``"503"``, ``"529"``, ``"400"``, ``"401"`` (echoes the bearer key, as some servers do), ``"404"``,
``"hang"`` (no answer for ``hang_s``), ``"close"`` (connection dropped), ``"malformed"`` (a broken JSON body),
``"empty"`` (no choices / no content).

Replies come from ``responder(prompt, body) -> str``; the default recognises the benchmark's three prompt styles.
Log-probs come from ``top`` (``(token, logprob)`` alternatives at every position; ``logprobs = False`` drops
them). Both servers implement minimal batch endpoints; a batch ends after ``batch_polls`` status reads, and custom
ids in ``batch_fail_ids`` come back as errored items. The OpenAI server is in :mod:`fakeserver_openai`, the
Anthropic one in :mod:`fakeserver_anthropic`.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TOP = [(" A", math.log(0.6)), (" B", math.log(0.25)), ("C", math.log(0.1)), ("Sure", math.log(0.05))]
SEQUENCE = "A B A C A B A A C B A A B C A A B A C A B A A C B A A B C A"


def default_responder(prompt: str, body: dict[str, Any]) -> str:
    """A plausible answer for the benchmark's prompt styles."""
    low = prompt.lower()
    if "dictionary" in low or "json" in low:
        return "{'A': '50%', 'B': '30%', 'C': '20%'}"
    if "30" in low:
        return SEQUENCE
    return "A"


def _prompt_of(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    parts = [m.get("content") if isinstance(m.get("content"), str) else json.dumps(m.get("content")) for m in messages]
    return "\n".join(str(p) for p in parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stalls)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _read(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.fake._dispatch(self, "GET", b"")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.server.fake._dispatch(self, "POST", self._read())

    def send(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


class FakeServer:
    """Common machinery: thread, counters, fault queue; subclasses route the API paths."""

    error_body: Callable[[int, str], dict[str, Any]]

    def __init__(
        self,
        latency: float = 0.0,
        retry_after: float = 0.05,
        hang_s: float = 5.0,
        responder: Callable[[str, dict[str, Any]], str] = default_responder,
        top: list[tuple[str, float]] | None = None,
        batch_polls: int = 1,
    ) -> None:
        self.latency, self.retry_after, self.hang_s = latency, retry_after, hang_s
        self.responder, self.top = responder, list(top or DEFAULT_TOP)
        self.batch_polls = batch_polls
        self.logprobs = True  # False: ignore logprobs requests, like a server without the feature
        self.batch_fail_ids: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.faults: list[str] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._ids = 0

    # --- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> FakeServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (append ``/v1`` for the OpenAI SDK)."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fail_next(self, *faults: str) -> None:
        """Make the next ``len(faults)`` calls of the main endpoint misbehave, in order."""
        with self._lock:
            self.faults.extend(faults)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}_{self._ids:06d}"

    @property
    def calls(self) -> int:
        """Requests to the main endpoint (chat completions / messages)."""
        return self.counts[self.main_path]

    main_path = ""

    # --- dispatch ---------------------------------------------------------------------------------------------
    def _dispatch(self, h: _Handler, method: str, raw: bytes) -> None:
        path = h.path.split("?")[0]
        with self._lock:
            self.counts[path] += 1
            self.headers.append({k.lower(): v for k, v in h.headers.items()})
        if self.latency:
            time.sleep(self.latency)
        if path == self.main_path and method == "POST":
            fault = self._pop_fault()
            if fault and self._fault(h, fault):
                return
            body = json.loads(raw or b"{}")
            with self._lock:
                self.bodies.append(body)
            h.send(200, self.answer(body, empty=fault == "empty"))
            return
        self.route(h, method, path, raw)

    def _pop_fault(self) -> str:
        with self._lock:
            return self.faults.pop(0) if self.faults else ""

    def _fault(self, h: _Handler, fault: str) -> bool:
        """Apply a fault; ``False`` when the request should still be answered (``empty``)."""
        if fault == "empty":
            return False
        if fault == "hang":
            time.sleep(self.hang_s)
            h.close_connection = True
            return True
        if fault == "close":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault == "malformed":
            h.send(200, None, raw=b'{"id": "x", "choices": [ {"message": ')
            return True
        status = int(fault)
        headers = {"Retry-After": f"{self.retry_after:g}"} if status == 429 else {}
        key = h.headers.get("Authorization", "").removeprefix("Bearer ") or h.headers.get("x-api-key", "")
        message = f"Incorrect API key provided: {key}" if status == 401 else f"fake failure {status}"
        h.send(status, self.error_body(status, message), headers=headers)
        return True

    def route(self, h: _Handler, method: str, path: str, raw: bytes) -> None:
        h.send(404, self.error_body(404, f"no route {method} {path}"))

    def answer(self, body: dict[str, Any], empty: bool = False) -> dict[str, Any]:
        raise NotImplementedError

    def _batch_tick(self, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is not None:
                batch["_polls"] += 1
        return batch
