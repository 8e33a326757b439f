"""A scriptable, local OpenAI-compatible HTTP server for tests (not a test module).

It speaks just enough of the OpenAI REST protocol for the describer and the
embedder, with the exact JSON shapes of the real API:

- ``POST /v1/chat/completions`` answers from a queue of scripted replies: a
  string becomes ``choices[0].message.content``; an int is an HTTP error status
  (500, 429, ...) with an OpenAI-style error body and a 1 ms ``retry-after-ms``,
  so the client's own retries are exercised without slowing the tests down.
- ``POST /v1/embeddings`` embeds deterministically (hashed bag of words, fixed
  dimension, L2-normalised), honours ``encoding_format`` ("float" or "base64",
  the official client asks for base64 by default) and can shuffle ``data``.

Every request is recorded (path, lower-cased headers, JSON body) so tests can
assert on what actually went over the wire::

    with FakeOpenAIServer() as server:
        server.chat_replies.extend([500, "A private room in Brooklyn."])
        client = OpenAI(base_url=server.base_url, api_key="sk-test")
        ...
        assert server.requests[-1].headers["authorization"] == "Bearer sk-test"
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, Union

ChatReply = Union[str, int]

_WORD = re.compile(r"\w+", re.UNICODE)


def hashed_embedding(text: str, dim: int = 32) -> list[float]:
    """Deterministic bag-of-words vector: each word adds +-1 at a hashed slot, then L2-normalised."""
    vector = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dim
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # empty / punctuation-only text still gets a valid unit vector
        vector[0], norm = 1.0, 1.0
    return [v / norm for v in vector]


def token_count(text: str) -> int:
    """A stand-in tokenizer: one token per word (at least one per non-empty text)."""
    return max(len(_WORD.findall(text)), 1 if text else 0)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    response: Any = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])


@dataclass
class FakeOpenAIServer:
    """Context manager running the fake on 127.0.0.1 (free port) in a background thread."""

    embedding_dim: int = 32
    shuffle_embeddings: bool = False
    ignore_encoding_format: bool = False  # always answer floats, like some compatible servers
    drop_last_embedding: bool = False  # misbehave: return one vector fewer than inputs
    required_api_key: Optional[str] = None  # if set, other keys get a 401 like OpenAI's
    chat_replies: deque = field(default_factory=deque)
    embedding_failures: deque = field(default_factory=deque)  # HTTP statuses to answer before embedding
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> "FakeOpenAIServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            fake = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True  # keep-alive connections must not block shutdown
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- script helpers ----------------------------------------------------------------------------
    def reply(self, *replies: ChatReply) -> "FakeOpenAIServer":
        """Queue chat replies (strings, or HTTP status codes to fail with), in order."""
        self.chat_replies.extend(replies)
        return self

    def embed(self, text: str) -> list[float]:
        """The vector the server returns for `text` (before float32 transport)."""
        return hashed_embedding(text, self.embedding_dim)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/v1/chat/completions")

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/v1/embeddings")

    # -- protocol (called from handler threads) ----------------------------------------------------
    def _next(self, queue: deque) -> Optional[ChatReply]:
        with self._lock:
            return queue.popleft() if queue else None

    def _chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        reply = self._next(self.chat_replies)
        if reply is None:
            # x-should-retry: false, so a test that forgot a reply fails at once with this message.
            return 500, _error("fake server: no scripted chat reply left", "server_error", retry=False)
        if isinstance(reply, int):
            return reply, _error(f"fake server: scripted HTTP {reply}", _error_type(reply))
        prompt = " ".join(str(m.get("content") or "") for m in body.get("messages") or [])
        prompt_tokens, completion_tokens = token_count(prompt), token_count(reply)
        with self._lock:
            serial = len(self.requests)
        return 200, {
            "id": f"chatcmpl-fake{serial}",
            "object": "chat.completion",
            "created": 1_700_000_000 + serial,
            "model": body.get("model"),
            "system_fingerprint": "fp_fake",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, Any]:
        failure = self._next(self.embedding_failures)
        if failure is not None:
            return int(failure), _error(f"fake server: scripted HTTP {failure}", _error_type(int(failure)))
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return 400, _error("'input' must be a non-empty string or array of strings", "invalid_request_error")
        as_base64 = body.get("encoding_format") == "base64" and not self.ignore_encoding_format
        data = []
        for index, text in enumerate(texts):
            vector = self.embed(text)
            if as_base64:
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        if self.drop_last_embedding:
            data.pop()
        if self.shuffle_embeddings and len(data) > 1:
            data = data[1:] + data[:1]  # rotate: every item moves, deterministically
        tokens = sum(token_count(t) for t in texts)
        return 200, {"object": "list", "data": data, "model": body.get("model"),
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _error_type(status: int) -> str:
    return {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
            429: "rate_limit_exceeded"}.get(status, "server_error")


class _Error(dict):
    """An OpenAI-style error body; `retry=False` adds `x-should-retry: false` to the response."""

    retry = True


def _error(message: str, kind: str, retry: bool = True) -> _Error:
    error = _Error(error={"message": message, "type": kind, "param": None, "code": None})
    error.retry = retry
    return error


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer  # set per server
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    timeout = 10  # idle keep-alive connections end on their own

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, payload: Any) -> None:
        raw = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if status >= 400:
            # Real APIs send Retry-After on 429/503; 1 ms keeps the client's backoff instant.
            self.send_header("retry-after-ms", "1")
            if not getattr(payload, "retry", True):
                self.send_header("x-should-retry", "false")
        self.end_headers()
        self.wfile.write(raw)

    def _record(self, body: Any) -> RecordedRequest:
        record = RecordedRequest(self.command, self.path.split("?")[0],
                                 {k.lower(): v for k, v in self.headers.items()}, body)
        with self.fake._lock:
            self.fake.requests.append(record)
        return record

    def do_GET(self) -> None:
        record = self._record(None)
        if record.path == "/v1/models":
            status, payload = 200, {"object": "list", "data": []}
        else:
            status, payload = 404, _error(f"unknown route {record.path}", "invalid_request_error")
        record.status, record.response = status, payload
        self._send(status, payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8") or "null")
        except ValueError:
            body = None
        record = self._record(body)
        fake = self.fake
        if not isinstance(body, dict):
            status, payload = 400, _error("body must be a JSON object", "invalid_request_error")
        elif fake.required_api_key is not None and \
                record.headers.get("authorization") != f"Bearer {fake.required_api_key}":
            status, payload = 401, _error("Incorrect API key provided.", "invalid_request_error")
        elif record.path == "/v1/chat/completions":
            status, payload = fake._chat(body)
        elif record.path == "/v1/embeddings":
            status, payload = fake._embeddings(body)
        else:
            status, payload = 404, _error(f"unknown route {record.path}", "invalid_request_error")
        record.status = status
        record.response = payload
        self._send(status, payload)
