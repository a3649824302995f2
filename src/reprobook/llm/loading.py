"""Loading causal language models and their tokenizers: registry names, local folders, Hugging Face ids.

Explained in `notebooks/alignment/baichuan_alignment.ipynb` (and used by every LLM chapter).

A registry name (:data:`MODELS`) names a GGUF file of the data registry. transformers de-quantises a
GGUF into float32 weights on every load (seconds to minutes), so the first load converts it **once**
into an ordinary Hugging Face folder (safetensors, config, tokenizer) under
``cache_dir()/llm/converted/<name>-<key>``, where ``key`` hashes the GGUF's sha256 and the source of
every function the conversion runs: a new GGUF or a change to the conversion converts again, nothing
else does. Later loads read that folder (a fraction of a second for SmolLM2-135M).

The conversion decodes the GGUF's metadata (the vocabulary: 262k tokens for Gemma-3) once, for the
tokenizer and config, which it saves as a tokenizer folder (``cache_dir()/llm/tokenizers``, the one
:func:`load_tokenizer` reads, reused when it exists); the weights are read from the tensor table
without decoding the vocabulary again (:mod:`reprobook.llm.gguf`), with transformers' own de-quantisation
and tensor fixes, and give the same folder, byte for byte, as transformers' ``from_pretrained(...,
gguf_file=...)`` followed by ``save_pretrained``.

A local folder is loaded as it is; any other ``org/name`` string is a Hugging Face id (the paper
profile, where the network allows). :func:`tiny_causal_lm` builds a randomly initialised model of the
same architecture family with the *real* tokenizer and chat template, for the tiny profile and the tests.

A Hugging Face id is looked for first as a local copy, ``$REPROBOOK_MODELS/<org>/<name>`` (:data:`MODELS_ENV`),
then on the hub. Where the hub cannot be reached (no network), the real loader still runs, in
transformers' offline mode, so that a copy in the Hugging Face cache is found; failing that, a
:class:`ModelUnavailableError` names the model and the two ways to make it available (network access,
or a local copy). In a dry run (:mod:`reprobook.configs.dry`) the model is then replaced by a
*stand-in* (:func:`stand_in_causal_lm`): a randomly initialised model of the paper model's own
architecture (its config class: ``Qwen2Config`` for ``Qwen/Qwen2-7B``, ``LlamaConfig`` for Llama-2, ...,
:data:`PAPER_ARCHITECTURES`) at reduced width and depth, with an offline tokenizer (SmolLM2's), announced in
the executed copy.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import re
import shutil
import socket
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from .. import data, dryrun, results
from ..cache import folder_fingerprint
from ..checks import PRECISIONS, ParameterError, check_int, check_seed, check_str
from ..paths import cache_dir, exclusive_lock
from ..timing import Timer
from ..training import resolve_device
from .gguf import conversion_key, convert_gguf, tokenizer_key, write_tokenizer_dir


@dataclass(frozen=True)
class ModelSpec:
    """A model the registry ships as a GGUF: the data entry, the file in it, its checksum, its HF id."""

    name: str
    data: str  # the data-registry entry that holds the GGUF
    gguf_file: str  # the file name inside the entry's folder (what the entry's loader returns)
    gguf_sha256: str  # checksum of that GGUF (part of the conversion key)
    hf_id: str  # the same model on the Hugging Face hub (paper profile; documentation)
    description: str = ""


MODELS: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec(
        "smollm2-135m-instruct",
        data="smollm2-135m-instruct-gguf",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="SmolLM2-135M-Instruct (Llama architecture, 134.5M parameters, English, chat template)",
    ),
    "gemma-3-270m": ModelSpec(
        "gemma-3-270m",
        data="gemma-3-270m-gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        hf_id="google/gemma-3-270m",
        description="Gemma-3-270M base (multilingual, 268M parameters; Q4_K_M GGUF de-quantised)",
    ),
}

_HF_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
MODELS_ENV = "REPROBOOK_MODELS"  # a folder of local copies of hub models: <folder>/<org>/<name>/config.json

# The hub models of the paper profiles: the model type and the sizes of their real configurations (from each
# model's config.json on the hub). A dry-run stand-in keeps the type (its config class, attention layout, RoPE,
# context length) and shrinks width and depth; an id not listed here stands in as a Llama.
PAPER_ARCHITECTURES: dict[str, tuple[str, dict[str, Any]]] = {
    "Qwen/Qwen2-7B": (
        "qwen2",
        dict(
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            vocab_size=152064,
            max_position_embeddings=131072,
            rope_theta=1e6,
            tie_word_embeddings=False,
        ),
    ),
    "Qwen/Qwen2-7B-Instruct": (
        "qwen2",
        dict(
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            vocab_size=152064,
            max_position_embeddings=32768,
            rope_theta=1e6,
            tie_word_embeddings=False,
        ),
    ),
    "Qwen/Qwen2-72B-Instruct": (
        "qwen2",
        dict(
            hidden_size=8192,
            intermediate_size=29568,
            num_hidden_layers=80,
            num_attention_heads=64,
            num_key_value_heads=8,
            vocab_size=152064,
            max_position_embeddings=32768,
            rope_theta=1e6,
            tie_word_embeddings=False,
        ),
    ),
    "meta-llama/Llama-2-7b-chat-hf": (
        "llama",
        dict(
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            vocab_size=32000,
            max_position_embeddings=4096,
        ),
    ),
    "meta-llama/Llama-2-13b-chat-hf": (
        "llama",
        dict(
            hidden_size=5120,
            intermediate_size=13824,
            num_hidden_layers=40,
            num_attention_heads=40,
            num_key_value_heads=40,
            vocab_size=32000,
            max_position_embeddings=4096,
        ),
    ),
    "meta-llama/Llama-2-70b-chat-hf": (
        "llama",
        dict(
            hidden_size=8192,
            intermediate_size=28672,
            num_hidden_layers=80,
            num_attention_heads=64,
            num_key_value_heads=8,
            vocab_size=32000,
            max_position_embeddings=4096,
        ),
    ),
    "meta-llama/Meta-Llama-3-8B-Instruct": (
        "llama",
        dict(
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=128256,
            max_position_embeddings=8192,
            rope_theta=500000.0,
        ),
    ),
    "mistralai/Mistral-7B-Instruct-v0.3": (
        "mistral",
        dict(
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=32768,
            max_position_embeddings=32768,
            rope_theta=1e6,
            sliding_window=None,
        ),
    ),
}
# The paper profiles' sentence encoders: (model type, sizes, pooling) of their hub configs, for a dry run's stand-in
PAPER_ENCODERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "BAAI/bge-base-zh-v1.5": (
        "bert",
        dict(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            vocab_size=21128,
            max_position_embeddings=512,
            type_vocab_size=2,
        ),
        "cls",
    ),
}
STAND_IN_TOKENIZER = "smollm2-135m-instruct"  # a registry model: its tokenizer (and chat template) is offline
STAND_IN_ENCODER_TOKENIZER = "all-minilm-l6-v2"  # a registry encoder: its WordPiece tokenizer is offline
STAND_IN_SIZE = {"layers": 2, "hidden": 64}  # the dry-run stand-ins' depth and width


@dataclass
class LanguageModel:
    """A causal LM ready for generation, scoring and training.

    ``model`` (a transformers ``PreTrainedModel`` in eval mode), ``tokenizer`` (left padding, a pad
    token), ``name``, ``device``, ``max_context`` (tokens the model attends to). ``fingerprint`` names
    the exact weights (registry model and conversion key, trained-model cache key, tiny-model settings):
    the trainers put it into their cache keys, so a model trained from another model is retrained when
    that model changes.
    """

    model: Any
    tokenizer: Any
    name: str
    device: Any
    max_context: int
    fingerprint: str = ""
    source: str = ""  # where the weights came from (folder, HF id, "random")
    load_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def eos_token_ids(self) -> list[int]:
        """Every token id that ends a turn: the tokenizer's EOS and the generation config's."""
        ids: list[int] = []
        gen = getattr(self.model, "generation_config", None)
        for value in (getattr(gen, "eos_token_id", None), self.tokenizer.eos_token_id):
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if v is not None and int(v) not in ids:
                    ids.append(int(v))
        return ids

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def copy(self, name: str | None = None, *, dtype: Any = None) -> LanguageModel:
        """A deep copy of the weights (the tokenizer is shared): train or merge it without touching this one.

        With ``dtype`` (a name of :data:`~reprobook.checks.PRECISIONS` or a torch dtype) the copy's weights are
        cast to it and its fingerprint names that precision (:func:`_precision_suffix`), so no cache keyed by
        the fingerprint hands one precision's results to the other.
        """
        weights, fingerprint = copy.deepcopy(self.model), self.fingerprint
        if dtype is not None:
            torch_dtype = resolve_dtype(dtype, self.device)
            weights.to(torch_dtype)
            held = _precision_suffix(next(self.model.parameters()).dtype)
            base = fingerprint.removesuffix(held) if held else fingerprint
            fingerprint = base + _precision_suffix(torch_dtype) if base else base
        return LanguageModel(
            weights,
            self.tokenizer,
            name or self.name,
            self.device,
            self.max_context,
            fingerprint,
            self.source,
            0.0,
            dict(self.info),
        )


# --------------------------------------------------------------------------------------------- helpers
def resolve_dtype(dtype: Any, device: Any):
    """``None`` → float32 on a CPU, bfloat16 on a GPU that supports it (else float16); names or torch dtypes."""
    if dtype is None:
        if torch.device(device).type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    allowed = {name: getattr(torch, name) for name in PRECISIONS}
    if dtype not in allowed:
        raise ParameterError("dtype", dtype, "None, a torch dtype or one of " + ", ".join(map(repr, allowed)))
    return allowed[dtype]


def _precision_suffix(dtype: Any) -> str:
    """What a fingerprint adds for weights held in another precision than float32 (float32: nothing, so
    the names of float32 models stay as they were): the same file in bfloat16 is other weights."""
    return "" if dtype == torch.float32 else f":{str(dtype).removeprefix('torch.')}"


def _device(device: Any):
    return resolve_device(device if not hasattr(device, "type") else str(device))


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers without its progress bars and warnings (loading, converting), restored afterwards."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ParameterError(
            "name",
            name,
            "a registry model ("
            + ", ".join(map(repr, MODELS))
            + "), an existing local folder, or a Hugging Face id 'org/name'",
        )
    return MODELS[name]


def _gguf_path(spec: ModelSpec) -> Path:
    """The verified GGUF of a registry model (fetched on first use; a clear error names the entry)."""
    path = Path(data.load(spec.data))
    if path.is_dir():
        path = path / spec.gguf_file
    return path


def _finish_tokenizer(tokenizer: Any) -> Any:
    """Left padding (generation) and a pad token (the EOS when the tokenizer has none)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _max_context(config: Any, tokenizer: Any) -> int:
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    n = getattr(text, "max_position_embeddings", None) or 2048
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < n:
        n = limit
    return int(n)


