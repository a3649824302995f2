"""The records the registry is made of: `FileSpec` (one expected file), `DataEntry` (one dataset or model) and
`Source`, what the registry needs of a place to get an entry from (the kinds of source: :mod:`.sources`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ..checks import ParameterError


@dataclass(frozen=True)
class FileSpec:
    """A file an entry materialises: its path relative to the entry folder, sha256 and size in bytes."""

    path: str
    sha256: str
    size: int


def file_specs(files: Mapping[str, tuple[str, int]] | Iterable[FileSpec]) -> tuple[FileSpec, ...]:
    """Build a tuple of FileSpec from ``{path: (sha256, size)}`` (or pass FileSpecs through)."""
    if isinstance(files, Mapping):
        return tuple(FileSpec(p, h, int(s)) for p, (h, s) in files.items())
    return tuple(files)


@dataclass(frozen=True)
class DataEntry:
    """One named dataset or model.

    ``files`` are the files every source must yield (a source may declare its own ``files`` when its bytes
    differ). ``loader(folder, **kw)`` turns the verified folder into something useful. Entries with
    ``external`` set (e.g. ``"torchvision:CIFAR10"``) are not files in our cache: fetching and checking is
    delegated to that library, and the loader receives the library's root folder.
    """

    name: str
    description: str
    licence: str
    homepage: str
    kind: Literal["dataset", "model"]
    sources: tuple[Source, ...] = ()
    files: tuple[FileSpec, ...] = ()
    loader: Callable[..., Any] | str | None = None
    offline: bool = True
    profiles: tuple[str, ...] = ("smoke",)
    external: str | None = None
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("dataset", "model"):
            raise ParameterError("kind", self.kind, f"'dataset' or 'model' (data entry {self.name!r})")
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "files", file_specs(self.files))
        object.__setattr__(self, "profiles", tuple(self.profiles))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def resolve_loader(self) -> Callable[..., Any] | None:
        """The loader as a callable (``"module:function"`` strings are imported on first use)."""
        if self.loader is None or callable(self.loader):
            return self.loader
        module, _, attr = self.loader.partition(":")
        if not attr:
            module, attr = f"{__package__}.formats", module
        return getattr(importlib.import_module(module), attr)


@runtime_checkable
class Source(Protocol):
    """What the registry needs from a source."""

    @property
    def files(self) -> tuple[FileSpec, ...] | None: ...

    @property
    def label(self) -> str: ...

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None: ...

    def hint(self) -> str: ...
