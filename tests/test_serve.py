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


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CHORUS_INSTANCE_PATH": str(tmp_path),
        "CHORUS_ENV": "production",
        "SECRET_KEY": "s" * 48,
        "CHORUS_AUDIT_KEY": "a" * 48,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "CHORUS_BASE_URL": "https://chorus.example.org",
    }
    return env


@pytest.mark.slow
def test_serve_in_production_never_loads_the_demo(tmp_path):
    """Issue #10: `chorus serve` loaded the demo (public admin password) into an empty
    production database. The real CLI, in production, on an empty database: no demo."""
    import sqlite3

    port = free_port()
    chorus = Path(sys.executable).with_name("chorus")
    server = subprocess.Popen(
        [str(chorus), "serve", "--port", str(port), "--demo"],
        cwd=REPO,
        env=_production_env(tmp_path),
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
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert "demo.chorus.test" not in output and "chorus-demo" not in output
    assert "the demo is not loaded" in output
    with sqlite3.connect(tmp_path / "production.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM staff_users").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM studies").fetchone() == (0,)


def test_chorus_demo_is_refused_in_production(tmp_path):
    chorus = Path(sys.executable).with_name("chorus")
    result = subprocess.run(
        [str(chorus), "demo"],
        cwd=REPO,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "never loaded in production" in result.stderr
    assert "chorus-demo" not in result.stdout + result.stderr
