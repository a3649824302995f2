"""Batch execution of the chapters with papermill.

``reprobook run`` executes notebooks one after another (never two at once: on a small CPU, two torch
processes slow each other down by an order of magnitude), injects parameters into each notebook's
cell tagged ``parameters``, and writes the executed copies under the executed-notebooks folder.

Guarantees:

* parameters are checked against every notebook's ``parameters`` cell *before* any work starts;
  an unknown name or a wrong type stops the run with an error naming the parameter and the allowed
  values;
* a run is written to a temporary file and renamed only when it succeeded, and its results JSON is
  promoted from a staging folder only then: a failed run never overwrites the last good copy
  (the failed notebook is kept beside it as ``<name>.failed.ipynb`` for debugging);
* a notebook whose source, parameters and package (version and source files) are unchanged since
  its last good run is skipped unless ``force``;
* a failing notebook does not stop the others; the caller gets every outcome and a table.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import __version__
from .paths import PACKAGE_DIR, executed_dir, project_root, results_dir
from .profiles import SMOKE_BUDGET_SECONDS, ParameterError, check_device, check_profile, check_seed
from .results import atomic_write_text

RUNS_FILE = "runs.json"
KERNEL = "reprobook"


@dataclass
class RunOutcome:
    notebook: str  # path relative to the notebooks folder, without suffix, e.g. "sharpness/rwp"
    status: str  # "ok", "failed" or "skipped"
    profile: str
    device: str = ""
    seconds: float = 0.0
    error: str = ""
    executed: str = ""
    key: str = ""
    finished_at: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    results: list[str] = field(default_factory=list)  # the results files the run wrote


# ----------------------------------------------------------------------------------------------
# Finding notebooks and checking parameters
# ----------------------------------------------------------------------------------------------


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def discover(root: Path | None = None) -> list[Path]:
    """Every chapter notebook under ``notebooks/``, in a stable order."""
    root = root or notebooks_dir()
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def resolve(names: Iterable[str], root: Path | None = None) -> list[Path]:
    """Map names (``sharpness/rwp``, ``rwp``, or a path) to notebook files; unknown names raise."""
    root = root or notebooks_dir()
    available = discover(root)
    short = {p.relative_to(root).with_suffix("").as_posix(): p for p in available}
    found: list[Path] = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            found.append(path.resolve())
            continue
        key = name.removesuffix(".ipynb").removeprefix("notebooks/")
        matches = [p for k, p in short.items() if k == key or k.split("/")[-1] == key]
        if len(matches) != 1:
            raise ParameterError("notebook", name, ", ".join(sorted(short)) or "(no notebooks found)")
        found.append(matches[0])
    return found


def chapter_name(notebook: Path, root: Path | None = None) -> str:
    root = root or notebooks_dir()
    try:
        return notebook.resolve().relative_to(root.resolve()).with_suffix("").as_posix()
    except ValueError:
        return notebook.stem


def notebook_parameters(notebook: Path) -> dict[str, Any]:
    """The names and default values of a notebook's ``parameters`` cell (exactly one must exist)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{notebook}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    defaults: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    defaults[target.id] = ast.literal_eval(node.value)
    return defaults


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def check_parameters(notebook: Path, params: dict[str, Any]) -> None:
    """Raise :class:`ParameterError` for a name the notebook does not declare or a value of the wrong type."""
    defaults = notebook_parameters(notebook)
    for name, value in params.items():
        if name not in defaults:
            raise ParameterError(name, value, f"parameters of {notebook.name}: {', '.join(defaults)}")
        default = defaults[name]
        if default is None or value is None:
            continue
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(default, bool) and isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float))
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise ParameterError(name, value, f"a value of type {_type_name(default)} (default {default!r})")
    if "profile" in params:
        check_profile(params["profile"])
    if "device" in params:
        check_device(params["device"])
    if "seed" in params:
        check_seed(params["seed"])


def parse_cli_value(text: str) -> Any:
    """``-p name value`` values are YAML scalars, as in papermill: ``3`` is an int, ``true`` a bool."""
    import yaml

    return yaml.safe_load(text)


# ----------------------------------------------------------------------------------------------
# Cache keys and the record of runs
# ----------------------------------------------------------------------------------------------


