"""`gfl web`: the search page (and its JSON API) on a local port."""

from __future__ import annotations

import click


DEFAULT_PORT = 8000


def loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535), help="Port.")
def web(host: str, port: int) -> None:
    """Serve the search page: plain-language search with filters, and recommendations.

    Uses the same database, embedder and vector store as the other commands
    (so it searches what `gfl up` / `gfl sync` synced). Ctrl-C stops it.
    """
    import uvicorn

    from gfl_dagster.cli.runs import project_resources

    from gfl_dagster.web.app import create_app

    with project_resources() as resources:
        app = create_app(database=resources.database, embedder=resources.embedder,
                         vector_store=resources.vector_store, model_client=resources.model_client)
        click.echo(f"search page: http://{host}:{port}  (Ctrl-C stops)")
        if not loopback(host):
            click.secho(f"warning: listening on {host}: the search page and its event API have no authentication; "
                        "anyone who reaches this address can search and record feedback", fg="yellow", err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
