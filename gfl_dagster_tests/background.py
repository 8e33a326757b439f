"""`gfl up` started the way a script starts it (`gfl up &`), for the tests of the whole running shape."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from gfl_dagster.cli.processes import free_port  # noqa: F401 (re-exported for the tests)

GFL = Path(sys.executable).parent / "gfl"


def up_in_background(home: Path, log: Path, port: int, web_port: int, env: Optional[dict] = None,
                     options: str = "--limit 10") -> int:
    """The pid of a `gfl up --limit 10` (or other `options`) started in the background by bash, its output in `log`."""
    environment = {**os.environ, "GFL_HOME": str(home), **(env or {})}
    environment.pop("DAGSTER_HOME", None)
    started = subprocess.run(["bash", "-c", f"'{GFL}' up {options} --port {port} --web-port {web_port} "
                                            f"> '{log}' 2>&1 & echo $!"], env=environment, capture_output=True, text=True)
    return int(started.stdout)


def wait_for(log: Path, text: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text()[-2000:] if log.exists() else f"{log} never written"
        time.sleep(1)
