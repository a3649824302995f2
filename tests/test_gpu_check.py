"""The GPU check, ready before a GPU: the pack (<= 64 MiB, unpacked and verified where the registry looks) and
the whole check end to end on the CPU at its smallest size."""

import json
import tarfile

import pytest

from reprobook import data, gpu_check, pack
from reprobook.checks import ParameterError


def test_the_pack_fits_in_64_mib_and_unpacks_into_a_fresh_cache(tmp_path, monkeypatch):
    path = tmp_path / "reprobook-pack.tar"
    manifest = pack.pack(path)
    assert path.stat().st_size == manifest["bytes"] <= 64 * 2**20
    assert set(manifest["entries"]) == set(pack.DEFAULT_ENTRIES)
    assert len(manifest["folders"]) == 1  # the stand-in models' tokenizer
    with tarfile.open(path) as tar:
        assert "manifest.json" in tar.getnames()
    fresh = tmp_path / "fresh-cache"
    monkeypatch.setenv("REPROBOOK_CACHE", str(fresh))
    pack.unpack(path)
    assert data.verify(list(pack.DEFAULT_ENTRIES)) == {name: "ok" for name in pack.DEFAULT_ENTRIES}
    images, labels = data.load("cifar10-test")
    assert images.shape == (10000, 32, 32, 3) and len(set(labels.tolist())) == 10
    from reprobook.llm import loading

    tokenizer = loading.load_tokenizer(loading.STAND_IN_TOKENIZER)  # from the pack, without the GGUF
    assert len(tokenizer) > 1000 and not (fresh / "data" / "smollm2-135m-instruct-gguf").exists()


def test_a_pack_over_its_limit_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="MiB"):
        pack.pack(tmp_path / "small.tar", ["hhh-alignment"], tokenizer=False, max_bytes=1000)
    assert not (tmp_path / "small.tar").exists()


def test_a_corrupted_pack_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "p.tar"
    pack.pack(path, ["hhh-alignment"], tokenizer=False)
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    first = next(iter(manifest["entries"]["hhh-alignment"]))
    manifest["entries"]["hhh-alignment"][first]["sha256"] = "0" * 64
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(path, "w") as tar:
        for name, raw in members.items():
            pack._add(tar, name, raw)
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "cache"))
    with pytest.raises(data.ChecksumError):
        pack.unpack(path)


def test_machine_names_for_files():
    assert gpu_check.machine_slug({"device": "cuda (NVIDIA H200)", "device_type": "cuda"}) == "cuda-nvidia-h200"
    assert (
        gpu_check.machine_slug(
            {"device": "cpu", "device_type": "cpu", "cpu_model": "AMD EPYC 7763 64-Core Processor", "cpu_count": 2}
        )
        == "cpu-amd-epyc-7763-2-cores"
    )


def test_the_gpu_check_runs_end_to_end_on_the_cpu_at_its_smallest_size(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROBOOK_EXECUTED", str(tmp_path / "executed"))
    monkeypatch.setenv("REPROBOOK_RESULTS", str(tmp_path / "results"))
    lines = []
    path = gpu_check.run(device="cpu", size="smallest", out=tmp_path / "measurements", echo=lines.append)
    summary = json.loads(path.read_text())
    assert path.name.startswith("gpu-check-cpu-") and summary["machine"]["git_commit"]
    assert set(summary["seconds"]) == set(gpu_check.STEPS)
    methods = {row["method"] for row in summary["step_cost"]["table"]}
    assert len(methods) == 2 and summary["step_cost"]["settings"]["profile"] == "paper"
    assert summary["step_cost"]["settings"]["model"] == "resnet18_cifar"  # the paper profile's model
    assert (tmp_path / "measurements" / summary["step_cost"]["file"]).is_file()
    for notebook in gpu_check.NOTEBOOKS:
        entry = summary["part1"]["notebooks"][notebook]
        assert entry["status"] == "ok", entry["error"]
        assert entry["claims"] and all("power" in c for c in entry["claims"])
    rwp = json.loads((tmp_path / "results" / "gpu-check" / "rwp.json").read_text())
    assert rwp["params"]["profile"] == "smoke" and not rwp["dry_run"]
    llm = summary["llm_training"]
    assert llm["stand_in_for"] == gpu_check.LLM_MODEL and llm["config_class"] == "Qwen2Config"
    assert llm["steps"] == gpu_check.SIZES["smallest"]["llm"]["steps"] and llm["tokens_per_second"] > 0
