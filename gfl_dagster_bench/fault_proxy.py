"""A fault-injecting HTTP proxy in front of a real OpenAI-compatible server (not a test module).

Requests pass through unchanged unless their path has queued entries; each request takes the next one:
a `Fault`, an int (that HTTP status; upstream not asked), a str (the upstream's real answer, envelope and
usage, with that assistant text) or None (pass through). Without queued entries, an outage window (`during`)
answers every request to its path with its faults in turn until it ends. Every request is recorded with what it got.
Tests script it request by request; `gfl bench soak` opens outage windows while the daemon syncs.
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

CHAT, EMBEDDINGS = "/v1/chat/completions", "/v1/embeddings"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through HTTP_PROXY


@dataclass
class Fault:
    status: int = 0  # answer this status with an OpenAI-style error body; the upstream is not asked
    message: str = "injected by the fault proxy"
    headers: dict = field(default_factory=lambda: {"retry-after-ms": "10"})  # with `status`; short backoff
    delay: float = 0.0  # seconds to wait first (a client with a shorter timeout has hung up by then)
    edit: Optional[Callable[[dict], Any]] = None  # changes the upstream's JSON answer in place
    cap_tokens: Optional[int] = None  # the upstream writes at most this many tokens (its text is replaced)
    malformed: bool = False  # a complete 200 whose body is the first half of the upstream's JSON
    truncated: bool = False  # headers announcing the whole body, half of it, then the connection closes


def error(status: int, message: str = Fault.message, retry_after: Optional[str] = None) -> Fault:
    return Fault(status, message, {"retry-after": retry_after} if retry_after else Fault().headers)


def timeout(seconds: float) -> Fault:
    return Fault(504, "held by the fault proxy", delay=seconds)


def reply(text: str) -> Fault:
    return Fault(edit=lambda answer: answer["choices"][0]["message"].update(content=text), cap_tokens=1)


def vectors(size: Optional[int] = None, floats: bool = False) -> Fault:
    """Each embedding cut to `size` numbers; or, `floats`, sent as a JSON array whatever encoding was asked."""
    def edit(answer: dict) -> None:
        for item in answer["data"]:
            encoded = isinstance(item["embedding"], str)  # base64 float32, as the openai client asks
            raw = base64.b64decode(item["embedding"]) if encoded else b""
            vector = (list(struct.unpack(f"<{len(raw) // 4}f", raw)) if encoded else item["embedding"])[:size]
            item["embedding"] = (base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                                 if encoded and not floats else vector)
    return Fault(edit=edit)


def rotated() -> Fault:  # `data` rotated by one, each item keeping its `index`
    return Fault(edit=lambda answer: answer.update(data=answer["data"][1:] + answer["data"][:1]))


def dropped() -> Fault:  # the last vector missing
    return Fault(edit=lambda answer: answer["data"].pop())


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)
    status: int = 0
    response: Any = None


class FaultProxy:
    """`with FaultProxy(upstream) as proxy:` serves on 127.0.0.1 (a free port) at `proxy.base_url`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.queues: defaultdict[str, deque] = defaultdict(deque)
        self.requests: list[Recorded] = []
        self.windows: dict[str, tuple[float, Any]] = {}  # path -> (monotonic end, cycle of faults)
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"proxy": self}))
        self.httpd.daemon_threads, self.base_url = True, f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "FaultProxy":
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, path: str, *entries: Fault | int | str | None) -> "FaultProxy":
        with self.lock:
            self.queues[path].extend(error(e) if isinstance(e, int) else reply(e) if isinstance(e, str) else e
                                     for e in entries)
        return self

    def during(self, path: str, seconds: float, *faults: Fault) -> "FaultProxy":
        """For `seconds` from now, every request to `path` gets the next of `faults` in turn: an outage."""
        with self.lock:
            self.windows[path] = (time.monotonic() + seconds, itertools.cycle(faults))
        return self

    def _window_fault(self, path: str) -> Optional[Fault]:
        """The open outage window's next fault for `path`, if any (the caller holds the lock)."""
        until, faults = self.windows.get(path, (0.0, None))
        return next(faults) if time.monotonic() < until else None

    def chat(self, *entries: Fault | int | str | None) -> "FaultProxy":
        return self.script(CHAT, *entries)

    def embeddings(self, *entries: Fault | int | str | None) -> "FaultProxy":
        return self.script(EMBEDDINGS, *entries)

    def to(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as the real servers

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = Recorded(self.command, self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()},
                          _json(raw))
        with self.proxy.lock:
            self.proxy.requests.append(record)
            queue = self.proxy.queues[record.path]
            fault = (queue.popleft() if queue else None) or self.proxy._window_fault(record.path) or Fault()
        time.sleep(fault.delay)
        if fault.status:
            status, body = fault.status, json.dumps({"error": {
                "message": fault.message, "type": "injected", "param": None, "code": fault.status}}).encode()
        else:
            status, body = self._upstream(record, raw, fault.cap_tokens)
        if fault.edit is not None and status == 200:
            answer = json.loads(body)
            fault.edit(answer)
            body = json.dumps(answer).encode()
        record.status, record.response = status, _json(body)
        sent = body[:len(body) // 2] if fault.malformed or fault.truncated else body
        try:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(fault.headers if fault.status else {}),
                                "Content-Length": str(len(body if fault.truncated else sent))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(sent)
        except OSError:  # the client has hung up (its timeout)
            pass
        self.close_connection = fault.truncated or bool(fault.delay)

    do_GET = do_POST

    def _upstream(self, record: Recorded, raw: bytes, cap_tokens: Optional[int]) -> tuple[int, bytes]:
        if cap_tokens is not None and isinstance(record.body, dict):
            keys = [key for key in ("max_tokens", "max_completion_tokens") if key in record.body] or ["max_tokens"]
            raw = json.dumps({**record.body, **dict.fromkeys(keys, cap_tokens)}).encode()
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        request = urllib.request.Request(self.proxy.upstream + self.path, raw or None, headers, method=self.command)
        try:
            with _DIRECT.open(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as failure:
            return failure.code, failure.read()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
