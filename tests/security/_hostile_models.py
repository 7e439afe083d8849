"""Crafted hostile model directories for the gate's tests (sec-load: code execution, deserializers, zips).

Every hostile payload announces itself by creating a *canary* file; a test passes only if the typed error
came AND the canary does not exist AND nothing the model named is left in ``sys.modules`` / ``sys.path``.
The directories are written by hand (MLmodel YAML, pickles built opcode by opcode, zips built member by
member), never by the loaders under test, so a loader bug cannot hide in the fixture.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import sys
import types
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator

import yaml

__all__ = ["write_mlmodel", "canary_code", "exec_pickle", "class_ref_pickle", "custom_model",
           "Watch", "deflate_bomb", "overlap_bomb", "write_zip"]


def write_mlmodel(root: Path, flavors: dict[str, Any], **extra: Any) -> Path:
    """A model directory holding an MLmodel with exactly these flavors (no digests: an outside model)."""
    root.mkdir(parents=True, exist_ok=True)
    doc = {"flavors": flavors, **extra}
    (root / "MLmodel").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def canary_code(canary: Path) -> str:
    """Python source that creates ``canary`` when it runs."""
    return f"open({str(canary)!r}, 'w').write('the artifact ran code')\n"


def exec_pickle(canary: Path) -> bytes:
    """A pickle whose loading calls ``exec`` on :func:`canary_code` (no class needs to exist)."""
    src = canary_code(canary)

    class Boom:
        def __reduce__(self) -> Any:
            return (exec, (src,))

    return pickle.dumps(Boom(), protocol=4)


def class_ref_pickle(module: str, qualname: str, state: dict[str, Any] | None = None) -> bytes:
    """A pickle of an instance of ``module.qualname`` (by reference): loading it imports ``module``."""
    fake = types.ModuleType(module)
    cls = type(qualname, (), {"__module__": module, "__qualname__": qualname})
    setattr(fake, qualname, cls)
    saved = sys.modules.get(module)
    sys.modules[module] = fake
    try:
        obj = cls()
        obj.__dict__.update(state or {})
        return pickle.dumps(obj, protocol=4)
    finally:
        if saved is None:
            del sys.modules[module]
        else:
            sys.modules[module] = saved


def custom_model(root: Path, *, pickled: bytes, code_files: dict[str, str] | None = None,
                 loader: Any = "tureen.pyfunc.model", code: Any = "code", **pyfunc: Any) -> Path:
    """A custom-pyfunc model directory: ``python_model.pkl`` plus an optional ``code/`` directory."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "python_model.pkl").write_bytes(pickled)
    conf: dict[str, Any] = {"loader_module": loader, "python_model": "python_model.pkl", **pyfunc}
    if code_files is not None:
        code_dir = root / "code"
        code_dir.mkdir(exist_ok=True)
        for name, text in code_files.items():
            (code_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (code_dir / name).write_text(text)
    if code is not None:
        conf["code"] = code
    return write_mlmodel(root, {"python_function": conf})


class Watch:
    """Snapshot of the interpreter state a hostile load must not change."""

    def __init__(self, canary: Path, *module_names: str) -> None:
        self.canary = canary
        self.module_names = module_names
        self.path = list(sys.path)
        self.modules = set(sys.modules)

    def assert_nothing_ran(self) -> None:
        assert not self.canary.exists(), "the artifact's code ran"
        assert sys.path == self.path, f"sys.path changed: {set(sys.path) ^ set(self.path)}"
        for name in self.module_names:
            assert name not in sys.modules, f"module {name!r} was imported"
        leaked = [n for n in set(sys.modules) - self.modules
                  if _from_tmp(getattr(sys.modules.get(n), "__file__", None))]
        assert not leaked, f"modules from a model directory left in sys.modules: {leaked}"


def _from_tmp(file: Any) -> bool:
    import tempfile

    return isinstance(file, str) and os.path.realpath(file).startswith(os.path.realpath(tempfile.gettempdir()))


@contextlib.contextmanager
def watching(canary: Path, *module_names: str) -> Iterator[Watch]:
    w = Watch(canary, *module_names)
    yield w
    w.assert_nothing_ran()


# ------------------------------------------------------------------------------------------------
# zips


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def deflate_bomb(path: Path, member: str, size: int, *, extra: dict[str, bytes] | None = None) -> Path:
    """A real deflate bomb: ``member`` inflates to ``size`` zero bytes; the file is ~1/1000 of that.

    Written in chunks so building it costs no memory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        chunk = b"\0" * (1 << 20)
        with z.open(member, "w", force_zip64=True) as f:
            left = size
            while left > 0:
                f.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
    return path


def overlap_bomb(path: Path, member_prefix: str, copies: int, inflated: int) -> Path:
    """A non-recursive bomb: ``copies`` central-directory entries all pointing at ONE compressed stream of
    ``inflated`` zeros (the overlapping-files construction). Tiny on disk, ``copies * inflated`` declared."""
    data = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = data.compress(b"\0" * inflated) + data.flush()
    crc = zlib.crc32(b"\0" * inflated)
    buf = io.BytesIO()
    name0 = f"{member_prefix}0".encode()
    import struct

    # one local header + data
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream), inflated, len(name0), 0)
    buf.write(local + name0 + stream)
    central = io.BytesIO()
    for i in range(copies):
        name = f"{member_prefix}{i}".encode()
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(stream),
                                  inflated, len(name), 0, 0, 0, 0, 0, 0) + name)
    cd = central.getvalue()
    offset = buf.tell()
    buf.write(cd)
    buf.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, copies, copies, len(cd), offset, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path
