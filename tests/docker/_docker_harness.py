"""A private Docker engine and a local Python base image for the container tests and the benchmark.

No container registry is reachable on the CI machines, so nothing can be pulled: the base image is built from
a debootstrapped Debian bookworm with Python (the rootfs tarball is cached under ``.cache/`` keyed by a hash
of the recipe, so only the first run pays the ~70 s debootstrap), and ``dockerd`` runs with its own data root
and socket in a temporary directory, stopped and removed at the end.

Plain module (no pytest) so that ``benchmarks/docker_bench.py`` uses the same engine and base image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "docker-base"

# Changing anything here changes the cache key, so the rootfs is rebuilt.
RECIPE = {
    "suite": "bookworm",
    "variant": "minbase",
    "include": ["python3", "python3-venv", "python3-pip", "ca-certificates"],
    # Make the base behave like the official python:X.Y-slim images that users get by default: a `python`
    # command and pip allowed into the system interpreter (MLflow's generated Dockerfile relies on both).
    "post": [
        "ln -sf python3 usr/bin/python",
        "rm -f usr/lib/python3*/EXTERNALLY-MANAGED",
        "rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/*",
    ],
    "image_changes": ["ENV LANG=C.UTF-8", 'CMD ["python3"]'],
    "version": 1,
}


def recipe_key() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


def ensure_tools() -> None:
    """Install docker.io and debootstrap with apt when missing (CI machines start without them)."""
    missing = [pkg for pkg, exe in (("docker.io", "dockerd"), ("debootstrap", "debootstrap"))
               if shutil.which(exe) is None and not Path("/usr/sbin", exe).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"The docker tests need {missing} installed (apt-get install -y {' '.join(missing)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    proc = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, "iptables"],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"apt-get install {missing} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def apt_mirror() -> str:
    """The Debian mirror apt is configured with (deb822 .sources or a classic sources.list)."""
    candidates: list[str] = []
    for file in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if not file.is_file() or not file.name.endswith((".list", ".sources")):
            continue
        text = file.read_text(errors="replace")
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m and "security" not in m.group(1) and "bookworm" in m.group(2):
                candidates.append(m.group(1))
            m = re.match(r"^URIs:\s*(.+)$", line)
            if m:
                candidates += [u for u in m.group(1).split() if "security" not in u]
    for uri in candidates:
        if "debian" in uri:
            return uri.rstrip("/")
    return candidates[0].rstrip("/") if candidates else "http://deb.debian.org/debian"


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    out = []
    with open("/proc/self/mounts") as fh:
        for line in fh:
            target = line.split()[1].replace("\\040", " ")
            if target.startswith(prefix):
                out.append(target)
    return sorted(out, key=len, reverse=True)


def _unmount_all(path: Path) -> None:
    """Lazily unmount everything below ``path``; raise if something is still mounted there."""
    for target in _mounts_under(path):
        subprocess.run(["umount", "-l", target], capture_output=True)
    if _mounts_under(path):
        raise RuntimeError(f"Refusing to delete {path}: something is still mounted under it")


def safe_rmtree(path: Path) -> None:
    """Remove a tree that may hold leftover mounts (a chroot's /proc, overlay layers): unmount them first,
    and never descend into something still mounted."""
    if not path.exists():
        return
    _unmount_all(path)
    shutil.rmtree(path, ignore_errors=True)


def remove_in_background(path: Path) -> None:
    """Delete a large tree (the engine's layers: tens of thousands of files, many seconds on a slow disk)
    without making the caller wait: unmount what is left, rename it aside, and let a detached ``rm -rf``
    finish the job."""
    if not path.exists():
        return
    _unmount_all(path)
    trash = path.with_name(path.name + ".deleting")
    os.replace(path, trash)
    subprocess.Popen(["rm", "-rf", "--one-file-system", str(trash)], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def base_rootfs_tarball(log=print) -> Path:
    """The cached rootfs tarball of the base image, built with debootstrap on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"bookworm-python-{recipe_key()}.tar"
    if tarball.is_file():
        return tarball
    with open(CACHE / f"{tarball.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel session waits for the first one's tarball
        if tarball.is_file():
            return tarball
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
        try:
            rootfs = work / "rootfs"
            mirror = apt_mirror()
            log(f"docker harness: debootstrap {RECIPE['suite']} from {mirror} (cached afterwards as {tarball.name})")
            proc = subprocess.run(["debootstrap", f"--variant={RECIPE['variant']}",
                                   f"--include={','.join(RECIPE['include'])}", str(RECIPE["suite"]), str(rootfs),
                                   mirror], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"debootstrap failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            for command in RECIPE["post"]:
                subprocess.run(["sh", "-c", command], cwd=rootfs, check=True)
            partial = work / "rootfs.tar"
            _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."])
            os.replace(partial, tarball)
        finally:
            safe_rmtree(work)
    return tarball


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    """A ``dockerd`` with a private data root and socket; ``env`` points the docker CLI at it."""

    def __init__(self, root: Path, proc: subprocess.Popen[bytes] | None, host: str) -> None:
        self.root = root
        self.proc = proc
        self.host = host
        self.env = dict(os.environ, DOCKER_HOST=host, DOCKER_BUILDKIT="0")

    def docker(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=self.env, text=True, capture_output=True, check=check,
                              timeout=timeout)

    def remove_images(self, *names: str) -> None:
        """Untag and remove images; on a private engine their parent layers are left for the engine's
        teardown to delete in one go (removing layers one by one costs seconds each on a slow disk)."""
        if names:
            prune = [] if self.proc is None else ["--no-prune"]
            self.docker("rmi", "-f", *prune, *names, check=False)

    def image_exists(self, name: str) -> bool:
        return self.docker("image", "inspect", name, check=False).returncode == 0

    def import_base(self, tag: str | None = None) -> str:
        tag = tag or f"tureen-test-base:{recipe_key()}"
        if self.image_exists(tag):
            return tag
        tarball = base_rootfs_tarball()
        args = ["import"]
        for change in RECIPE["image_changes"]:
            args += ["--change", str(change)]
        self.docker(*args, str(tarball), tag)
        return tag

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # containers first, so that dockerd's shutdown does not wait on them
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            remove_in_background(self.root)


def start_engine() -> Engine:
    """Start a private dockerd (or use ``TUREEN_TEST_DOCKER_HOST`` if set) and wait until it answers."""
    given = os.environ.get("TUREEN_TEST_DOCKER_HOST")
    if given:
        return Engine(Path(tempfile.gettempdir()), None, given)
    ensure_tools()
    # short paths: containerd's unix sockets live under the exec root and must stay under 108 characters
    root = Path(tempfile.mkdtemp(prefix="tdk-", dir="/tmp"))
    sock = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    proc = subprocess.Popen([dockerd, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                             "-H", f"unix://{sock}", "--pidfile", str(root / "dockerd.pid")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    engine = Engine(root, proc, f"unix://{sock}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if sock.exists() and engine.docker("version", check=False, timeout=20).returncode == 0:
            return engine
        time.sleep(0.5)
    engine.stop()
    text = (root / "dockerd.log").read_text(errors="replace")[-3000:] if (root / "dockerd.log").exists() else ""
    raise RuntimeError(f"dockerd did not come up within 60 s:\n{text}")


@contextlib.contextmanager
def engine_with_base() -> Iterator[tuple[Engine, str]]:
    """(engine, base image tag), torn down on exit."""
    engine = start_engine()
    try:
        yield engine, engine.import_base()
    finally:
        engine.stop()


def host_ca_certs() -> list[Path]:
    """The host's extra CA certificates (what ``update-ca-certificates`` adds to the system store)."""
    return sorted(p for p in Path("/usr/local/share/ca-certificates").rglob("*.crt") if p.is_file())


def wait_http(url: str, timeout: float = 90.0, proc_check=None) -> None:
    """Wait until ``url`` answers 200 (``proc_check()`` may raise to stop early)."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc_check is not None:
            proc_check()
        try:
            with opener.open(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last})")


def editable_copy(src: Path, dst: Path) -> Path:
    """A copy of a saved model that a test may edit by hand: without tureen's digest section, as a model
    saved by MLflow (or edited after saving) is. The builder refuses to build a tureen model whose files no
    longer match its digests; an outside model builds, with an UnverifiedModelWarning."""
    import shutil

    import yaml

    shutil.copytree(src, dst)
    doc = yaml.safe_load((dst / "MLmodel").read_text())
    doc.pop("tureen", None)
    (dst / "MLmodel").write_text(yaml.safe_dump(doc))
    return dst
