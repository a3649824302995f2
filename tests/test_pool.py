"""Training several models at once (reprobook.pool): the same models as one after the other."""

import pytest
import torch
from torch.utils.data import TensorDataset

from reprobook import profiles
from reprobook.chapters.flat_minima import analysis, runs
from reprobook.pool import pool_size, train_many
from reprobook.profiles import ParameterError
from reprobook.results import CHECKPOINT_EVENTS


def _data():
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.rand(64, 1, 28, 28, generator=g), torch.arange(64) % 10)


def _weights(run) -> torch.Tensor:
    return torch.cat([v.flatten().double() for v in run.model.state_dict().values() if v.is_floating_point()])


def test_a_pool_of_processes_trains_the_same_models_as_one_process(tmp_path, monkeypatch):
    """Every (method, seed) of the RWP chapter trained two at a time in other processes equals, bit for bit, the
    same run trained in this process one after the other; the pool's models are counted here as trained."""
    data = _data()
    cfg = profiles.config("rwp", "tiny")  # one thread per training loop
    seeds = [0, 1]

    def train_all(workers: int, cache: str):
        monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / cache))
        before = dict(CHECKPOINT_EVENTS)
        experiment = analysis.train_all(
            profiles.config("rwp", "tiny", train_workers=workers), seeds, data, data, torch.device("cpu"), log=None
        )
        return experiment, CHECKPOINT_EVENTS["trained"] - before.get("trained", 0)

    def refuse(*args, **kwargs):
        raise AssertionError("trained in this process")

    # the premise: with two workers the loops run elsewhere (this process's training loop refuses to run)
    with monkeypatch.context() as m:
        m.setattr(runs, "fit", refuse)
        pooled, counted = train_all(2, "pool")
    one, counted_one = train_all(1, "one")
    jobs = len(cfg.methods) * len(seeds)
    assert pooled.trained == one.trained == counted == counted_one == jobs
    assert list(pooled.runs) == list(one.runs)
    for key, run in one.runs.items():
        assert torch.equal(_weights(pooled.runs[key]), _weights(run)), key
        assert pooled.runs[key].test_acc == run.test_acc and pooled.runs[key].test_loss == run.test_loss
        assert pooled.runs[key].history.train_loss == run.history.train_loss
    # a second run loads every model, in the pool too
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "pool"))
    again = analysis.train_all(
        profiles.config("rwp", "tiny", train_workers=2), seeds, data, data, torch.device("cpu"), log=None
    )
    assert again.loaded == jobs and again.trained == 0


def test_pool_size_fills_the_runs_cores_only_for_fixed_threads_on_a_cpu(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert pool_size(1, "cpu", 2) == 2  # alone on two cores
    assert pool_size(2, "cpu", 2) == 1
    assert pool_size(1, "cpu", 1) == 1  # inside the book: one core per notebook
    assert pool_size(None, "cpu", 2) == 1  # loops on the run's threads use them all already
    assert pool_size(1, "cuda", 2) == 1  # not a CPU
    assert pool_size(1, "cpu", 1, 3) == 3  # asked for
    monkeypatch.setenv("WORLD_SIZE", "2")  # a multi-process launch: its processes train one model together
    assert pool_size(1, "cpu", 2, 3) == 1
    with pytest.raises(ParameterError, match="train_workers"):
        pool_size(1, "cpu", 2, 0)
    with pytest.raises(ParameterError, match="train_threads"):
        pool_size(0, "cpu", 2)
    with pytest.raises(ParameterError, match="train_workers"):
        list(train_many(runs.train_state, [], 0))


def test_a_failed_loop_in_the_pool_stops_the_run_with_its_error(tmp_path, monkeypatch):
    """A loop that fails in the pool raises its error here (the loops not yet started are cancelled)."""
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    cfg = profiles.config("rwp", "tiny")
    jobs = [(cfg, "no-such-method", s, _data(), torch.device("cpu"), False) for s in range(3)]
    with pytest.raises(ParameterError, match="method"):
        list(train_many(runs.train_state, jobs, 2))


def test_the_projects_errors_cross_a_process_whole(tmp_path):
    """Errors whose __init__ takes other arguments than their message pickle (a pool's worker sends them back):
    the same type, message and fields."""
    import pickle

    from reprobook.data.errors import ChecksumError, DataUnavailableError, UnknownDataError
    from reprobook.llm.loading import ModelUnavailableError
    from reprobook.rag.domainrag import DomainRAGDataError

    errors = [
        ParameterError("train_workers", 0, "an integer >= 1"),
        ModelUnavailableError("org/model", "no network"),
        UnknownDataError("cifar11", ["cifar10", "cifar100"]),
        ChecksumError("a.bin", "00", "ff", source="https://example.org"),
        DataUnavailableError("cifar10", [("mirror", "offline")], ["set REPROBOOK_LOCAL_DATA"]),
        DomainRAGDataError(tmp_path / "qa.jsonl"),  # a DataError and a FileNotFoundError
    ]
    for error in errors:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error) and again.args == error.args
        assert vars(again) == vars(error)


