"""Hostile inputs of issue 22 (rows 1, 2, 4, 8, 9, 11), repeated end to end.

Every file is made here, tiny (``tests/_hostile.py``): a 630-byte JPEG whose header
declares 30000 x 30000 pixels, a 15-minute Matroska file whose Duration element is
renamed (its header says 0 s). Then:

1. ``emo extract big.jpg good.wav -j 1``: exit code, wall time, peak memory of the
   command (the largest child process so far; the issue saw SIGSEGV after 5.4 GB, and
   the good clip not written);
2. the same with ``--dask local:2`` and with a one-thread cluster (``--dask local:1``):
   exit code, wall time (the issue saw a hang);
3. ``emo serve --workers 1 --timeout 30``: the lying MKV (status, seconds), a normal
   upload right after (status, seconds), an upload named with 300 characters (status),
   then ``SIGTERM`` while a 10-minute upload is being extracted (seconds until the
   service and its workers are gone);
4. ``emo extract -j 2`` on 60 clips, SIGKILLed once its workers run: processes of the
   run still alive 30 s later.

Prints one line per attack and exits 1 when one outcome is not the one wanted (exit 1
naming the file, 422 / 200 answers, no 500, a stop within 10 s, no orphan).

Usage::

    nice .venv/bin/python benchmarks/hostile_inputs.py
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests._hostile import bomb_jpeg, lying_mkv  # noqa: E402
from tests._serving import SR, Server, tone, wav  # noqa: E402

EMO = [sys.executable, "-m", "emo"]
PROBLEMS: list[str] = []


def check(ok: bool, what: str) -> str:
    """``ok`` or ``FAIL``, remembering a failure."""
    if not ok:
        PROBLEMS.append(what)
    return "ok" if ok else "FAIL"


def extract(root: Path, *args: str | Path) -> None:
    """Attack 1/2: ``emo extract`` on the bomb and a good clip."""
    bomb, good = bomb_jpeg(root / "big.jpg"), wav(root / "good.wav", 2.0)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    done = subprocess.run([*EMO, "extract", bomb, good, *args, "--cache", root / "cache"],
                          capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - start
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1e3
    named = "big.jpg" in done.stderr and "decompression bomb" in done.stderr
    written = "1 computed" in done.stdout + done.stderr
    verdict = check(done.returncode == 1 and named and written, f"extract {args}")
    print(f"extract big.jpg good.wav {' '.join(map(str, args))}: exit {done.returncode}, "
          f"bomb named {named}, good clip computed {written}, {wall:.1f} s, "
          f"largest child RSS so far {peak:.0f} MB  [{verdict}]")


def post(server: Server, path: Path, name: str | None = None) -> tuple[int, float, str]:
    start = time.monotonic()
    with path.open("rb") as f:
        answer = httpx.post(f"{server.url}/extract", files={"file": (name or path.name, f)},
                            timeout=600)
    return answer.status_code, time.monotonic() - start, answer.text[:160]


def serve(root: Path) -> None:
    """Attacks 3: the service."""
    liar = lying_mkv(root / "liar.mkv", 900.0)
    slow = root / "ten_minutes.flac"
    sf.write(slow, np.tile(tone(2.0, 150.0), 300), SR, subtype="PCM_16")
    server = Server(root / "serve", workers=1, timeout_s=30).wait()
    try:
        status, seconds, text = post(server, liar)
        print(f"serve: 15-min MKV whose header says 0 s: {status} in {seconds:.1f} s "
              f"({text})  [{check(status == 422, 'lying mkv')}]")
        status, seconds, _ = post(server, wav(root / "next.wav", 1.0))
        print(f"serve: normal upload right after: {status} in {seconds:.1f} s  "
              f"[{check(status == 200, 'next upload')}]")
        status, _, _ = post(server, root / "next.wav", "x" * 296 + ".wav")
        print(f"serve: upload named with 300 characters: {status}  "
              f"[{check(status == 200, 'long name')}]")
        workers = psutil.Process(server.proc.pid).children(recursive=True)
        request = subprocess.Popen([sys.executable, "-c", (
            "import httpx, sys; f = open(sys.argv[2], 'rb'); "
            "print(httpx.post(sys.argv[1], files={'file': ('slow.flac', f)}, "
            "timeout=600).status_code)"), f"{server.url}/extract", str(slow)],
            stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not httpx.get(f"{server.url}/health").json()["running"]:
            assert time.monotonic() < deadline, "the slow job never started"
            time.sleep(0.05)
        start = time.monotonic()
        server.proc.terminate()
        server.proc.wait(timeout=60)
        _, alive = psutil.wait_procs(workers, timeout=30)
        stopped = time.monotonic() - start
        answer = request.communicate(timeout=60)[0].strip()
        print(f"serve: SIGTERM with a busy worker: service and workers gone in {stopped:.1f} s,"
              f" the running request answered {answer}  "
              f"[{check(stopped < 10 and not alive and answer != '500', 'sigterm')}]")
    finally:
        server.stop()


def orphans(root: Path) -> None:
    """Attack 4: SIGKILL of ``emo extract -j 2``."""
    clips = [wav(root / "many" / f"c{i:02d}.wav", 3.0, 120.0 + 5 * i, seed=i) for i in range(60)]
    proc = subprocess.Popen([*EMO, "extract", *map(str, clips), "-j", "2", "-m", "audio",
                             "--cache", str(root / "cache-kill")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 300
    while sum("loky" in " ".join(c.cmdline()) for c in parent.children()) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, "no worker started"
        time.sleep(0.05)
    descendants = parent.children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(30)
    alive = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    print(f"extract -j 2 SIGKILLed: {len(descendants)} child processes, {len(alive)} alive "
          f"after 30 s  [{check(not alive, 'orphans')}]")
    for p in alive:
        p.kill()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="emo-hostile-") as tmp:
        root = Path(tmp)
        extract(root / "j1", "-j", "1")
        extract(root / "dask2", "--dask", "local:2")
        extract(root / "dask1", "--dask", "local:1")
        serve(root)
        orphans(root)
    print("all outcomes as wanted" if not PROBLEMS else f"FAILED: {', '.join(PROBLEMS)}")
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
