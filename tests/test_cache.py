"""Cache keys (reprobook.cache): a key follows what produced an artefact and nothing else."""

import os

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from reprobook import cache
from reprobook.checks import ParameterError


def test_json_key_reads_content_not_order():
    assert cache.json_key({"a": 1, "b": [1, 2]}) == cache.json_key({"b": [1, 2], "a": 1})
    assert cache.json_key({"a": 1}) != cache.json_key({"a": 2})
    assert len(cache.json_key({"a": 1}, length=20)) == 20
    # the JSON's spelling is part of the key: each caller keeps the spelling its cached files were named with
    assert cache.json_key(["é"], ascii_only=False) != cache.json_key(["é"])
    assert cache.json_key([1, 2], compact=False) != cache.json_key([1, 2])


def test_tensor_fingerprint_reads_shape_and_bytes_from_torch_or_numpy():
    x = torch.arange(6, dtype=torch.float32)
    assert cache.tensor_fingerprint(x) == cache.tensor_fingerprint(x.numpy())
    assert cache.tensor_fingerprint(x) != cache.tensor_fingerprint(x.reshape(2, 3))
    assert cache.tensor_fingerprint(x) != cache.tensor_fingerprint(x + 1)
    assert cache.tensor_fingerprint(x, x) != cache.tensor_fingerprint(x)


def test_dataset_fingerprint_follows_the_subset_and_the_parent():
    base = TensorDataset(torch.arange(8.0).reshape(4, 2), torch.arange(4))
    assert cache.dataset_fingerprint(Subset(base, [0, 1])) != cache.dataset_fingerprint(Subset(base, [1, 0]))
    other = TensorDataset(torch.arange(8.0).reshape(4, 2) * 2, torch.arange(4))
    assert cache.dataset_fingerprint(Subset(base, [0, 1])) != cache.dataset_fingerprint(Subset(other, [0, 1]))

    class Vision:  # torchvision's layout
        def __init__(self, data):
            self.data, self.targets = data, [0] * len(data)

    assert cache.dataset_fingerprint(Vision(np.zeros((2, 3)))) != cache.dataset_fingerprint(Vision(np.ones((2, 3))))
    assert cache.dataset_fingerprint([1, 2]) != cache.dataset_fingerprint([1, 2, 3])  # length and type only


def test_code_fingerprint_reads_source_and_refuses_what_is_not_a_module(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "keyed_mod.py").write_text("x = 1\n")
    first = cache.code_fingerprint("keyed_mod")
    (tmp_path / "keyed_mod.py").write_text("x = 2\n")
    second = cache.code_fingerprint("keyed_mod")
    assert second != first
    (tmp_path / "keyed_mod.py").write_text("# a comment\nx = (\n    2\n)\n")  # the same code, laid out anew
    assert cache.code_fingerprint("keyed_mod") == second
    with pytest.raises(ParameterError, match="modules"):
        cache.code_fingerprint(42)


def test_folder_fingerprint_changes_with_a_file(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"ab")
    first = cache.folder_fingerprint(tmp_path)
    assert cache.folder_fingerprint(tmp_path) == first
    (tmp_path / "weights.bin").write_bytes(b"abc")
    os.utime(tmp_path / "weights.bin", ns=(1, 1))
    assert cache.folder_fingerprint(tmp_path) != first
