import pytest

from reprobook import profiles
from reprobook.profiles import ParameterError


def test_every_chapter_has_every_profile():
    profiles.config("rwp")  # registers every chapter
    assert profiles.PROFILES == ("tiny", "smoke", "paper")
    for chapter, spec in profiles.CHAPTERS.items():
        assert set(spec.values) == set(profiles.PROFILES), chapter
        for profile in profiles.PROFILES:
            cfg = profiles.config(chapter, profile)  # every field without a default is given, no unknown one
            assert cfg.profile == profile
            assert profiles.budget_seconds(spec.notebook, profile) == (
                profiles.TINY_BUDGET_SECONDS if profile == "tiny" else cfg.budget_seconds
            )
        assert profiles.config(chapter, "smoke").budget_seconds, f"{chapter}: no smoke budget"


def test_every_chapter_module_is_used_and_every_notebook_has_a_configuration():
    """Found by walking the package and the notebooks, so that a chapter added later is checked too."""
    import importlib
    import pkgutil
    from pathlib import Path

    import reprobook.configs as package
    from reprobook.runner import chapter_name, discover

    profiles.config("rwp")
    used = {cls.__module__ for spec in profiles.CHAPTERS.values() for cls in spec.config_class.__mro__}
    for module in pkgutil.iter_modules(package.__path__):
        name = f"{package.__name__}.{module.name}"
        source = Path(importlib.import_module(name).__file__).read_text()
        if name in ("reprobook.configs.dry", "reprobook.configs.registry"):  # every chapter's dry-run caps
            continue  # (tests/test_dry_run.py checks them) and the registry itself
        assert name in used or "register_chapter(" in source, (
            f"{name} registers no chapter and no registered chapter's configuration builds on it"
        )
    root = Path(__file__).resolve().parents[1] / "notebooks"
    for notebook in discover(root):
        name = chapter_name(notebook, root)
        spec = profiles.chapter_of_notebook(name)
        assert spec is not None, f"notebooks/{name}.ipynb has no chapter configuration (profiles.register_chapter)"
        assert set(spec.values) == set(profiles.PROFILES), name


def test_smoke_is_smaller_than_paper():
    smoke, paper = profiles.config("rwp", "smoke"), profiles.config("rwp", "paper")
    assert smoke.epochs < paper.epochs
    assert smoke.n_train is not None and paper.n_train is None  # the paper profile uses the whole split
    assert smoke.n_seeds >= 3 and paper.n_seeds >= 3


def test_paper_profile_uses_the_papers_hyperparameters():
    cfg = profiles.config("rwp", "paper")
    assert (cfg.gamma, cfg.alpha, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.epochs) == (
        0.01,
        0.5,
        256,
        0.1,
        1e-3,
        200,
    )
    assert cfg.model == "resnet18_cifar"


def test_unknown_profile_names_the_parameter_and_allowed_values():
    with pytest.raises(ParameterError) as err:
        profiles.config("rwp", "huge")
    for name in ("'profile'", "'tiny'", "'smoke'", "'paper'"):
        assert name in str(err.value)


def test_unknown_override_is_refused():
    with pytest.raises(ParameterError, match="'epoch'.*epochs"):
        profiles.config("rwp", "smoke", epoch=3)
    assert profiles.config("rwp", "smoke", epochs=1).epochs == 1


def test_unknown_chapter():
    with pytest.raises(ParameterError, match="'chapter'.*rwp"):
        profiles.config("nope")


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_valid_devices(device):
    assert profiles.check_device(device) == device


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", 0, None])
def test_invalid_devices(device):
    with pytest.raises(ParameterError, match="'device'"):
        profiles.check_device(device)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_invalid_seeds(seed):
    with pytest.raises(ParameterError, match="'seed'"):
        profiles.check_seed(seed)


def test_required_data_lists_registry_names():
    from reprobook import data

    for profile in profiles.PROFILES:
        for name in profiles.required_data(profile):
            data.get(name)  # raises for a name the registry does not know
