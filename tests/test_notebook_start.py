"""What a chapter's first cell does: parameter checks, the cache folder, threads, the record."""

import os

import pytest
import torch

from reprobook.notebook import show_source, start
from reprobook.profiles import ParameterError


@pytest.fixture(autouse=True)
def keep_threads():
    """start() sets torch's thread count for the process; give the other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_start_checks_parameters():
    with pytest.raises(ParameterError, match="'profile'"):
        start("demo", profile="full", seed=0)
    with pytest.raises(ParameterError, match="'seed'"):
        start("demo", profile="smoke", seed=-3)
    with pytest.raises(ParameterError, match="'device'"):
        start("demo", profile="smoke", seed=0, device="gpu0")
    with pytest.raises(ParameterError, match="'data_dir'"):
        start("demo", profile="smoke", seed=0, data_dir=3)


def test_start_moves_the_cache_and_records_the_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROBOOK_CACHE", "/nowhere")
    monkeypatch.setenv("REPROBOOK_THREADS", "1")
    session = start("demo", profile="smoke", seed=5, device="cpu", data_dir=str(tmp_path / "cache"))
    assert os.environ["REPROBOOK_CACHE"] == str((tmp_path / "cache").resolve())
    assert session.device == torch.device("cpu") and session.threads == 1 == torch.get_num_threads()
    assert session.record.params == {
        "profile": "smoke",
        "seed": 5,
        "device": "cpu",
        "data_dir": str(tmp_path / "cache"),
    }
    first = torch.rand(1).item()
    start("demo", profile="smoke", seed=5, device="cpu")
    assert torch.rand(1).item() == first  # seeded


def test_show_source_names_the_helper():
    from reprobook.sharpness import filter_wise_noise

    text = show_source(filter_wise_noise).data
    assert text.startswith("`reprobook.sharpness.rwp.filter_wise_noise`")
    assert "def filter_wise_noise" in text