def test_part_ii_classifiers_trained_side_by_side_equal_those_trained_one_after_the_other(tmp_path, monkeypatch):
    """The OoD classifiers of two seeds trained in a pool of two processes (one thread each) equal, bit for bit,
    those trained here one after the other; the benchmark built on the pool's weights trains nothing more."""
    from reprobook.ood import benchmark, classifier
    from reprobook.training import fixed_threads

    cfg = profiles.config("kpca", "tiny")
    assert cfg.train_threads == 1
    seeds = [0, 1]
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "pool"))
    with fixed_threads(2):  # a run with two threads: two loops at once
        before = CHECKPOINT_EVENTS["trained"]
        with monkeypatch.context() as m:  # the premise: the loops run elsewhere
            m.setattr(classifier, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained here")))
            pooled = benchmark.pretrain_classifiers(cfg, seeds, device="cpu")
        assert CHECKPOINT_EVENTS["trained"] - before == 2 and sorted(pooled) == seeds
        built = benchmark.build_benchmark(cfg, device="cpu", seed=1, progress=False, trained=pooled[1])
        assert CHECKPOINT_EVENTS["trained"] - before == 2 and not built.loaded
    with fixed_threads(1):
        assert benchmark.pretrain_classifiers(cfg, seeds, device="cpu") == {}  # one thread: nothing to fill
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "one"))
    train_ds, _, plain = benchmark._classification_data(cfg, 0)
    for s in seeds:
        state, info = classifier.classifier_state(cfg, train_ds, seed=s, device=torch.device("cpu"), plain_ds=plain)
        assert not info["loaded"] and info["history"].train_loss == pooled[s][1]["history"].train_loss
        assert all(torch.equal(state[k], pooled[s][0][k]) for k in state), s
    one = benchmark.build_benchmark(cfg, device="cpu", seed=1, progress=False)
    assert one.loaded and torch.equal(one.test.features, built.test.features)


