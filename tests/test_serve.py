"""`chorus serve` (what `make run` calls) really serves, and answers /readyz, on a fresh instance."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_migrates_loads_the_demo_and_answers(tmp_path):
    port = free_port()
    env = {**os.environ, "CHORUS_INSTANCE_PATH": str(tmp_path), "CHORUS_ENV": "development"}
    env.pop("DATABASE_URL", None)
    chorus = Path(sys.executable).with_name("chorus")
    server = subprocess.Popen(
        [str(chorus), "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/readyz", timeout=5
                ) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        assert server.poll() is None, "chorus serve exited instead of serving"
        assert body == '{"status":"ready"}\n'
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/staff/login", timeout=5) as response:
            assert "Staff sign-in" in response.read().decode()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert "admin@demo.chorus.test" in output
    assert f"open http://127.0.0.1:{port}/staff/login" in output
    assert (tmp_path / "chorus.sqlite3").exists()