def converted_dir(name: str) -> Path:
    """Where the converted folder of registry model ``name`` lives (whether or not it exists yet)."""
    spec = _spec(name)
    return cache_dir() / "llm" / "converted" / f"{spec.name}-{conversion_key(spec.gguf_sha256)}"


def _note(loaded: bool) -> None:
    """Count a conversion (trained anew) or a reuse (loaded) in the run's checkpoint counts."""
    note = getattr(results, "note_checkpoint", None)
    if note is not None:
        note(loaded)


def ensure_converted(name: str) -> Path:
    """The converted folder of registry model ``name``, converting its GGUF once (atomically, locked).

    The tokenizer folder (:func:`load_tokenizer`'s) is made first, or reused when an earlier call made
    it. Counted in the run's checkpoint counts like a trained model: converted anew, or loaded."""
    spec = _spec(name)
    target = converted_dir(name)
    if (target / "config.json").is_file():
        _note(True)
        return target
    with exclusive_lock(target.with_name(target.name + ".lock")):  # two processes convert it once
        if (target / "config.json").is_file():  # another process converted it meanwhile
            _note(True)
            return target
        tokenizer = _saved_tokenizer_dir(name)
        gguf = _gguf_path(spec)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            with quiet_transformers():
                convert_gguf(gguf, tmp, tokenizer_dir=tokenizer)
            (tmp / "reprobook-conversion.json").write_text(
                json.dumps(
                    {
                        "model": spec.name,
                        "gguf": spec.gguf_file,
                        "gguf_sha256": spec.gguf_sha256,
                        "key": conversion_key(spec.gguf_sha256),
                        "tokenizer_key": tokenizer_key(spec.gguf_sha256),
                        "hf_id": spec.hf_id,
                    },
                    indent=1,
                )
            )
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    _remove_stale_conversions(target, spec.name)
    _note(False)
    return target


