"""Workers die with their parent (issue 22, row 8): ``emo extract -j 2`` killed with
SIGKILL leaves no process behind, and :func:`emo._native.die_with_parent` ends a worker
whose parent is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests._serving import Server, wav

#: Bounded wait for orphans to end (the watchdog looks every second; the issue asks 30 s).
GONE_S = 30.0


def _descendants_once_workers_run(proc: subprocess.Popen, n: int) -> list[psutil.Process]:
    """Every descendant of ``proc`` once ``n`` of its children are loky workers."""
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        children = parent.children(recursive=True)
        with_cmdline = []
        for child in children:
            try:
                with_cmdline.append(" ".join(child.cmdline()))
            except psutil.Error:
                continue
        if sum("loky" in c and "resource_tracker" not in c for c in with_cmdline) >= n:
            return children
        time.sleep(0.05)
    raise AssertionError("the workers never started")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_extract_leaves_no_orphan_worker(tmp_path: Path) -> None:
    clips = [wav(tmp_path / "data" / f"c{i:02d}.wav", 3.0, 120.0 + 5 * i, seed=i)
             for i in range(60)]
    proc = subprocess.Popen([sys.executable, "-m", "emo", "extract", *map(str, clips), "-j", "2",
                             "-m", "audio", "--cache", str(tmp_path / "cache")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        descendants = _descendants_once_workers_run(proc, 2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(descendants, timeout=GONE_S)
        assert not alive, [" ".join(p.cmdline()) for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_worker_ends_when_its_parent_is_gone(tmp_path: Path) -> None:
    """A parent starts a worker that calls die_with_parent, then exits; the worker (which
    would otherwise sleep for minutes) ends too."""
    pid_file = tmp_path / "worker.pid"
    worker = ("import os, sys, time; from emo._native import die_with_parent; "
              "die_with_parent(os.getppid()); "
              "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)")
    parent = (f"import pathlib, subprocess, sys, time\n"
              f"subprocess.Popen([sys.executable, '-c', {worker!r}, sys.argv[1]])\n"
              f"path = pathlib.Path(sys.argv[1])\n"
              f"while not (path.exists() and path.read_text()):\n"
              f"    time.sleep(0.05)\n")
    subprocess.run([sys.executable, "-c", parent, str(pid_file)], check=True, timeout=120)
    try:
        orphan = psutil.Process(int(pid_file.read_text()))
    except psutil.NoSuchProcess:
        return  # already gone
    _, alive = psutil.wait_procs([orphan], timeout=GONE_S)
    if alive:
        orphan.kill()
    assert not alive


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_service_leaves_no_orphan_worker(tmp_path: Path) -> None:
    server = Server(tmp_path / "s", workers=2).wait()
    try:
        workers = [p for p in psutil.Process(server.proc.pid).children()
                   if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=GONE_S)
        assert not alive, [p.pid for p in alive]
    finally:
        server.stop()