def test_the_ddos_ddpm_trained_beside_the_classifiers_equals_the_ddpm_trained_here(tmp_path, monkeypatch):
    """The DDoS chapter's DDPM, trained in a pool of two processes beside a classifier (one thread each), equals, bit
    for bit, the DDPM trained here from the benchmark's images; with one thread there is no pool."""
    from reprobook.chapters.ddos import samples, training
    from reprobook.ood import benchmark, classifier, diffusion
    from reprobook.training import fixed_threads

    def here(*args, **kwargs):
        raise AssertionError("trained here")

    cfg = profiles.config("ddos", "tiny")
    assert cfg.train_threads == 1
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "pool"))
    with fixed_threads(2):  # a run with two threads: two loops at once
        before = CHECKPOINT_EVENTS["trained"]
        with monkeypatch.context() as m:  # the premise: the loops run elsewhere
            m.setattr(diffusion, "ddpm_training_step", here)
            m.setattr(classifier, "fit", here)
            classifiers, ddpm = training.pretrain(cfg, [1], ddpm_seed=2, device="cpu")
        assert CHECKPOINT_EVENTS["trained"] - before == 2 and list(classifiers) == [1] and ddpm is not None
    with fixed_threads(1):
        assert training.pretrain(cfg, [1], ddpm_seed=2, device="cpu") == ({}, None)
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "one"))
    bench = benchmark.build_benchmark(cfg, device="cpu", seed=1, progress=False)
    images = samples.training_pixels(bench, cfg.ddpm_train_images, seed=2)
    one = diffusion.train_ddpm(cfg, images, device="cpu", seed=2, progress=False)
    pooled = diffusion.train_ddpm(cfg, images, device="cpu", seed=2, trained=ddpm)
    assert not one.loaded and not pooled.loaded and one.history.train_loss == pooled.history.train_loss
    state = pooled.unet.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in one.unet.state_dict().items())


def test_baichuan2_runs_trained_side_by_side_equal_those_trained_one_after_the_other(tmp_path, monkeypatch):
    """Two language-model runs of the Baichuan 2 chapter trained in a pool of two processes (one thread each)
    equal, bit for bit, the same runs trained here through train_cached; the chapter's loops then train nothing."""
    from reprobook.alignment import pretraining
    from reprobook.training import fixed_threads

    vocab, g = 64, torch.Generator().manual_seed(0)
    blocks = torch.randint(2, vocab, (6, 8), generator=g)
    data = pretraining.LMData(None, blocks, blocks[:2], "test-blocks", "test", vocab, blocks.numel(), 16, 0.0)
    size = pretraining.ModelSize(8, 1, 1)
    settings = pretraining.TrainSettings(steps=2, batch_size=2, seq_len=8, lr=1e-3)
    runs = [(settings, 0), (settings, 1)]
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "pool"))
    with fixed_threads(2):
        before = CHECKPOINT_EVENTS["trained"]
        with monkeypatch.context() as m:  # the premise: the loops run elsewhere
            m.setattr(pretraining, "train_lm", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained here")))
            pooled = pretraining.pretrain_runs(data, size, runs, device="cpu", threads=1)
            model, history, loaded = pretraining.train_cached(
                size,
                vocab,
                blocks,
                blocks[:2],
                settings,
                seed=1,
                device="cpu",
                threads=1,
                data_key=data.key,
                return_model=True,
                trained=pooled[runs[1]],
            )
        assert CHECKPOINT_EVENTS["trained"] - before == 2 and list(pooled) == runs and not loaded
        assert pretraining.pretrain_runs(data, size, runs, device="cpu") == {}  # the run's threads: one at a time
    with fixed_threads(1):
        assert pretraining.pretrain_runs(data, size, runs, device="cpu", threads=1) == {}  # one thread: no pool
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "one"))
    for settings_, seed in runs:
        here, record, was_loaded = pretraining.train_cached(
            size,
            vocab,
            blocks,
            blocks[:2],
            settings_,
            seed=seed,
            device="cpu",
            threads=1,
            data_key=data.key,
            return_model=True,
        )
        state = pooled[(settings_, seed)][0]
        assert not was_loaded and record.train_loss == pooled[(settings_, seed)][1]["history"].train_loss
        assert all(torch.equal(v, state[k]) for k, v in here.state_dict().items()), seed
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in here.state_dict().items())  # seed 1, both ways
    # the chapter's loops read train_runs: every run in order, here loaded from the pool's cache
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "pool"))
    again = list(pretraining.train_runs(data, size, runs, device="cpu", threads=1))
    assert [was for _, was in again] == [True, True]
    assert [h.train_loss for h, _ in again] == [pooled[r][1]["history"].train_loss for r in runs]
