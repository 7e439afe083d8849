"""A fork server run by the MLflow peer's interpreter (see ``tests/_mlflow_peer.py``).

Importing MLflow takes 5-8 s of CPU, and MLflow with TensorFlow or PyTorch 20-25 s; the interop tests ran
one fresh interpreter per snippet and paid that every time. This process imports MLflow (and the modules
named on its command line) once, then runs each snippet in a child forked from it, so every snippet still
gets a process of its own (its own environment, working directory, globals and MLflow state) without the
imports.

Protocol, one JSON document per line: a request ``{"code", "args", "cwd", "env", "stdout", "stderr"}`` (and
``"file"`` when the code is a script's, which then runs as ``python file args...`` would run it) on
stdin is answered with ``{"pid": N}`` once the child exists, then ``{"rc": N}`` when it ends; with
``"detach": true`` (a server) only ``{"pid": N}`` comes, and nobody here waits for it. The child's
standard output and error go to the files the request names.
"""

from __future__ import annotations

import atexit
import builtins
import importlib
import json
import os
import sys
import traceback
import warnings


def _child(req: dict) -> int:
    os.chdir(req["cwd"] or os.getcwd())
    os.environ.clear()
    os.environ.update(req["env"])
    out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = out if req["stderr"] == req["stdout"] else os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                                             0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    for fd in {out, err}:
        os.close(fd)
    sys.stdin = open(os.devnull)
    script = req.get("file")
    sys.argv = [script or "-c", *req["args"]]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)) if script else "")
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    if script:
        namespace["__file__"] = script
    try:
        exec(compile(req["code"], script or "<string>", "exec"), namespace)
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1


def _run_and_exit(req: dict) -> None:
    """In a forked child: run the request, then exit as an interpreter does; never returns."""
    rc = 1
    try:
        rc = _child(req)
        _exit_as_an_interpreter_does()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def _exit_as_an_interpreter_does() -> None:
    # a script's run is ended by MLflow's atexit hook, and its background threads are joined, as at a normal exit
    import threading

    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except Exception:
        traceback.print_exc()
    atexit._run_exitfuncs()


def _detached(req: dict, channel) -> int:
    """Start a long-running child (a server) in a session of its own, not waited for: returns its pid. The
    intermediate process exits at once, so the long-running one is nobody's child here."""
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        channel.close()
        os.close(read)
        if os.fork() == 0:
            os.setsid()  # its pid is its session's and process group's id: the caller can signal the whole group
            os.write(write, str(os.getpid()).encode())  # only once it leads its group
            os.close(write)
            _run_and_exit(req)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        pid = int(pipe.read())
    os.waitpid(middle, 0)
    return pid


def main() -> None:
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # children see the peer's own path, not tests/
    warnings.filterwarnings("ignore")
    for name in sys.argv[1:]:
        importlib.import_module(name)
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # nothing an imported module prints may reach the protocol channel
    print(json.dumps({"ready": True}), file=channel, flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        if req.get("detach"):
            print(json.dumps({"pid": _detached(req, channel)}), file=channel, flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            channel.close()
            _run_and_exit(req)
        print(json.dumps({"pid": pid}), file=channel, flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), file=channel, flush=True)


if __name__ == "__main__":
    main()
