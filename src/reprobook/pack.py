"""A pack: what the GPU check needs, in one file of at most 64 MiB, for a machine without a network.

    reprobook data pack [--out reprobook-pack.tar] [NAME ...]     # here, where the data is
    reprobook data unpack reprobook-pack.tar                      # there, before `reprobook gpu-check`

:func:`pack` writes a tar of gzip-compressed copies of verified registry entries (by default
:data:`DEFAULT_ENTRIES`: FashionMNIST, the offline CIFAR-10 test set, whose 10,000 images are the GPU
check's CIFAR-10, and the HHH pairs its language-model stage trains on) and of the offline tokenizer
of the dry-run stand-in models (:data:`reprobook.llm.loading.STAND_IN_TOKENIZER`; the SmolLM2 and Gemma
GGUFs themselves, 94 and 242 MB, do not fit, so the language-model stage trains a stand-in of a paper
model's architecture). A ``manifest.json`` lists every file with its sha256 and size. :func:`unpack`
writes the files where the registry and the loaders look (``cache_dir()/data/<name>``,
``cache_dir()/llm/tokenizers``), checks every sha256, and has the registry verify each entry, so the
unpacked copy is used exactly like a fetched one.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, cast

from .checks import ParameterError
from .data import registry
from .data.errors import ChecksumError
from .llm import loading
from .paths import cache_dir

MAX_BYTES = 64 * 2**20  # 64 MiB
DEFAULT_ENTRIES = ("fashion-mnist", "cifar10-test", "hhh-alignment")
MANIFEST = "manifest.json"
DEFAULT_NAME = "reprobook-pack.tar"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _stand_in_tokenizer_dir() -> tuple[str, Path]:
    """The cache-relative folder and path of the stand-in models' tokenizer (written from its GGUF if needed)."""
    folder = loading._saved_tokenizer_dir(loading.STAND_IN_TOKENIZER)
    return folder.relative_to(cache_dir()).as_posix(), folder


def pack(
    out: Path | str = DEFAULT_NAME,
    names: Iterable[str] | None = None,
    *,
    tokenizer: bool = True,
    max_bytes: int = MAX_BYTES,
    level: int = 6,
) -> dict:
    """Write the pack to ``out`` (a tar) and return its manifest; refuse (ParameterError) when it would exceed
    ``max_bytes``. Each entry is fetched and verified first."""
    names = list(DEFAULT_ENTRIES if names is None else names)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "entries": {}, "folders": {}}
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with tarfile.open(tmp, "w") as tar:
            for name in names:
                entry = registry.get(name)
                if entry.external:
                    raise ParameterError("names", name, "registry entries with files of their own (not torchvision's)")
                folder = registry.path(name)
                files = {}
                for spec in entry.files:
                    raw = (folder / spec.path).read_bytes()
                    _add(tar, f"data/{name}/{spec.path}.gz", gzip.compress(raw, compresslevel=level, mtime=0))
                    files[spec.path] = {"sha256": _sha256(raw), "size": len(raw)}
                manifest["entries"][name] = files
            if tokenizer:
                relative, folder = _stand_in_tokenizer_dir()
                files = {}
                for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
                    raw = path.read_bytes()
                    _add(tar, f"{relative}/{path.name}.gz", gzip.compress(raw, compresslevel=level, mtime=0))
                    files[path.name] = {"sha256": _sha256(raw), "size": len(raw)}
                manifest["folders"][relative] = files
            _add(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        size = tmp.stat().st_size
        if size > max_bytes:
            raise ParameterError(
                "names",
                names,
                f"entries that fit in {max_bytes / 2**20:.0f} MiB together (this pack is {size / 2**20:.1f} MiB)",
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    manifest["bytes"] = out.stat().st_size
    return manifest


def unpack(path: Path | str) -> dict:
    """Install the pack at ``path`` into ``cache_dir()``: every file checked against the manifest's sha256,
    each entry then verified by the registry. Returns the manifest."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError("pack", str(path), "a pack written by `reprobook data pack` (a .tar file)")
    with tarfile.open(path) as tar:
        # the pack's members are regular files (extractfile gives None only for other member types)
        manifest = json.loads(cast(IO[bytes], tar.extractfile(MANIFEST)).read())
        targets = [
            (f"data/{name}/{file}", cache_dir() / "data" / name / file, meta)
            for name, files in manifest["entries"].items()
            for file, meta in files.items()
        ]
        targets += [
            (f"{folder}/{file}", cache_dir() / folder / file, meta)
            for folder, files in manifest["folders"].items()
            for file, meta in files.items()
        ]
        for member, dest, meta in targets:
            raw = gzip.decompress(cast(IO[bytes], tar.extractfile(member + ".gz")).read())
            if _sha256(raw) != meta["sha256"]:
                raise ChecksumError(member, meta["sha256"], _sha256(raw), source=str(path))
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".unpack-", delete=False) as handle:
                handle.write(raw)
            os.replace(handle.name, dest)
    for folder in manifest["folders"]:  # a tokenizer folder is complete when its config.json is there
        if not (cache_dir() / folder / "config.json").is_file():
            shutil.rmtree(cache_dir() / folder, ignore_errors=True)
            raise ParameterError("pack", str(path), f"a pack whose {folder} has a config.json")
    for name in manifest["entries"]:
        registry.path(name)  # hashes the files against the registry's checksums and stamps them
    return manifest
