"""pyproject.toml and environment.yml describe the same environment."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return pins, project["requires-python"]


def test_every_dependency_is_pinned_exactly():
    pins, _ = _pyproject_pins()
    assert all("==" in p for p in pins), [p for p in pins if "==" not in p]


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins, requires_python = _pyproject_pins()
    assert sorted(p for p in pip_section if not p.startswith("-e")) == sorted(pins)
    assert "-e ." in pip_section  # the package itself
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    version = python.split("=")[-1]
    low = requires_python.split(",")[0].removeprefix(">=")
    assert tuple(map(int, version.split("."))) >= tuple(map(int, low.split(".")))


def test_installed_versions_match_the_pins():
    from importlib import metadata

    pins, _ = _pyproject_pins()
    for pin in pins:
        name, version = pin.split("==")
        installed = metadata.version(name)
        assert installed.split("+")[0] == version, f"{name}: installed {installed}, pinned {version}"
