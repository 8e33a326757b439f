"""A "slow down" from the model service (429 with Retry-After) holds back every thread of the process, on a real
chat model server behind the fault proxy: the deployment slows down as a whole instead of each thread in turn."""

from __future__ import annotations

import threading
import time

from gfl_dagster.clients.model_client import retry_after_s
from gfl_dagster_bench.fault_proxy import CHAT, FaultProxy, error
from gfl_dagster_tests.model_servers import chat_client

pytest_plugins = ["gfl_dagster_tests.model_servers"]


def test_retry_after_is_read_in_milliseconds_or_seconds():
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_s({"retry-after": "nan"}) is None and retry_after_s({}) is None


def test_a_429_with_retry_after_holds_back_the_other_threads_too(chat_proxy: FaultProxy):
    chat_proxy.chat(error(429, retry_after="1.5"), "Yes.", "Yes.")
    model = chat_client(chat_proxy, attempts=1)
    answers: list[str] = []

    def ask() -> None:
        answers.append(model.chat([{"role": "user", "content": "Say yes."}], max_tokens=3).text)

    first = threading.Thread(target=ask)
    first.start()
    deadline = time.monotonic() + 30
    while not chat_proxy.to(CHAT):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    second = threading.Thread(target=ask)  # asks right after the first was told to wait
    second.start()
    first.join(60)
    second.join(60)

    told, *later = chat_proxy.to(CHAT)
    assert told.status == 429 and [r.status for r in later] == [200, 200] and answers == ["Yes.", "Yes."]
    assert min(r.at for r in later) - told.at >= 1.4, "a thread went on while the service said slow down"
