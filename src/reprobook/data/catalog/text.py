"""Text datasets: SQuAD, HHH, DomainRAG and the PAS seed data (offline: the BIG-bench sdist; the local copy of
the GitHub data)."""

from __future__ import annotations

from ._common import BB_TASKS, BIGBENCH_HOME, BIGBENCH_SDIST, mirrored, packaged

DOMAINRAG_COMMIT = "f6ca1941a71ff19f6d73bd7588842bb92a6113e3"
PAS_COMMIT = "4352394d21bd721554d65fecf5ca863948bec065"

packaged(
    "squad-dev",
    kind="dataset",
    loader="load_squad",
    description="SQuAD v1.1 dev (10,565 questions over 2,067 Wikipedia paragraphs) from BIG-bench "
    "squad_shifts. load() -> list of {id, title, context, question, answers, answer_starts}",
    licence="CC BY-SA 4.0 (SQuAD)",
    homepage="https://rajpurkar.github.io/SQuAD-explorer/",
    source=BIGBENCH_SDIST,
    prefix=BB_TASKS + "squad_shifts/",
    vendored="squad_shifts",
    files={"squaddev_v1.1.json": ("45089eff3cf52004b1dca6814cde5c57082fdb09872f18c79a5d944d45be523a", 8258266)},
)

packaged(
    "hhh-alignment",
    kind="dataset",
    loader="load_hhh_alignment",
    description="BIG-bench HHH alignment: 221 chosen/rejected pairs (harmless, helpful, honest, other). "
    "load() -> list of {prompt, chosen, rejected, category}",
    licence="Apache-2.0 (BIG-bench)",
    homepage=BIGBENCH_HOME + "/tree/main/bigbench/benchmark_tasks/hhh_alignment",
    source=BIGBENCH_SDIST,
    prefix=BB_TASKS + "hhh_alignment/",
    vendored="hhh_alignment",
    files={
        "harmless/task.json": ("4720acbc916cc18413e48c6bb55c19af73400436a6304c7e110b8bb40f8952a1", 45591),
        "helpful/task.json": ("1bd2a58d9bb17b26af4806e8302374cea60671dc387fbfc2c5aa5c23e0901628", 78127),
        "honest/task.json": ("69ba96e5bff121327ad1366e3772b7b45c50e96e7f995b2cef62c350380f1b14", 86819),
        "other/task.json": ("4d6b041d79e5bf2705a9f81994efb95274179faaba9270f6dc83bd0cd17c227e", 28261),
        "task.json": ("a49a91d541cc917e6d70e9ba7d2462b0609532b550279fccf51f2a0f77a61da5", 783),
    },
)

mirrored(
    "domainrag",
    kind="dataset",
    loader="load_jsonl_folder",
    description="DomainRAG labelled data (Chinese domain RAG benchmark: extractive, conversational, "
    "multi-doc, time-sensitive, structured, faithful QA). load(files=None) -> {file stem: [records]}",
    licence="see repository (no licence file in it)",
    homepage="https://github.com/ShootingWong/DomainRAG",
    subdir="domainrag",
    url=f"https://raw.githubusercontent.com/ShootingWong/DomainRAG/{DOMAINRAG_COMMIT}/BCM/labeled_data/",
    files={
        "conversation_qa/conversation_qa.jsonl": (
            "d3f47926c1f6eb9357f5a91604e224514388cebed527fc6e82f925d82e55207f",
            463161,
        ),
        "conversation_qa/conversation_qa_retrieved_bm25.jsonl": (
            "3b27d66aa68061237f2fff18d3d7d71e72900d1d5ab6e8fad61586aebba0973a",
            2166858,
        ),
        "conversation_qa/conversation_qa_retrieved_dense.jsonl": (
            "90dfb70b3cddf576c8e3c7be17de253d7c144bdc2acb7a2ae9b1cbcb0bb34462",
            2123171,
        ),
        "extractive_qa/basic_qa.jsonl": ("ec491eb31ee104b9712b48bc7f707ee95fedd7ff055321ebf867896ef58a2863", 169648),
        "extractive_qa/basic_qa_retrieved_bm25.jsonl": (
            "3b05c55af02b145e74451b05a2ec75118b88feb22cb8ced9082874e1afdf60ea",
            3206194,
        ),
        "extractive_qa/basic_qa_retrieved_dense.jsonl": (
            "1f09d15944105ba5a2f8831fe4a715d61502f7605edae60f51518dc49a852bf3",
            3052064,
        ),
        "faithful_qa/faithful_qa.jsonl": ("46108ad6456ce136111ee71082f28066f33fb3332ef11566bd8183cd8ebae8bc", 181465),
        "multi-doc_qa/multidoc_qa.jsonl": ("e5fca94795cfa89fd12a9a3bdde211acc235d2956d4677693f8ca8528f191ab7", 3167103),
        "structured_qa/structured_qa_twopositive.jsonl": (
            "38c10da4904c84b751c20a369473aa31498053cc598ca73e6f55d166f47013b4",
            2219021,
        ),
        "time-sensitive_qa/time_sensitive.jsonl": (
            "0574add6f6da8578049753456d6669c5849fcbe9d5a47ddd12bc9cb3f1ebd374",
            126068,
        ),
        "time-sensitive_qa/time_sensitive_retrieved_bm25.jsonl": (
            "65d91370ff108ea5991112fc85366f9a4743c4e597a4f5c7e62d0def61b69ff2",
            2296906,
        ),
        "time-sensitive_qa/time_sensitive_retrieved_dense.jsonl": (
            "8042cfdabb144d4e3f857794d1bcc4790e4ed7df69c14fbc8383d345786730bb",
            2111409,
        ),
    },
)

# The official noise-robustness file of an earlier commit: the pinned commit above replaced it by
# noisy_qa_ver3.jsonl, which has no offline copy (../shared/data/domainrag/noisy_qa/SOURCE.md).
DOMAINRAG_NOISE_COMMIT = "b49ea645578be9cca588f836dad7288adfe11296"
mirrored(
    "domainrag-noise",
    kind="dataset",
    loader="model_folder",
    description="DomainRAG noise robustness, the official file of commit b49ea64 (30 questions, one positive "
    "and five noise passages each; concatenated pretty-printed JSON objects). load() -> the folder",
    licence="see repository (no licence file in it)",
    homepage="https://github.com/ShootingWong/DomainRAG",
    subdir="domainrag",
    url=f"https://raw.githubusercontent.com/ShootingWong/DomainRAG/{DOMAINRAG_NOISE_COMMIT}/BCM/labeled_data/",
    files={"noisy_qa/noisy_qa.jsonl": ("06c184d4597326d98c3e9db397a46e1319afed4b893b70deb2df3abb5ba6c6c6", 328046)},
)

mirrored(
    "pas-seed",
    kind="dataset",
    loader="load_jsonl_folder",
    description="PAS prompt-augmentation seed data (ape_seed, task_pe). load() -> {file stem: [records]}",
    licence="see repository (no licence file in it; listed as Apache-2.0 by the project)",
    homepage="https://github.com/PKU-Baichuan-MLSystemLab/PAS",
    subdir="pas",
    url=f"https://raw.githubusercontent.com/PKU-Baichuan-MLSystemLab/PAS/{PAS_COMMIT}/data/",
    files={
        "ape_seed.jsonl": ("277f69ef7b807b408bfebc0eaf36c36499d4c920f19c364c5ca1cf8bf877f9f1", 28441),
        "task_pe.jsonl": ("1888c4bebfa048681f124563c1c3b93f0a31e5d29fdd393c34435cc54a3e4bf4", 134058),
    },
)
