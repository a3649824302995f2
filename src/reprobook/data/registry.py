"""Fetch, verify and load registry entries into ``cache_dir()/data/<name>/``.

A fetch tries the entry's sources in order. Each source writes into a temporary folder inside the entry
folder; every file is hashed there, and only when all match are they renamed into place, so a partial or
corrupted download is never used and never replaces a good copy. A stamp (``.verified.json``: source,
and sha256, size and mtime per file) lets later calls skip re-hashing files whose size and mtime are
unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import ParameterError
from ..paths import cache_dir
from ..results import atomic_write_text
from . import formats
from . import sources as _sources
from .errors import ChecksumError, DataUnavailableError, UnknownDataError, format_failures
from .spec import DataEntry, FileSpec

STAMP = ".verified.json"
_REGISTRY: dict[str, DataEntry] = {}


# --------------------------------------------------------------------------------------------- registry
def register(entry: DataEntry, *, replace: bool = False) -> DataEntry:
    if entry.name in _REGISTRY and not replace:
        raise ParameterError("name", entry.name, "a name no other data entry has (this one is already registered)")
    _REGISTRY[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str | DataEntry) -> DataEntry:
    """The entry called ``name`` (UnknownDataError, a KeyError and ValueError, lists the allowed names)."""
    if isinstance(name, DataEntry):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownDataError(name, _REGISTRY) from None


def entries_offline() -> list[str]:
    """Names of the entries available offline on these machines (what the smoke profile may use)."""
    return [n for n in names() if _REGISTRY[n].offline]


def entries_for_profile(profile: str) -> list[str]:
    return [n for n in names() if profile in _REGISTRY[n].profiles]


def entry_dir(name: str | DataEntry) -> Path:
    entry = get(name)
    if entry.external:
        return cache_dir() / entry.external.split(":", 1)[0]
    return cache_dir() / "data" / entry.name


def _select(names_: str | DataEntry | Iterable[str | DataEntry] | None, default: list[str]) -> list[DataEntry]:
    if names_ is None:
        return [get(n) for n in default]
    if isinstance(names_, (str, DataEntry)):
        names_ = [names_]
    return [get(n) for n in names_]


# --------------------------------------------------------------------------------------------- stamps
def _read_stamp(folder: Path) -> dict[str, Any]:
    try:
        stamp = json.loads((folder / STAMP).read_text())
        if isinstance(stamp, dict) and isinstance(stamp.get("files"), dict):
            return stamp
    except (OSError, ValueError):
        pass
    return {"source": None, "files": {}}


def _write_stamp(folder: Path, source: str | None, records: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(folder / STAMP, json.dumps({"source": source, "files": records}, indent=1, sort_keys=True))


def _record(path: Path, sha256: str) -> dict[str, Any]:
    st = path.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------- checking
@dataclass
class Check:
    ok: bool
    source: str | None = None
    problems: list[str] = field(default_factory=list)
    present: int = 0


def _candidates(entry: DataEntry, stamp_source: str | None) -> list[tuple[str | None, tuple[FileSpec, ...]]]:
    """File lists to check against: the stamped source's first, then the entry's, then other sources'."""
    out: list[tuple[str | None, tuple[FileSpec, ...]]] = []
    for src in entry.sources:
        if src.label == stamp_source:
            out.append((src.label, _sources.expected_files(entry, src)))
    out.append((stamp_source, entry.files))
    out.extend((s.label, s.files) for s in entry.sources if s.files and s.label != stamp_source)
    seen, unique = set(), []
    for label, specs in out:
        if specs and specs not in seen:
            seen.add(specs)
            unique.append((label, specs))
    return unique


def _check(entry: DataEntry, folder: Path, *, quick: bool) -> Check:
    """Compare the cached files with the expected checksums; ``quick`` trusts stamped size+mtime."""
    stamp = _read_stamp(folder)
    stamped = stamp["files"]
    first: Check | None = None
    for label, specs in _candidates(entry, stamp.get("source")):
        problems: list[str] = []
        records: dict[str, dict[str, Any]] = {}
        present = 0
        for spec in specs:
            p = folder / spec.path
            if not p.is_file():
                problems.append(f"{spec.path}: missing")
                continue
            present += 1
            st = p.stat()
            rec = stamped.get(spec.path)
            if (
                quick
                and rec
                and rec.get("sha256") == spec.sha256
                and rec.get("size") == st.st_size
                and rec.get("mtime_ns") == st.st_mtime_ns
            ):
                records[spec.path] = rec
                continue
            if st.st_size != spec.size:
                problems.append(f"{spec.path}: size {st.st_size}, expected {spec.size}")
                continue
            actual = _sources.sha256_file(p)
            if actual != spec.sha256:
                problems.append(f"{spec.path}: sha256 {actual}, expected {spec.sha256}")
                continue
            records[spec.path] = _record(p, actual)
        if not problems:
            if records != stamped or label != stamp.get("source"):
                _write_stamp(folder, label, records)
            return Check(True, label, [], present)
        if first is None:
            first = Check(False, label, problems, present)
    if first is None:  # an entry without files
        return Check(True, stamp.get("source"))
    return first


# --------------------------------------------------------------------------------------------- fetching
@dataclass(frozen=True)
class FetchResult:
    name: str
    path: Path
    source: str | None
    fetched: bool  # False when the verified copy was already there


