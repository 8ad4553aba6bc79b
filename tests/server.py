"""A real `pcc serve` on a free loopback port, for the tests and the load benchmark."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(bundle: str | Path, options: tuple[str, ...] = (), log_path: Path | None = None,
                   ready_timeout: float = 120, env: dict[str, str] | None = None,
                   plain_bentoml: bool = False) -> Iterator[str]:
    """Run `pcc serve` on a free port in a subprocess; yield its loopback URL once /readyz answers, stop it after.

    For tests and benchmarks. BentoML keeps its Prometheus files under $BENTOML_HOME and wipes them when a
    server starts, so each server started here gets a private home and its metrics stay its own. `env` adds to
    the environment; `plain_bentoml` runs `bentoml serve serving.service:PCC` instead (as a container does, the
    bundle in $PCC_BUNDLE, the other settings in `env`), with `options` such as --host.
    """
    port = free_port()
    if plain_bentoml:
        command = [sys.executable, "-m", "bentoml", "serve", "serving.service:PCC", "--port", str(port), *options]
        env = {**(env or {}), "PCC_BUNDLE": str(bundle)}
    else:
        command = [sys.executable, "-m", "pcc.cli", "serve", "--bundle", str(bundle), "--port", str(port), *options]
    with tempfile.TemporaryDirectory(prefix="pcc-serve-") as home:
        log_path = log_path or Path(home) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parent.parent,
                                       env={**os.environ, **(env or {}), "BENTOML_HOME": home})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_timeout
            while not _answers_ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    state = f"exited with {process.returncode}" if process.poll() is not None else "not ready in time"
                    log_tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                    raise RuntimeError(f"pcc serve {state}:\n{log_tail}")
                time.sleep(0.3)
            yield url
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # the process is the BentoML arbiter: it stops its workers
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _answers_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