def package_fingerprint() -> str:
    """The package version plus a hash of its source files: a changed helper re-runs its chapters."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_key(notebook: Path, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    digest.update(package_fingerprint().encode())
    return digest.hexdigest()[:16]


def read_runs(out_dir: Path) -> dict[str, dict[str, Any]]:
    path = out_dir / RUNS_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_runs(out_dir: Path, runs: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(out_dir / RUNS_FILE, json.dumps(runs, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------------------------
# Execution
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _environment(updates: dict[str, str]):
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def thread_environment() -> dict[str, str]:
    """Thread counts for the kernels: all cores to the one notebook running (never two at once)."""
    n = os.environ.get("REPROBOOK_THREADS") or str(os.cpu_count() or 1)
    return {var: os.environ.get(var, n) for var in
            ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "REPROBOOK_THREADS")}


def ensure_kernel() -> str:
    """Register this interpreter as the Jupyter kernel ``reprobook`` (in its own prefix) if needed.

    Notebooks name this kernel, so papermill and JupyterLab use the project's environment and not
    whatever ``python3`` kernel a user's profile happens to define first.
    """
    import sys

    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
        if os.path.abspath(spec.argv[0]) == os.path.abspath(sys.executable):
            return KERNEL
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL, display_name="Python 3 (reprobook)", prefix=sys.prefix)
    return KERNEL


def execute_one(notebook: Path, params: dict[str, Any], *, out_dir: Path, res_dir: Path,
                root: Path | None = None, timeout: int | None = None) -> RunOutcome:
    """Execute one notebook; promote its executed copy and results only if it succeeded."""
    import papermill as pm

    name = chapter_name(notebook, root)
    target = out_dir / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.running.ipynb")
    failed = target.with_name(f"{target.stem}.failed.ipynb")
    staging = res_dir / f".staging-{name.replace('/', '-')}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    outcome = RunOutcome(notebook=name, status="failed", profile=str(params.get("profile", "")),
                         parameters=params)
    env = {"REPROBOOK_RESULTS": str(staging), "REPROBOOK_EXECUTED": str(out_dir),
           "REPROBOOK_PROGRESS": "0",  # no progress bars in the executed copies
           "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # figures as PNG outputs, whatever the caller set
           "PYTHONHASHSEED": "0", **thread_environment()}
    start = time.perf_counter()
    try:
        with _environment(env):
            pm.execute_notebook(
                str(notebook), str(tmp), parameters=params, kernel_name=KERNEL,
                cwd=str(notebook.parent), progress_bar=False, log_output=False,
                execution_timeout=timeout,
            )
        outcome.status = "ok"
    except Exception as exc:  # noqa: BLE001 - every failure is reported, the others go on
        outcome.error = _short_error(exc)
    outcome.seconds = round(time.perf_counter() - start, 1)
    outcome.finished_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    if outcome.status == "ok":
        _fold_injected_parameters(tmp)
        os.replace(tmp, target)
        failed.unlink(missing_ok=True)
        for produced in sorted(staging.glob("*.json")):
            os.replace(produced, res_dir / produced.name)
            outcome.results.append(produced.name)
            with contextlib.suppress(ValueError, OSError, KeyError, TypeError):
                outcome.device = json.loads((res_dir / produced.name).read_text())["provenance"]["device"]
        outcome.executed = str(target)
    elif tmp.exists():
        os.replace(tmp, failed)
        outcome.executed = str(failed)
    shutil.rmtree(staging, ignore_errors=True)
    return outcome


def _fold_injected_parameters(path: Path) -> None:
    """Fold the cell papermill injects (the run's parameters) in the book: it repeats the parameters cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(nb, path)


def _short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    lines = [line for line in text if line.strip()]
    # papermill's PapermillExecutionError ends with the exception line; keep the tail.
    return " | ".join(lines[-3:])[:500] if lines else type(exc).__name__


def run(notebooks: Iterable[Path], *, params: dict[str, Any] | None = None, force: bool = False,
        out_dir: Path | None = None, res_dir: Path | None = None, root: Path | None = None,
        timeout: int | None = None, echo=print) -> list[RunOutcome]:
    """Execute ``notebooks`` in order with ``params``; see the module docstring for the guarantees."""
    notebooks = list(notebooks)
    params = dict(params or {})
    params.setdefault("profile", "smoke")
    for nb in notebooks:  # every check before any work
        check_parameters(nb, params)
    out_dir = Path(out_dir or executed_dir())
    res_dir = Path(res_dir or results_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    res_dir.mkdir(parents=True, exist_ok=True)
    ensure_kernel()
    outcomes: list[RunOutcome] = []
    for nb in notebooks:
        name = chapter_name(nb, root)
        key = run_key(nb, params)
        previous = read_runs(out_dir).get(name)
        if (not force and previous and previous.get("key") == key
                and (out_dir / f"{name}.ipynb").exists()):
            fields = {f: previous[f] for f in RunOutcome.__dataclass_fields__ if f in previous}
            outcome = RunOutcome(**{**fields, "status": "skipped"})
            echo(f"[skip] {name}: unchanged since its run of {previous.get('finished_at')} (--force re-runs)")
        else:
            echo(f"[run ] {name} (profile {params['profile']}) ...")
            outcome = execute_one(nb, params, out_dir=out_dir, res_dir=res_dir, root=root, timeout=timeout)
            outcome.key = key
            echo(f"[{'ok' if outcome.status == 'ok' else 'FAIL':4}] {name}: {outcome.seconds:.1f} s"
                 + (f" -- {outcome.error}" if outcome.error else ""))
            runs = read_runs(out_dir)
            if outcome.status == "ok":
                runs[name] = asdict(outcome)
            elif name in runs:
                runs[name]["last_failure"] = {"finished_at": outcome.finished_at, "error": outcome.error}
            else:
                runs[name] = {**asdict(outcome), "key": ""}
            _write_runs(out_dir, runs)
        outcomes.append(outcome)
    return outcomes


def budget_note(profile: str, seconds: float) -> str:
    """``within`` or ``OVER`` the smoke budget; empty for the paper profile, which has none."""
    if profile != "smoke":
        return ""
    return "within" if seconds <= SMOKE_BUDGET_SECONDS else "OVER"


def format_table(outcomes: list[RunOutcome]) -> str:
    """The timing table printed after a run: one row per notebook."""
    header = ("notebook", "status", "profile", "device", "seconds", f"smoke budget {SMOKE_BUDGET_SECONDS} s")
    rows = [(o.notebook, o.status, o.profile, o.device or "-", f"{o.seconds:.1f}",
             budget_note(o.profile, o.seconds) if o.status != "failed" else "") for o in outcomes]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