def _clean_tmp(folder: Path) -> None:
    for leftover in folder.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _try_source(entry: DataEntry, folder: Path, src: _sources.Source) -> None:
    specs = _sources.expected_files(entry, src)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        src.materialise(entry, tmp)
        hashes = {}
        for spec in specs:
            p = tmp / spec.path
            if not p.is_file():
                raise DataUnavailableError(entry.name, message=f"did not provide {spec.path}")
            actual = _sources.sha256_file(p)
            if actual != spec.sha256:
                raise ChecksumError(f"{entry.name}/{spec.path}", spec.sha256, actual, source=src.label)
            hashes[spec.path] = actual
        records = {}
        for spec in specs:  # everything matched: move into place
            dest = folder / spec.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / spec.path, dest)
            records[spec.path] = _record(dest, hashes[spec.path])
        _write_stamp(folder, src.label, records)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fetch_external(entry: DataEntry, *, force: bool) -> FetchResult:
    root = entry_dir(entry)
    try:
        formats.torchvision_download(entry, root)
    except Exception as exc:  # network errors come in many types
        raise formats.torchvision_unavailable(entry, root, exc) from exc
    return FetchResult(entry.name, root, entry.external, True)


def _fetch_one(entry: DataEntry, *, force: bool) -> FetchResult:
    if entry.external:
        return _fetch_external(entry, force=force)
    folder = entry_dir(entry)
    with _locked(folder):
        _clean_tmp(folder)
        if not force:
            state = _check(entry, folder, quick=True)
            if state.ok:
                return FetchResult(entry.name, folder, state.source, False)
        failures: list[tuple[str, str]] = []
        checksum_errors: list[ChecksumError] = []
        for src in entry.sources:
            try:
                _try_source(entry, folder, src)
            except ChecksumError as exc:
                checksum_errors.append(exc)
                failures.append((src.label, str(exc)))
            except Exception as exc:  # a failing source must not stop the next one
                reason = str(exc) if isinstance(exc, DataUnavailableError) else f"{type(exc).__name__}: {exc}"
                failures.append((src.label, reason))
            else:
                return FetchResult(entry.name, folder, src.label, True)
        hints = [src.hint() for src in entry.sources]
        if checksum_errors:
            e = checksum_errors[0]
            raise ChecksumError(
                e.file, e.expected, e.actual, source=e.source, extra=format_failures(entry.name, failures, hints)
            )
        raise DataUnavailableError(entry.name, failures, hints)


def fetch(names: str | Iterable[str] | None = None, *, force: bool = False) -> list[FetchResult]:
    """Materialise and verify entries (default: every offline entry). Already-verified entries are skipped
    unless ``force``; a failed forced fetch leaves the earlier copy in place."""
    return [_fetch_one(e, force=force) for e in _select(names, entries_offline())]


def verify(names: str | Iterable[str] | None = None) -> dict[str, str]:
    """Re-hash every cached file. Status per name: ``ok``, ``missing``, ``incomplete: ...``, ``corrupt: ...``
    (external entries: ``external ok`` / ``external missing: ...``)."""
    out: dict[str, str] = {}
    for entry in _select(names, sorted(_REGISTRY)):
        if entry.external:
            out[entry.name] = formats.torchvision_status(entry, entry_dir(entry))
            continue
        folder = entry_dir(entry)
        if not folder.is_dir():
            out[entry.name] = "missing"
            continue
        with _locked(folder):
            state = _check(entry, folder, quick=False)
            if state.ok:
                out[entry.name] = "ok"
                continue
            (folder / STAMP).unlink(missing_ok=True)  # never trust this copy's stamp again
        if state.present == 0:
            out[entry.name] = "missing"
        elif all(p.endswith(": missing") for p in state.problems):
            out[entry.name] = "incomplete: " + "; ".join(state.problems)
        else:
            out[entry.name] = "corrupt: " + "; ".join(state.problems)
    return out


def path(name: str | DataEntry) -> Path:
    """The entry's folder, fetching it first if it is missing or fails the (stamp-assisted) check."""
    return _fetch_one(get(name), force=False).path


def load(name: str | DataEntry, **kwargs: Any) -> Any:
    """Call the entry's loader on its verified folder (see each entry's description for the keywords)."""
    entry = get(name)
    loader = entry.resolve_loader()
    if loader is None:
        return path(entry)
    if entry.external:
        return loader(entry, entry_dir(entry), **kwargs)
    return loader(path(entry), **kwargs)


def _cached_state(entry: DataEntry) -> str:
    if entry.external:
        return "external"
    folder = entry_dir(entry)
    stamp = _read_stamp(folder)["files"]
    if not stamp:
        return "present" if folder.is_dir() and any(folder.iterdir()) else "missing"
    for spec in entry.files:
        p, rec = folder / spec.path, stamp.get(spec.path)
        if not p.is_file() or not rec:
            return "incomplete"
        st = p.stat()
        if (rec.get("size"), rec.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
            return "changed"
    return "verified"


def list_entries() -> list[DataEntry]:
    """Every entry, sorted by name (attributes: name, kind, offline, licence, description, ...)."""
    return [_REGISTRY[n] for n in names()]


def table_rows() -> list[dict[str, Any]]:
    """One dict per entry for a table (``cached`` comes from the stamp; nothing is hashed)."""
    rows: list[dict[str, Any]] = []
    for n in names():
        e = _REGISTRY[n]
        rows.append(
            {
                "name": e.name,
                "kind": e.kind,
                "offline": e.offline,
                "profiles": ",".join(e.profiles),
                "size_mb": round(e.size / 1e6, 1),
                "files": len(e.files),
                "licence": e.licence,
                "homepage": e.homepage,
                "sources": [s.label for s in e.sources] or [e.external],
                "cached": _cached_state(e),
                "description": e.description,
            }
        )
    return rows


def format_table(
    rows: list[dict[str, Any]] | None = None,
    columns: tuple[str, ...] = ("name", "kind", "offline", "size_mb", "cached", "licence"),
) -> str:
    """A plain-text table of ``table_rows()``."""
    rows = table_rows() if rows is None else rows
    cells = [[str(r[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells)
    return "\n".join(lines)
