"""What loading each file of a model would execute, found without executing it.

Used twice: by the loaders, to send a Keras config that carries code through the gate even when Keras'
own ``safe_mode`` would let it pass, and by ``tureen models inspect``, to say per file what a load runs.
Nothing here imports a framework or unpickles anything; zips are bounded by
:func:`tureen.flavors._gate.check_zip` before a member is read.

Example:
    >>> keras_config_risks({"class_name": "Dense", "module": "keras.layers", "config": {}})
    []
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

__all__ = ["keras_config_risks", "keras_file_risks", "FileExecution", "describe_execution"]

_KERAS_PACKAGES = ("keras", "keras_hub", "keras_cv", "keras_nlp")
#: modules whose plain functions (activations, losses, ...) Keras may look up by name from a config
_KERAS_FUNCTION_MODULES = ("activations", "losses", "metrics", "initializers", "regularizers", "constraints")
#: Keras classes that run code or read other files when they are rebuilt from a config
_CODE_LAYERS = {"Lambda": "a Lambda layer (Python bytecode)",
                "TFSMLayer": "a TFSMLayer (loads a TensorFlow SavedModel: graph ops, files outside the model)"}
_CONFIG_MEMBER_LIMIT = 256 << 20


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _keras_function_ok(module: str) -> bool:
    parts = module.split(".")
    if parts[0] not in _KERAS_PACKAGES:
        return False
    return any(p in _KERAS_FUNCTION_MODULES for p in parts[1:])


def keras_config_risks(config: Any) -> list[str]:
    """What rebuilding this Keras model config would run beyond Keras' own layers (empty: nothing).

    Example:
        >>> keras_config_risks({"class_name": "__lambda__", "config": {"code": "..."}})
        ['Python bytecode (a serialized lambda)']
    """
    risks: list[str] = []
    for d in _walk(config):
        name = d.get("class_name")
        module = d.get("module")
        if name == "__lambda__":
            risks.append("Python bytecode (a serialized lambda)")
        elif isinstance(name, str) and name in _CODE_LAYERS and (module is None or str(module).split(".")[0]
                                                                in _KERAS_PACKAGES):
            risks.append(_CODE_LAYERS[name])
        elif name == "function":
            fn_module = str(module or "")
            if fn_module and fn_module != "builtins" and not _keras_function_ok(fn_module):
                risks.append(f"the function {fn_module}.{(d.get('config') or '')!s}")
        for value in d.values():
            if isinstance(value, str) and "unsafe_deserialization" in value:
                risks.append(f"a reference to {value!r}")
    return sorted(set(risks))


def _keras_zip_config(file: Path) -> Any:
    from tureen.exceptions import ModelFormatError
    from tureen.flavors._gate import check_zip

    check_zip(file)
    with zipfile.ZipFile(file) as archive:
        try:
            info = archive.getinfo("config.json")
        except KeyError:
            raise ModelFormatError(f"{file.name} is not a Keras v3 archive (no config.json)") from None
        if info.file_size > _CONFIG_MEMBER_LIMIT:
            raise ModelFormatError(f"{file.name}'s config.json is {info.file_size} bytes; refused")
        try:
            return json.loads(archive.read(info))
        except ValueError as exc:
            raise ModelFormatError(f"{file.name}'s config.json is not valid JSON: {exc}") from None


def _keras_h5_config(file: Path) -> Any:
    from tureen.exceptions import ModelFormatError

    try:
        import h5py
    except ImportError:
        return None
    try:
        with h5py.File(file, "r") as h5:
            raw = h5.attrs.get("model_config")
    except OSError as exc:
        raise ModelFormatError(f"{file.name} is not a readable HDF5 file: {exc}") from None
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except ValueError:
        raise ModelFormatError(f"{file.name}'s model_config is not valid JSON") from None


def keras_file_risks(file: str | os.PathLike[str]) -> list[str]:
    """:func:`keras_config_risks` of a ``.keras`` archive (zip limits checked first) or a legacy ``.h5``.

    Raises:
        ArchiveLimitError: the archive is over its decompression limits.
        ModelFormatError: not a readable Keras file.
    """
    p = Path(file)
    if zipfile.is_zipfile(p):
        return keras_config_risks(_keras_zip_config(p))
    config = _keras_h5_config(p)
    if config is None:  # h5py missing: the config cannot be read, so assume it can hold code
        return ["a legacy HDF5 config that could not be inspected"]
    return keras_config_risks(config)


# ------------------------------------------------------------------------------------------------
# tureen models inspect


@dataclass(frozen=True)
class FileExecution:
    """One file (or directory) of a model and what loading it would execute.

    Attributes:
        path: relative to the model directory (``code/`` for the code directory).
        executes: a short statement, e.g. ``"pickle: arbitrary code"``.
        gated: True when loading it needs the gate open (``allow_pickle``).
    """

    path: str
    executes: str
    gated: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "executes": self.executes, "gated": self.gated}


_PICKLE_SUFFIXES = (".pkl", ".pickle", ".cloudpickle", ".joblib", ".dill")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _head(path: Path, n: int = 8) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def _compressed_head(path: Path, head: bytes) -> tuple[str, bytes] | None:
    """(codec, first bytes after decompression) for gzip/bz2/lzma files; reads a few bytes only."""
    import bz2
    import gzip
    import lzma

    for codec, magic, opener in (("gzip", b"\x1f\x8b", gzip.open), ("bzip2", b"BZh", bz2.open),
                                 ("lzma", b"\xfd7zXZ\x00", lzma.open)):
        if head.startswith(magic):
            try:
                with opener(path, "rb") as f:
                    return codec, f.read(2)
            except (OSError, EOFError, lzma.LZMAError):
                return codec, b""
    return None


def _is_pickle(head: bytes) -> bool:
    # protocol 2+ pickles start with PROTO; older ones with an opcode such as '(' or ']' (kept to 0x80 here)
    return len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5


def _classify_zip(path: Path, rel: str) -> FileExecution:
    from tureen.flavors._gate import check_zip

    check_zip(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    base = {n.rsplit("/", 1)[-1] for n in names}
    if "config.json" in names and any(n.startswith("model.weights") for n in names):
        risks = keras_file_risks(path)
        if risks:
            return FileExecution(rel, "Keras: " + "; ".join(risks) + " (runs only with allow_pickle)", True)
        return FileExecution(rel, "Keras (safe_mode): built-in layers only, no code", False)
    if "schema.json" in names:
        from tureen.flavors._skops import import_skops_io

        untrusted = import_skops_io().get_untrusted_types(file=path)
        if untrusted:
            return FileExecution(rel, "skops: untrusted types " + ", ".join(untrusted) + " (their code runs)",
                                 True)
        return FileExecution(rel, "skops: trusted types only", False)
    if path.suffix == ".pt2" or any(n.endswith("archive_format") for n in names):
        from tureen.flavors.pytorch import _pt2_needs_pickle, _torch

        reason = _pt2_needs_pickle(_torch(), path)
        if reason:
            return FileExecution(rel, f"torch.export with pickle ({reason}): arbitrary code", True)
        return FileExecution(rel, "torch.export program: graph of torch ops, no Python code", False)
    if "data.pkl" in base or any(n.endswith(".pkl") for n in names):
        if path.name == "state_dict.pth":
            return FileExecution(rel, "torch weights_only: tensors only, no code", False)
        if "constants.pkl" in base or any("/code/" in n for n in names):
            return FileExecution(rel, "TorchScript (pickle + TorchScript code): arbitrary code", True)
        return FileExecution(rel, "pickle (torch zip): arbitrary code", True)
    return FileExecution(rel, "none (zip archive of data)", False)


def _classify(root: Path, rel: str) -> FileExecution:
    """By content, not by name: a pickle renamed ``weights.bin`` is still reported as a pickle."""
    from tureen.exceptions import TureenError

    path = root / rel
    name = path.name
    if rel == "MLmodel":
        return FileExecution(rel, "none (YAML; loader_module and class paths are checked by the gate)", False)
    if name in ("saved_model.pb", "saved_model.pbtxt"):
        return FileExecution(rel, "SavedModel: graph ops run at load (they can read and write files)", True)
    head = _head(path)
    try:
        packed = _compressed_head(path, head)
        if packed is not None:
            codec, inner = packed
            if _is_pickle(inner) or path.suffix.lower() in _PICKLE_SUFFIXES:
                return FileExecution(rel, f"pickle ({codec}-compressed): arbitrary code", True)
            return FileExecution(rel, f"none ({codec}-compressed data)", False)
        if _is_pickle(head) or path.suffix.lower() in _PICKLE_SUFFIXES:
            return FileExecution(rel, "pickle: arbitrary code", True)
        if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
            return _classify_zip(path, rel)
        if head.startswith(_HDF5_MAGIC):
            if path.suffix.lower() in (".h5", ".hdf5", ".keras"):
                risks = keras_file_risks(path)
                if risks:
                    return FileExecution(rel, "Keras (HDF5): " + "; ".join(risks) + " (runs only with "
                                         "allow_pickle)", True)
                return FileExecution(rel, "Keras (HDF5, safe_mode): built-in layers only, no code", False)
            return FileExecution(rel, "none (HDF5 data)", False)
        if rel.endswith(".py") or path.suffix in (".pyc", ".so"):
            return FileExecution(rel, "python module: imported only if the model's code directory is", False)
    except TureenError as exc:
        return FileExecution(rel, f"refused at load: {exc.message}", True)
    except Exception as exc:  # noqa: BLE001 - a framework missing or a corrupt file: say so, do not guess
        return FileExecution(rel, f"unknown ({type(exc).__name__}: {exc})", True)
    return FileExecution(rel, "none (data)", False)


def describe_execution(root: str | os.PathLike[str], model: Any) -> list[FileExecution]:
    """Per file, what loading this model would execute; the code directory and loader module included.

    Example:
        >>> describe_execution("model", Model.load("model"))  # doctest: +SKIP
        [FileExecution(path='MLmodel', ...), FileExecution(path='model.skops', executes='skops: trusted ...')]
    """
    from tureen.exceptions import TureenError
    from tureen.flavors._gate import confine_code_dir, resolve_loader_module

    r = Path(root)
    out: list[FileExecution] = []
    codes = sorted({c for c in (conf.get("code") for conf in model.flavors.values()) if c})
    for code in codes:
        try:
            path = confine_code_dir(r, code)
            n = sum(1 for p in path.rglob("*") if p.is_file() and p.suffix in (".py", ".pyc", ".so")) if path \
                else 0
            out.append(FileExecution(f"{code}/", f"code/: python modules imported ({n} module files)", True))
        except TureenError as exc:
            out.append(FileExecution(f"{code}/", f"refused at load: {exc.message}", True))
    pyfunc = model.flavors.get("python_function")
    if pyfunc is not None:
        loader = pyfunc.get("loader_module")
        try:
            target = resolve_loader_module(loader)
            out.append(FileExecution("MLmodel:python_function.loader_module",
                                     f"{loader} -> {target} (allow-listed tureen loader)", False))
        except TureenError as exc:
            out.append(FileExecution("MLmodel:python_function.loader_module", f"refused at load: {exc.message}",
                                     True))
    torch_conf = model.flavors.get("pytorch") or {}
    if torch_conf.get("serialization_format") == "state_dict" and torch_conf.get("model_class"):
        out.append(FileExecution("MLmodel:pytorch.model_class",
                                 f"imports {torch_conf['model_class']} (gated unless already imported)", True))
    skip = {f"{c}" for c in codes}
    named = _named_pickles(model)
    for dirpath, dirnames, filenames in os.walk(r):
        rel_dir = Path(dirpath).relative_to(r).as_posix()
        if rel_dir != "." and rel_dir.split("/")[0] in skip:
            dirnames[:] = []
            continue
        dirnames.sort()
        for fname in sorted(filenames):
            rel = fname if rel_dir == "." else f"{rel_dir}/{fname}"
            if os.path.islink(os.path.join(dirpath, fname)):
                out.append(FileExecution(rel, "symlink: refused", True))
                continue
            entry = _classify(r, rel)
            if rel in named and not entry.gated:
                entry = FileExecution(rel, f"pickle ({named[rel]}): arbitrary code", True)
            out.append(entry)
    return out


def _named_pickles(model: Any) -> dict[str, str]:
    """Files the MLmodel tells a loader to unpickle, whatever their content looks like."""
    out: dict[str, str] = {}
    for name, conf in model.flavors.items():
        fmt = str(conf.get("serialization_format") or "")
        if name == "sklearn" and fmt != "skops" and conf.get("pickled_model"):
            out[str(conf["pickled_model"])] = "sklearn " + (fmt or "pickle")
        if name == "lightgbm" and fmt not in ("skops", "") and conf.get("data"):
            out[str(conf["data"])] = "lightgbm " + fmt
        if name == "python_function" and conf.get("python_model"):
            out[str(conf["python_model"])] = "custom python model"
    return {PurePosixPath(k).as_posix(): v for k, v in out.items()}
