"""scripts/run.sh: when nothing changed since the last install, it installs nothing and serves within 5 s."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stamp(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


@pytest.fixture
def installed_project(tmp_path: Path) -> Path:
    """A copy of the project's run script and manifests whose .venv (this test run's) and node_modules carry
    the stamps of an earlier install: the state a second ``bash scripts/run.sh`` finds."""
    if not (VENV / "bin" / "jllm-kg").exists():
        pytest.skip(f"jllm-kg is not installed in {VENV}")
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "run.sh", project / "scripts" / "run.sh")
    for name in ("pyproject.toml", "package-lock.json"):
        shutil.copy(ROOT / name, project / name)
    bin_dir = project / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "jllm-kg").symlink_to(VENV / "bin" / "jllm-kg")
    # this run's interpreter, except that a pip install (which would re-point this test run's editable
    # install at the copy) stops the script instead
    guard = bin_dir / "python"
    guard.write_text(f'#!/bin/sh\ncase "$*" in *"-m pip"*) echo "installing refused by the test" >&2; exit 97;; esac\n'
                     f'exec {sys.executable} "$@"\n')
    guard.chmod(0o755)
    venv = project / ".venv"
    version = subprocess.run([str(guard), "-VV"], capture_output=True, check=True).stdout
    (venv / ".jllm-kg-stamp").write_text(_stamp((project / "pyproject.toml").read_bytes(), version) + "\n")
    (project / "node_modules").mkdir()
    (project / "node_modules" / ".jllm-kg-stamp").write_text(_stamp((project / "package-lock.json").read_bytes()) + "\n")
    return project


def test_a_second_run_installs_nothing_and_serves_within_5_seconds(installed_project: Path, tmp_path: Path):
    port = _free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "JLLM_KG_STORE": str(tmp_path / "store")}
    # the first run built the store; the second finds it up to date and does not rebuild it
    first = subprocess.run([str(VENV / "bin" / "jllm-kg"), "build", "--if-changed"], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "scripts/run.sh", "--port", str(port), "--workers", "1"], cwd=installed_project,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        elapsed = None
        while time.monotonic() - start < 30 and proc.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    elapsed = time.monotonic() - start
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    output = log.read_text()
    assert elapsed is not None, output[-3000:]
    assert "installing" not in output, output[-3000:]
    assert "is up to date" in output and "built " not in output, output[-3000:]
    assert elapsed < 5, f"serving after {elapsed:.1f} s"
