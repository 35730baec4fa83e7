"""Writers for the crash tests, forked from a process that has imported the engine already.

The crash-point tests (`test_storage_crashpoints.py`, `test_bulk_crashpoints.py`,
`test_storage_compaction.py`) run the real engine in a process of its own and stop it at each
durable step (`os._exit(86)`, like kill -9): about a hundred writers a run. A fresh `python`
spent about half of each writer's 0.7 s CPU importing (the form engine, jsonschema, pypinyin's
phrase table) before the saves that are the point. Here one server process per test process
(`python tests/forked.py`, started on first use) imports those once and forks a writer for each
run: still a process of its own, with the environment, arguments, exit code and output it had as
`python SCRIPT ...` / `python -c CODE ...`, the real `os.fsync` (the server is a fresh
interpreter, not the test process whose fsync conftest.py skips), stopped where the crash point
stops it. What a writer does, and how the test judges what it left, is unchanged.

The one difference from a fresh interpreter: the modules were imported before the writer's
environment was set. `core.storage.atomic` reads `CAREBOOK_CRASH_AT`/`_LOG` at import, so the
writer reads them again (`_crash_env`); nothing else in `core` reads the environment at import.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: What the server imports once: the engine and store with their libraries, the writers'
#: helpers, and pypinyin (its phrase table is loaded on the first name a save indexes).
PRELOAD = ["core.engine", "core.storage.store", "core.storage.verify", "core.storage.backups", "pypinyin",
           "binhai_support", "storage_support", "crash_scenario"]


# ---------------------------------------------------------------------- in the test process
class _Server:
    """The server process and the answers it sends back, one JSON line per finished writer."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=dict(os.environ), cwd=os.getcwd())
        self.lock = threading.Lock()
        self.waiting: dict[int, Future] = {}
        self.next_id = 0
        threading.Thread(target=self._answers, daemon=True).start()

    def _answers(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            answer = json.loads(line)
            with self.lock:
                future = self.waiting.pop(answer["id"])
            future.set_result(answer["rc"])
        with self.lock:                     # the server is gone: no answer will come
            for future in self.waiting.values():
                future.set_exception(RuntimeError("the writer server ended"))
            self.waiting.clear()

    def send(self, request: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()

    def start(self, request: dict) -> tuple[int, Future]:
        with self.lock:
            self.next_id += 1
            rid, future = self.next_id, Future()
            self.waiting[rid] = future
            self.send({"id": rid, **request})
        return rid, future

    def stop(self) -> None:
        with self.lock:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        self.proc.wait()


_server: _Server | None = None
_server_lock = threading.Lock()


def stop() -> None:
    """End the server and wait for it (conftest.py, at the end of the session), so its CPU is
    counted with the run's and no process outlives the tests."""
    global _server
    with _server_lock:
        if _server is not None:
            _server.stop()
            _server = None


def run_python(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """`subprocess.run([sys.executable, *args], env=env, capture_output=True, timeout=timeout)`
    for `args` = `[SCRIPT, *argv]` or `["-c", CODE, *argv]`, run as a fork of the server."""
    import tempfile

    global _server
    with _server_lock:
        if _server is None or _server.proc.poll() is not None:
            _server = _Server()
        server = _server
    with tempfile.TemporaryDirectory(prefix="writer-") as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        rid, future = server.start({"args": list(args), "env": dict(env), "out": str(out), "err": str(err)})
        try:
            rc = future.result(timeout)
        except TimeoutError:
            with server.lock:
                server.send({"kill": rid})
            future.result(30)
            raise subprocess.TimeoutExpired([sys.executable, *args], timeout) from None
        return subprocess.CompletedProcess([sys.executable, *args], rc, out.read_bytes(), err.read_bytes())


# ---------------------------------------------------------------------- in the server
def _crash_env() -> None:
    """What `core.storage.atomic` reads from the environment at import, read again."""
    from core.storage import atomic

    atomic._CRASH_AT = os.environ.get("CAREBOOK_CRASH_AT", "")
    atomic._CRASH_LOG = os.environ.get("CAREBOOK_CRASH_LOG", "")
    atomic._seen.clear()


def _writer(request: dict[str, Any]) -> int:
    """In the forked writer: its environment, stdin from /dev/null, stdout and stderr to files
    (as the pipes of `capture_output`: UTF-8, block-buffered, so what `os._exit` cuts off is lost
    as before), then the script or code as `__main__`; the exit code `python` would give."""
    import io
    import runpy
    import traceback

    os.environ.clear()
    os.environ.update(request["env"])
    _crash_env()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, request["out"]), (2, request["err"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    args = request["args"]
    try:
        if args[0] == "-c":
            sys.argv = ["-c", *args[2:]]
            sys.path.insert(0, "")
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        else:
            sys.argv = list(args)
            sys.path.insert(0, str(Path(args[0]).resolve().parent))
            runpy.run_path(args[0], run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - as the interpreter does: the traceback, exit 1
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    return code


def _serve() -> None:
    """Read requests (one JSON line each) from stdin, fork a writer for each, answer with its
    exit code when it ends; end when stdin closes and every writer has ended."""
    import importlib
    import select
    import signal

    sys.path[:0] = [str(HERE), str(HERE.parent)]
    for name in PRELOAD:
        importlib.import_module(name)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    running: dict[int, int] = {}          # pid -> request id
    pids: dict[int, int] = {}             # request id -> pid
    requests = os.fdopen(0, "rb", buffering=0)
    pending = b""
    open_ = True
    while open_ or running:
        ready, _, _ = select.select([requests, wake_r] if open_ else [wake_r], [], [], 1.0)
        if wake_r in ready:
            os.read(wake_r, 4096)
        if requests in ready:
            chunk = os.read(0, 65536)
            if not chunk:
                open_ = False
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                if "kill" in request:
                    if request["kill"] in pids:
                        os.kill(pids[request["kill"]], signal.SIGKILL)
                    continue
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    os.close(wake_r)
                    os.close(wake_w)
                    code = 1
                    try:
                        code = _writer(request)
                    finally:
                        os._exit(code)
                running[pid] = request["id"]
                pids[request["id"]] = pid
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            rid = running.pop(pid)
            pids.pop(rid, None)
            rc = os.waitstatus_to_exitcode(status)
            sys.stdout.write(json.dumps({"id": rid, "rc": rc}) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    _serve()