def _remove_stale_conversions(current: Path, model: str) -> None:
    """Delete this model's conversions made by an earlier GGUF or conversion code (they are never loaded
    again, and each is 0.5–1 GB); one that another process holds locked is left alone."""
    for old in current.parent.glob(f"{model}-" + "[0-9a-f]" * 16):
        lock = old.with_name(old.name + ".lock")
        if old == current or not old.is_dir():
            continue
        with open(lock, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(old, ignore_errors=True)
            fcntl.flock(handle, fcntl.LOCK_UN)
        lock.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------- tokenizers
def _tokenizer_dir(name: str) -> Path:
    spec = _spec(name)
    return cache_dir() / "llm" / "tokenizers" / f"{spec.name}-{tokenizer_key(spec.gguf_sha256)}"


def _saved_tokenizer_dir(name: str) -> Path:
    """The saved tokenizer folder of a registry model (tokenizer files and config.json), written from the
    GGUF once (atomically, locked)."""
    target = _tokenizer_dir(name)
    if (target / "config.json").is_file():
        return target
    spec = _spec(name)
    with exclusive_lock(target.with_name(target.name + ".lock")):  # two processes convert it once
        if (target / "config.json").is_file():
            return target
        gguf = _gguf_path(spec)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            with quiet_transformers():
                write_tokenizer_dir(gguf, tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _ensure_tokenizer_dir(name: str) -> Path:
    """A saved tokenizer (with the model's config.json) for a registry model, without loading weights:
    the converted model folder when it exists, else the tokenizer folder (written once from the GGUF)."""
    converted = converted_dir(name)
    if (converted / "config.json").is_file():
        return converted
    return _saved_tokenizer_dir(name)


def _where(name: Any) -> tuple[str, str]:
    """Classify ``name``: ("registry", name), ("folder", path) or ("hub", id); a clear error otherwise."""
    text = check_str("name", os.fspath(name) if isinstance(name, os.PathLike) else name)
    if text in MODELS:
        return "registry", text
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ParameterError("name", text, "a model folder with a config.json (this folder has none)")
        return "folder", str(path.resolve())
    looks_like_path = text.startswith((".", "/", "~")) or os.sep in text and not _HF_ID.match(text)
    if _HF_ID.match(text) and not looks_like_path:
        copy_ = local_copy(text)
        return ("folder", str(copy_)) if copy_ is not None else ("hub", text)
    if looks_like_path:
        raise ParameterError(
            "name",
            text,
            "an existing local model folder (this one does not exist), "
            "a registry model (" + ", ".join(map(repr, MODELS)) + ") or a Hugging Face id",
        )
    _spec(text)  # raises, naming the registry models
    raise AssertionError


def load_tokenizer(name: str) -> Any:
    """The Hugging Face tokenizer of a registry model, folder or HF id (left padding, a pad token).

    A registry model's tokenizer is read from its GGUF once and saved as a tokenizer folder; later
    calls take well under a second and never load the weights.
    """
    from transformers import AutoTokenizer

    kind, where = _where(name)
    if kind == "registry":
        where = str(_ensure_tokenizer_dir(where))
    if kind != "hub":
        return _finish_tokenizer(AutoTokenizer.from_pretrained(where))
    try:
        tokenizer = from_hub(where, AutoTokenizer.from_pretrained)
    except ModelUnavailableError as exc:
        if not _dry_run():
            raise
        _note_stand_in(where, f"the tokenizer of {STAND_IN_TOKENIZER} (offline)", exc.reason)
        return load_tokenizer(STAND_IN_TOKENIZER)
    return _finish_tokenizer(tokenizer)


class ModelUnavailableError(ParameterError):
    """A Hugging Face model that is neither reachable nor copied here. The message names it, why, and the two
    ways to make it available: network access to the hub, or a local copy (a folder, :data:`MODELS_ENV`)."""

    def __init__(self, name: str, reason: str):
        super().__init__(
            "name",
            name,
            "a Hugging Face id that can be downloaded from this machine, a local "
            "folder, or a registry model (" + ", ".join(map(repr, MODELS)) + ")",
        )
        self.reason = reason
        local = _local_copy_places(name)
        self.args = (
            f"model {name!r} is not available here: {reason}. To make it available, either:\n"
            f"  - allow network access to the Hugging Face hub ({_hub_endpoint()}), which downloads it "
            "into the Hugging Face cache on first use; or\n"
            f"  - put a local copy (the model's folder: config.json, weights, tokenizer) at "
            f"{local}, or set {MODELS_ENV} to a folder holding <org>/<name> copies, or pass the "
            "folder's path as the model's name.",
        )


def _hub_endpoint() -> str:
    import huggingface_hub.constants as hub

    return str(getattr(hub, "ENDPOINT", "https://huggingface.co"))


def _local_copy_places(name: str) -> str:
    base = os.environ.get(MODELS_ENV)
    return str(Path(base).expanduser() / name) if base else f"${MODELS_ENV}/{name}"


def local_copy(name: str) -> Path | None:
    """The local copy of hub model ``name`` under :data:`MODELS_ENV` (a folder with a config.json), or None."""
    base = os.environ.get(MODELS_ENV)
    if not base:
        return None
    folder = Path(base).expanduser() / name
    return folder.resolve() if (folder / "config.json").is_file() else None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (through a proxy, if one is set, we assume so)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlparse(_hub_endpoint())
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _hub_offline(offline: bool) -> Iterator[None]:
    """transformers and huggingface_hub in offline mode for the block (they read the setting at import)."""
    import huggingface_hub.constants as hub

    saved = hub.HF_HUB_OFFLINE
    if offline:
        hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = saved


def from_hub(name: str, load: Any) -> Any:
    """``load(name)`` for hub id ``name`` (a transformers ``from_pretrained``): the real call, run in offline
    mode when the hub cannot be reached (it still finds a copy in the Hugging Face cache). A failure is a
    :class:`ModelUnavailableError` naming the model and the ways to make it available."""
    reachable = hub_reachable()
    try:
        with _hub_offline(not reachable):
            return load(name)
    except OSError as exc:
        why = (
            "the Hugging Face hub cannot be reached from this machine, and no copy is in its cache"
            if not reachable
            else f"loading it failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        )
        raise ModelUnavailableError(name, why) from exc


# --------------------------------------------------------------------------------------------- models
def load_causal_lm(
    name: str, *, device: Any = "cpu", dtype: Any = None, attn_implementation: str | None = None
) -> LanguageModel:
    """A :class:`LanguageModel` from a registry name, a local folder or a Hugging Face id.

    Registry models are converted from their GGUF once (see the module docstring); ``dtype`` None is
    float32 on a CPU and bfloat16 on a GPU. An unknown registry name, a missing folder or an unreachable
    hub id raises a :class:`~reprobook.checks.ParameterError` that names it.
    """
    from transformers import AutoModelForCausalLM

    clock = Timer()
    kind, where = _where(name)
    torch_device = _device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    folder: Path | str
    if kind == "registry":
        spec = MODELS[where]
        folder = ensure_converted(where)
        source, fingerprint = str(folder), f"{spec.name}@{conversion_key(spec.gguf_sha256)}"
    elif kind == "folder":
        folder, source = Path(where), where
        fingerprint = f"folder:{Path(where).name}@{folder_fingerprint(Path(where))}"
    else:
        folder, source, fingerprint = where, f"hf:{where}", f"hf:{where}"
    fingerprint += _precision_suffix(torch_dtype)
    kwargs = {"dtype": torch_dtype}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if kind == "hub":
        try:
            with quiet_transformers():
                model = from_hub(where, lambda n: AutoModelForCausalLM.from_pretrained(n, **kwargs))
                tokenizer = from_hub(where, _auto_tokenizer)
        except ModelUnavailableError as exc:
            if not _dry_run():
                raise
            return stand_in_causal_lm(where, device=torch_device, dtype=dtype, why=exc.reason)
    else:
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
            tokenizer = _auto_tokenizer(folder)
    model.to(torch_device).eval()
    tokenizer = _finish_tokenizer(tokenizer)
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LanguageModel(
        model,
        tokenizer,
        os.fspath(name) if kind != "folder" else Path(where).name,
        torch_device,
        _max_context(model.config, tokenizer),
        fingerprint,
        source,
        clock.elapsed(),
    )


def _auto_tokenizer(folder: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def _tiny_config(base_config: Any, layers: int, hidden: int, kv_heads: int = 2) -> Any:
    """``base_config`` shrunk: ``layers`` layers of width ``hidden``, 4 query heads sharing ``kv_heads``
    key/value heads."""
    values = base_config.to_dict()
    heads = 4
    values.update(
        num_hidden_layers=layers,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=hidden // heads,
    )
    for key in ("layer_types", "_name_or_path", "quantization_config"):
        values.pop(key, None)
    if "sliding_window" in values and values["sliding_window"]:
        values["sliding_window"] = min(int(values["sliding_window"]), 64)
    return type(base_config).from_dict(values)


def tiny_causal_lm(
    base: str = "smollm2-135m-instruct",
    *,
    seed: int = 0,
    layers: int = 2,
    hidden: int = 64,
    device: Any = "cpu",
    dtype: Any = None,
) -> LanguageModel:
    """A randomly initialised tiny model of ``base``'s architecture family with ``base``'s real tokenizer.

    For the tiny profile and the tests: the code paths (chat template, padding, EOS, trainers) are those
    of the real model, at a fraction of the cost. Its answers are noise.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    check_seed("seed", seed)
    check_int("layers", layers, low=1)
    check_int("hidden", hidden, low=8)
    if hidden % 8:
        raise ParameterError("hidden", hidden, "a multiple of 8 (4 heads of an even width)")
    clock = Timer()
    kind, where = _where(base)
    if kind == "hub":
        try:
            from_hub(where, AutoConfig.from_pretrained)
        except ModelUnavailableError as exc:
            if not _dry_run():
                raise
            return stand_in_causal_lm(
                where, seed=seed, layers=layers, hidden=hidden, device=device, dtype=dtype, why=exc.reason
            )
    folder = str(_ensure_tokenizer_dir(where)) if kind == "registry" else where
    base_config = AutoConfig.from_pretrained(folder)
    config = _tiny_config(base_config, layers, hidden)
    torch_device = _device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype, torch_device))
    tokenizer = _finish_tokenizer(_auto_tokenizer(folder))
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.to(torch_device).eval()
    name = f"tiny-{os.fspath(base)}"
    fingerprint = f"{name}:seed={seed}:layers={layers}:hidden={hidden}" + _precision_suffix(model.dtype)
    return LanguageModel(
        model,
        tokenizer,
        name,
        torch_device,
        _max_context(model.config, tokenizer),
        fingerprint,
        "random",
        clock.elapsed(),
    )


def _dry_run() -> bool:
    return dryrun.active()


def _note_stand_in(what: str, stand_in: str, why: str) -> None:
    dryrun.note_stand_in(what, stand_in, why)


def paper_config(name: str) -> Any:
    """The transformers configuration of hub model ``name`` as :data:`PAPER_ARCHITECTURES` gives it (a
    ``LlamaConfig`` of Llama-2-7B's sizes for an id it does not list), built offline."""
    from transformers import AutoConfig

    model_type, sizes = PAPER_ARCHITECTURES.get(name, PAPER_ARCHITECTURES["meta-llama/Llama-2-7b-chat-hf"])
    return AutoConfig.for_model(model_type, **sizes)


def config_parameters(config: Any) -> int:
    """Parameters of a decoder of ``config`` (embeddings, attention with its key/value heads, gated MLP,
    norms, the output head unless tied), counted from its sizes without building it."""
    h, n, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    attention = h * heads * head_dim * 2 + 2 * h * kv * head_dim
    per_layer = attention + 3 * h * inter + 2 * h
    head = 0 if getattr(config, "tie_word_embeddings", False) else config.vocab_size * h
    return config.vocab_size * h + n * per_layer + h + head


def stand_in_causal_lm(
    name: str,
    *,
    seed: int | None = None,
    layers: int | None = None,
    hidden: int | None = None,
    device: Any = "cpu",
    dtype: Any = None,
    why: str = "",
) -> LanguageModel:
    """A dry run's stand-in for hub model ``name``: a randomly initialised model of its own architecture (its
    config class and settings, :func:`paper_config`) at ``layers`` × ``hidden`` (:data:`STAND_IN_SIZE`), with
    the offline tokenizer of :data:`STAND_IN_TOKENIZER` (its vocabulary replaces the model's). Announced in the
    executed copy (:func:`reprobook.dryrun.note_stand_in`) when ``why`` is given. Its answers are noise."""
    from transformers import AutoModelForCausalLM

    layers = check_int("layers", STAND_IN_SIZE["layers"] if layers is None else layers, low=1)
    hidden = check_int("hidden", STAND_IN_SIZE["hidden"] if hidden is None else hidden, low=8)
    seed = zlib.crc32(name.encode()) % 2**31 if seed is None else check_seed("seed", seed)
    clock = Timer()
    real = paper_config(name)
    mha = (getattr(real, "num_key_value_heads", None) or real.num_attention_heads) == real.num_attention_heads
    config = _tiny_config(real, layers, hidden, kv_heads=4 if mha else 2)
    tokenizer = load_tokenizer(STAND_IN_TOKENIZER)
    config.vocab_size = len(tokenizer)
    config.pad_token_id, config.bos_token_id, config.eos_token_id = (
        tokenizer.pad_token_id,
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
    )
    torch_device = _device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype, torch_device))
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.to(torch_device).eval()
    info = {
        "stand_in_for": name,
        "real_parameters": config_parameters(real),
        "real_layers": real.num_hidden_layers,
        "real_hidden": real.hidden_size,
        "config_class": type(real).__name__,
    }
    if why:
        _note_stand_in(
            name,
            f"a randomly initialised {real.model_type} model ({type(real).__name__}; {layers} layers "
            f"× {hidden}, real: "
            f"{real.num_hidden_layers} × {real.hidden_size}, ≈{info['real_parameters'] / 1e9:.1f}B "
            f"parameters) with the offline tokenizer of {STAND_IN_TOKENIZER}",
            why,
        )
    fingerprint = f"stand-in:{name}:seed={seed}:layers={layers}:hidden={hidden}"
    return LanguageModel(
        model,
        tokenizer,
        name,
        torch_device,
        _max_context(model.config, tokenizer),
        fingerprint,
        "stand-in (random)",
        clock.elapsed(),
        info,
    )


def encoder_stand_in(name: str, why: str = "", *, layers: int | None = None, hidden: int | None = None) -> Path:
    """A dry run's stand-in for a sentence-transformers encoder on the hub (the paper's ``BAAI/bge-base-zh-v1.5``):
    a randomly initialised encoder of its own architecture (its config class and settings, :data:`PAPER_ENCODERS`;
    a BERT-base for an id it does not list) at ``layers`` × ``hidden`` (:data:`STAND_IN_SIZE`), with its pooling
    and normalisation, and the offline WordPiece tokenizer of :data:`STAND_IN_ENCODER_TOKENIZER` (its vocabulary
    replaces the model's). Written once as a sentence-transformers folder under the cache (seeded by the name)
    and announced when ``why`` is given. Returns the folder. Its embeddings are noise."""
    layers = check_int("layers", STAND_IN_SIZE["layers"] if layers is None else layers, low=1)
    hidden = check_int("hidden", STAND_IN_SIZE["hidden"] if hidden is None else hidden, low=8)
    model_type, sizes, pooling = PAPER_ENCODERS.get(name, ("bert", {}, "mean"))
    folder = cache_dir() / "stand-ins" / f"{re.sub(r'[^A-Za-z0-9._-]+', '--', name)}-{layers}x{hidden}"
    if not (folder / "modules.json").is_file():
        _write_encoder_stand_in(folder, model_type, sizes, pooling, layers, hidden, zlib.crc32(name.encode()) % 2**31)
    if why:
        from transformers import AutoConfig

        real = AutoConfig.for_model(model_type, **sizes)
        _note_stand_in(
            name,
            f"a randomly initialised {model_type} encoder ({type(real).__name__}; {layers} layers × "
            f"{hidden}, real: {real.num_hidden_layers} × {real.hidden_size}; {pooling} pooling, normalised) "
            f"with the offline tokenizer of {STAND_IN_ENCODER_TOKENIZER}",
            why,
        )
    return folder


def _write_encoder_stand_in(
    folder: Path, model_type: str, sizes: dict[str, Any], pooling: str, layers: int, hidden: int, seed: int
) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(data.load(STAND_IN_ENCODER_TOKENIZER)))
    values = AutoConfig.for_model(model_type, **sizes).to_dict()
    values.update(
        num_hidden_layers=layers,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_attention_heads=4,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    values.pop("_name_or_path", None)
    config = AutoConfig.for_model(model_type, **{k: v for k, v in values.items() if k != "model_type"})
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        hf = Path(tmp) / "hf"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            AutoModel.from_config(config).save_pretrained(hf)
        tokenizer.save_pretrained(hf)
        transformer = models.Transformer(str(hf), max_seq_length=min(512, config.max_position_embeddings))
        width = transformer.get_embedding_dimension()
        modules = [transformer, models.Pooling(width, pooling_mode=pooling), models.Normalize()]
        out = Path(tmp) / "st"
        SentenceTransformer(modules=modules, device="cpu").save(str(out))
        try:
            os.replace(out, folder)
        except OSError:  # another process wrote it first
            if not (folder / "modules.json").is_file():
                raise


def encoder_folder(name: str) -> str:
    """Where to load sentence-transformers encoder ``name`` from: a local folder or copy
    (:data:`MODELS_ENV`), the hub id when the hub or its cache has it, else (in a dry run) the stand-in's
    folder; outside a dry run an unreachable, uncached id is a :class:`ModelUnavailableError`."""
    kind, where = _where(name)
    if kind != "hub":
        return where
    try:
        from_hub(where, lambda n: _hub_file(n, "config.json"))
    except ModelUnavailableError as exc:
        if not _dry_run():
            raise
        return str(encoder_stand_in(where, why=exc.reason))
    return where


def _hub_file(name: str, filename: str) -> str:
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(name, filename)
    except Exception as exc:  # noqa: BLE001 - the hub's errors (offline, not found) become an OSError
        raise OSError(str(exc)) from exc


def wrap(model: Any, tokenizer: Any, *, name: str, fingerprint: str, device: Any = None) -> LanguageModel:
    """A :class:`LanguageModel` around an in-memory model (a trained or merged one)."""
    device = device if device is not None else next(model.parameters()).device
    return LanguageModel(
        model.eval(),
        tokenizer,
        name,
        torch.device(device),
        _max_context(model.config, tokenizer),
        fingerprint,
        "memory",
    )
