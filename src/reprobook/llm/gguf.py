"""Reading a GGUF file and converting it into an ordinary Hugging Face model folder.

Explained in :mod:`reprobook.llm.loading`, which calls :func:`convert_gguf` once per registry model and
keys the converted folder by :func:`conversion_key`. transformers' own loader
(``AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)``) gives the same weights and config
(tested in ``tests/test_llm.py``), but for most architectures it reads the config and the weights through
``gguf.GGUFReader``, which decodes the GGUF's whole metadata, the vocabulary included, each time (about
20 s of one CPU thread for Gemma-3's 262k tokens). Here the config comes from transformers' fast metadata
reader, which leaves the vocabulary undecoded (:func:`gguf_config`), what transformers still parses is
parsed once (:func:`gguf_read_once`), and the weights are read from the tensor table directly
(:func:`gguf_tensors`).

``gguf`` and ``transformers`` are imported inside the functions (the package's rule for libraries that take
seconds to import: ``banned-module-level-imports`` in ``pyproject.toml``).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..cache import syntax_tree


# --------------------------------------------------------------------------------------------- reading a GGUF
@contextlib.contextmanager
def gguf_read_once() -> Iterator[None]:
    """Within the block, what transformers builds from a GGUF again and again is built once and shared.

    transformers parses a GGUF's metadata (``load_gguf_checkpoint`` through a new ``gguf.GGUFReader``)
    for each thing it takes from the file: the tokenizer looks up the model type, the config reads its
    settings, the weights read everything again. Building a reader decodes every metadata field, the
    whole vocabulary included: about 20 s of one CPU thread for Gemma-3's 262k tokens. Its GGUF →
    transformers name map builds gguf's ``TensorNameMap`` once per submodule of the model (hundreds,
    all the same). transformers imports these functions when it calls them, so replacing the modules'
    attributes for the block parses a file once (metadata only: a call that asks for tensors is not
    shared) and builds one name map per architecture; each caller gets its own copy of the metadata. For
    the architectures :func:`gguf_config` covers, the parse is its config, and no ``GGUFReader`` is built.
    """
    import gguf
    import transformers.modeling_gguf_pytorch_utils as hf_gguf

    reader_class, name_map, metadata = gguf.GGUFReader, gguf.get_tensor_name_map, hf_gguf.load_gguf_checkpoint
    readers: dict[tuple[str, str], Any] = {}
    maps: dict[tuple[Any, int], Any] = {}
    parsed: dict[str, Any] = {}

    def shared_reader(path: Any, mode: Literal["r", "r+", "c"] = "r") -> Any:
        key = (os.path.realpath(os.fspath(path)), mode)
        if key not in readers:
            readers[key] = reader_class(path, mode)
        return readers[key]

    def shared_name_map(arch: Any, n_blocks: int) -> Any:
        if (arch, n_blocks) not in maps:
            maps[arch, n_blocks] = name_map(arch, n_blocks)
        return maps[arch, n_blocks]

    def shared_metadata(path: Any, return_tensors: bool = False, *args: Any, **kwargs: Any) -> Any:
        if return_tensors or args or kwargs:
            return metadata(path, return_tensors, *args, **kwargs)
        key = os.path.realpath(os.fspath(path))
        if key not in parsed:
            # transformers asks this function only for the config when it reads a tokenizer or a config
            config = gguf_config(path)
            parsed[key] = metadata(path) if config is None else {"config": config}
        return copy.deepcopy(parsed[key])

    # patching library functions (and a class) for the block: their types cannot follow
    gguf.GGUFReader, gguf.get_tensor_name_map = shared_reader, shared_name_map  # type: ignore[misc, assignment]
    hf_gguf.load_gguf_checkpoint = shared_metadata  # type: ignore[assignment]
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader_class, name_map  # type: ignore[misc]
        hf_gguf.load_gguf_checkpoint = metadata


# architectures whose config transformers' GGUF loader derives by its name tables alone (no case of its own)
PLAIN_CONFIG_ARCHITECTURES = ("llama", "gemma3")


def gguf_config(gguf: Any) -> dict[str, Any] | None:
    """The model config transformers' GGUF loader derives from ``gguf`` (``load_gguf_checkpoint(gguf)
    ["config"]``), read by transformers' fast metadata reader, which leaves the vocabulary undecoded (0.1 s
    against ~20 s for Gemma-3's 262k tokens); None for an architecture outside
    :data:`PLAIN_CONFIG_ARCHITECTURES` (or a Mistral file, which the loader relabels), whose config the
    loader's own reading must give.

    The loader's steps: ``tie_word_embeddings`` when the file has no ``output.weight``, the architecture's
    defaults, every metadata key its name table (``GGUF_CONFIG_MAPPING``) renames (a one-element value
    unwrapped), the vocabulary size from the vocabulary's length when the table gives none, and Gemma-3's
    model type for its text backbone. ``tests/test_llm.py`` compares the result with transformers' own
    loading.
    """
    from transformers.integrations.ggml import GGUF_CONFIG_DEFAULTS_MAPPING, GGUF_CONFIG_MAPPING
    from transformers.integrations.gguf.reader import read_gguf_metadata

    metadata, tensor_names = read_gguf_metadata(os.fspath(gguf))
    architecture = metadata["general.architecture"]
    if architecture not in PLAIN_CONFIG_ARCHITECTURES or "mistral" in str(metadata.get("general.name", "")).lower():
        return None
    config: dict[str, Any] = {"tie_word_embeddings": "output.weight" not in tensor_names}
    for name, value in GGUF_CONFIG_DEFAULTS_MAPPING.get(architecture, {}).items():
        config.setdefault(name, value)
    tables: dict[str, Any] = GGUF_CONFIG_MAPPING  # prefix → {GGUF key → config name, None or -1: not kept}
    for key, value in metadata.items():
        prefix, _, rest = key.partition(".")
        renamed = tables.get(prefix, {}).get(rest)
        if renamed is not None and renamed != -1:
            config[renamed] = value[0] if isinstance(value, list) and len(value) == 1 else value
    if "vocab_size" not in config:
        config["vocab_size"] = metadata["tokenizer.ggml.tokens"]  # the fast reader gives a string array's length
    if config.get("model_type") == "gemma3":
        config["model_type"] = "gemma3_text"  # the file holds the text backbone only
    return config


def gguf_tensors(gguf: Path) -> Iterator[tuple[str, int, Any]]:
    """``(name, ggml type, stored data)`` of each tensor of ``gguf``, the data exactly as ``gguf.GGUFReader``
    exposes it (plain numbers in the tensor's shape, or the raw bytes of its quantised blocks row by row,
    what ``gguf.dequantize`` takes), without decoding the metadata.

    transformers' GGUF header reader finds the tensor table by walking over the metadata, string arrays
    (the vocabulary) skipped by their lengths; the data section starts at the next multiple of the
    file's alignment, and each tensor's bytes come from gguf's block sizes, as in ``gguf.GGUFReader``.
    """
    from gguf import GGML_QUANT_SIZES
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import quant_shape_to_byte_shape
    from transformers.integrations.gguf.reader import _read_metadata, _read_tensor_table

    blob = np.memmap(gguf, mode="r", dtype=np.uint8)
    metadata, count, pos = _read_metadata(blob, os.fspath(gguf))
    entries, pos = _read_tensor_table(blob, count, pos)
    alignment = int(metadata.get("general.alignment", 32))
    start = (pos + alignment - 1) // alignment * alignment
    plain = {
        Q.F32: np.float32,
        Q.F16: np.float16,
        Q.F64: np.float64,
        Q.I8: np.int8,
        Q.I16: np.int16,
        Q.I32: np.int32,
        Q.I64: np.int64,
    }
    for name, shape, ggml_type, offset in entries:
        kind = Q(ggml_type)
        block, size = GGML_QUANT_SIZES[kind]
        raw = blob[start + offset : start + offset + math.prod(shape) * size // block]
        data = (
            raw.view(plain[kind]).reshape(shape)
            if kind in plain
            else raw.reshape(quant_shape_to_byte_shape(shape, kind))
        )
        yield name, int(kind), data


def gguf_state_dict(gguf: Path, model: Any) -> dict[str, Any]:
    """The de-quantised float32 tensors of ``gguf`` under the parameter names of ``model`` (its
    architecture; a model on the meta device will do), without decoding the GGUF's vocabulary.

    The steps of transformers' GGUF loader (``load_gguf_checkpoint``), tensor by tensor:
    ``gguf.dequantize``, then the architecture's ``TensorProcessor`` (Llama's rotary permutation of q and
    k undone, Gemma's norms shifted by one) and the GGUF → transformers name map. Only the way to the
    tensors differs (:func:`gguf_tensors`): transformers' loader decodes every metadata field first,
    which made each read of Gemma-3's GGUF cost ~20 s.
    """
    from gguf import dequantize
    from transformers.integrations.gguf.reader import read_gguf_metadata
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor, get_gguf_hf_weights_map

    config = model.config.to_dict()
    architecture = read_gguf_metadata(os.fspath(gguf))[0]["general.architecture"]
    processor = TENSOR_PROCESSORS.get(architecture, TensorProcessor)(config=config)
    with gguf_read_once():  # one name map for the architecture, not one per submodule
        names = get_gguf_hf_weights_map(model, processor)
    parsed: dict[str, Any] = {"config": config, "tensors": {}}  # what the processors read and may write into
    for name, kind, data in gguf_tensors(gguf):
        # gguf types qtype as GGMLQuantizationType; the int code of one (an IntEnum) compares and hashes alike
        result = processor.process(
            weights=dequantize(data, kind),  # type: ignore[arg-type]
            name=name,
            tensor_key_mapping=names,
            parsed_parameters=parsed,
        )
        if result.name in names:
            parsed["tensors"][names[result.name]] = torch.from_numpy(np.copy(result.weights))
    return parsed["tensors"]


# --------------------------------------------------------------------------------------------- conversion
def write_tokenizer_dir(gguf: Path, out_dir: Path) -> None:
    """Save the tokenizer and the model config of ``gguf`` into ``out_dir``: transformers reads both from
    the GGUF, here through one shared read of the file (:func:`gguf_read_once`)."""
    from transformers import AutoConfig, AutoTokenizer

    with gguf_read_once():
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out_dir)
        AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out_dir)


def convert_gguf(gguf: Path, out_dir: Path, tokenizer_dir: Path | None = None) -> None:
    """De-quantise ``gguf`` and save an ordinary model folder (float32 safetensors, config, tokenizer)
    into ``out_dir``.

    The tokenizer and config come from ``tokenizer_dir``, a folder :func:`write_tokenizer_dir` saved from
    the same GGUF (written into ``out_dir`` first when None), and the weights from
    :func:`gguf_state_dict`: the GGUF's vocabulary is decoded once, for the tokenizer, and never for the
    weights. The model is built by transformers from the config and those tensors (tied weights tied,
    the generation config derived from the config) and saved; nothing quantised stays attached to it.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    if tokenizer_dir is None:
        write_tokenizer_dir(gguf, out_dir)
        tokenizer_dir = out_dir
    config = AutoConfig.from_pretrained(tokenizer_dir)
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    tensors = gguf_state_dict(gguf, skeleton)
    model_class = type(skeleton)
    del skeleton
    model = model_class.from_pretrained(None, config=config, state_dict=tensors, dtype=torch.float32)
    model.save_pretrained(out_dir)
    if Path(tokenizer_dir).resolve() != out_dir.resolve():
        for path in sorted(Path(tokenizer_dir).iterdir()):
            if path.is_file() and path.name != "config.json":
                shutil.copyfile(path, out_dir / path.name)


def source_key(gguf_sha256: str, *functions: Any) -> str:
    """16 hex digits of sha256(the GGUF's checksum + the syntax tree of ``functions``' source,
    :func:`reprobook.cache.syntax_tree`): reformatting the code or editing a comment leaves the key, and so the
    converted folder in the cache, as it was; a change to what the code does gives a new key."""
    text = gguf_sha256 + "".join(syntax_tree(inspect.getsource(f)) for f in functions)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tokenizer_key(gguf_sha256: str) -> str:
    """The key of a tokenizer folder: the GGUF's checksum and the source of the functions that read it."""
    return source_key(gguf_sha256, write_tokenizer_dir, gguf_read_once, gguf_config)


def conversion_key(gguf_sha256: str) -> str:
    """The key of a converted folder: the GGUF's checksum and the source of every function the conversion
    runs. A new GGUF or a change to the conversion converts again, nothing else does."""
    return source_key(
        gguf_sha256, convert_gguf, gguf_state_dict, gguf_tensors, write_tokenizer_dir, gguf_read_once, gguf_config
    )
