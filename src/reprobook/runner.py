"""Batch execution of the chapters with papermill.

``reprobook run`` executes notebooks one after another, or several at once (``jobs``: one per GPU, or
each with its share of the CPU cores, never more threads than cores: two torch processes that each take
every core slow each other down by an order of magnitude), producers of a shared artefact before the
chapters that need it (:func:`reprobook.profiles.run_order`), injects parameters
into each notebook's cell tagged ``parameters``, and writes the executed copies under the
executed-notebooks folder, each with a log (``<name>.log``: every cell's start, end and output, timed).
:mod:`reprobook.dispatch` shares out the GPUs or cores, or submits one Slurm job per notebook.

Guarantees:

* parameters are checked against every notebook's ``parameters`` cell *before* any work starts;
  an unknown name or a wrong type stops the run with an error naming the parameter and the allowed
  values;
* a run is written to a temporary file and renamed only when it succeeded, and its results JSON is
  promoted from a staging folder only then: a failed run never overwrites the last good copy
  (the failed notebook is kept beside it as ``<name>.failed.ipynb`` for debugging);
* a notebook whose source, parameters and package (version and source files) are unchanged since
  its last good run is skipped unless ``force`` (a dry run and a real one, or runs with other
  overrides, are never taken for each other);
* a failing notebook does not stop the others; the caller gets every outcome and a table that checks
  every run against its chapter's budget (:func:`reprobook.profiles.budget_seconds`) and sums them.

``dry_run=True`` (``reprobook run --profile paper --dry-run``) executes the profile's configuration with
every loop capped (:mod:`reprobook.configs.dry`): the kernel gets ``REPROBOOK_DRY_RUN``, a scratch cache
for its checkpoints (:func:`reprobook.paths.scratch_cache`), and its executed copies and results go to
``dry-run/`` folders inside the usual ones unless others are given. ``overrides``
(``{chapter: {field: value}}``, ``reprobook run --set CHAPTER.FIELD VALUE``) change single fields of the
run's profile for the chapters that ask for their configuration (:func:`reprobook.profiles.config`).
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from . import __version__, dryrun
from .checks import ParameterError, check_choice, check_device, check_seed
from .configs import dry
from .paths import PACKAGE_DIR, executed_dir, project_root, results_dir, scratch_cache
from .pool import process_pool
from .profiles import OVERRIDES_ENV, PROFILES, budget_seconds, chapter_of_notebook, check_overrides, run_order
from .results import atomic_write_text, checkpoints_of
from .timing import Timer

RUNS_FILE = "runs.json"
KERNEL = "reprobook"
# The whole book's goal per profile, cold, on a 2-core CPU: the figure to steer the chapters' budgets by
# (tiny: the notebooks' share of `make test`'s 20 minutes; smoke: `make book`).
BOOK_GOAL_SECONDS: dict[str, float] = {"tiny": 10 * 60, "smoke": 45 * 60}
DRY_RUN_FOLDER = "dry-run"  # a dry run's executed copies and results: <executed>/dry-run, <results>/dry-run


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
    budget: float | None = None  # the chapter's budget in this profile (seconds on a 2-core CPU; None: none)
    checkpoints: dict[str, int] = field(default_factory=dict)  # trained models loaded / trained by the run
    log: str = ""  # the run's log file
    dry_run: bool = False  # the profile's configuration with every loop capped (never evidence)
    overrides: dict[str, Any] = field(default_factory=dict)  # {chapter: {field: value}} over the profile's
    # notebooks of the run that shared this machine's CPU cores at once (1: alone; then its seconds are the
    # chapter's own, the ones its budget is about; more: each had a share of the cores beside the others)
    jobs: int = 1

    @property
    def cold(self) -> bool:
        """Whether the run trained (or converted) its models instead of loading any from the cache."""
        return not self.checkpoints.get("loaded", 0)


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
                    # a bare annotation (value None) makes literal_eval raise ValueError, as it always has
                    defaults[target.id] = ast.literal_eval(cast(ast.expr, node.value))
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
        check_choice("profile", params["profile"], PROFILES)
    if "device" in params:
        check_device("device", params["device"])
    if "seed" in params:
        check_seed("seed", params["seed"])


def parse_cli_value(text: str) -> Any:
    """``-p name value`` values are YAML scalars, as in papermill: ``3`` is an int, ``true`` a bool."""
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


def run_key(
    notebook: Path, params: dict[str, Any], *, dry_run: bool = False, overrides: dict[str, Any] | None = None
) -> str:
    """What a run depends on: the notebook, its parameters, the package, whether it is a dry run, and the
    field overrides; a run whose key matches the last good run's is skipped."""
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    if dry_run or overrides:  # (absent from a plain run's key, which stays what it was)
        digest.update(
            json.dumps({"dry_run": dry_run, "overrides": overrides or {}}, sort_keys=True, default=str).encode()
        )
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


def thread_environment(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Thread counts for the kernels: every core to the one notebook running, unless ``overrides``
    (a parallel run's share) or the caller's environment say otherwise."""
    overrides = overrides or {}
    n = overrides.get("REPROBOOK_THREADS") or os.environ.get("REPROBOOK_THREADS") or str(os.cpu_count() or 1)
    if "REPROBOOK_THREADS" in overrides:
        return {var: n for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "REPROBOOK_THREADS")}
    return {
        var: os.environ.get(var, n)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "REPROBOOK_THREADS")
    }


def ensure_kernel() -> str:
    """Register this interpreter as the Jupyter kernel ``reprobook`` (in its own prefix) if needed.

    Notebooks name this kernel, so papermill and JupyterLab use the project's environment and not
    whatever ``python3`` kernel a user's profile happens to define first.
    """
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


def log_path(out_dir: Path, name: str) -> Path:
    """The log of the last run of notebook ``name``, next to its executed copy."""
    return Path(out_dir) / f"{name}.log"


@contextlib.contextmanager
def _papermill_log(path: Path):
    """Send papermill's log (each cell's start and end, and its output) to ``path``, timed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("papermill")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def _checkpoint_counts(results: list[Path]) -> dict[str, int]:
    """Trained models loaded / trained, summed over the results files a run wrote."""
    counts = {"loaded": 0, "trained": 0}
    for path in results:
        with contextlib.suppress(ValueError, OSError):
            found = checkpoints_of(json.loads(path.read_text(encoding="utf-8")))
            for key in counts:
                counts[key] += found[key]
    return counts


def run_environment(
    profile: str, *, dry_run: bool = False, overrides: dict[str, Any] | None = None, cache: Path | None = None
) -> dict[str, str]:
    """What a kernel's environment adds for a dry run (:mod:`reprobook.configs.dry`, and a scratch cache for
    its checkpoints) and for field overrides of ``profile`` (:data:`reprobook.profiles.OVERRIDES_ENV`)."""
    env = dict(dryrun.environment(dry_run, profile))
    if dry_run:
        env["REPROBOOK_CACHE"] = str(scratch_cache(DRY_RUN_FOLDER, cache))
    if overrides:
        env[OVERRIDES_ENV] = json.dumps({profile: overrides}, sort_keys=True, default=str)
    return env


def execute_one(
    notebook: Path,
    params: dict[str, Any],
    *,
    out_dir: Path,
    res_dir: Path,
    root: Path | None = None,
    timeout: int | None = None,
    env: dict[str, str] | None = None,
    progress: bool = False,
    dry_run: bool = False,
    overrides: dict[str, Any] | None = None,
) -> RunOutcome:
    """Execute one notebook; promote its executed copy and results only if it succeeded.

    ``env`` adds to the kernel's environment (a parallel run's GPU and thread share); ``progress``
    shows papermill's progress bar (the cell being executed and the elapsed time). Every cell's start,
    end and output go to the notebook's log (:func:`log_path`). ``dry_run`` and ``overrides``: see
    :func:`run_environment` (the caller's ``env`` wins).
    """
    import papermill as pm

    name = chapter_name(notebook, root)
    target = out_dir / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.running.ipynb")
    failed = target.with_name(f"{target.stem}.failed.ipynb")
    staging = res_dir / f".staging-{name.replace('/', '-')}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    profile = str(params.get("profile", ""))
    outcome = RunOutcome(
        notebook=name,
        status="failed",
        profile=profile,
        parameters=params,
        budget=budget_seconds(name, profile, dry=dry_run) if profile in PROFILES else None,
        log=str(log_path(out_dir, name)),
        dry_run=dry_run,
        overrides=dict(overrides or {}),
    )
    env = {
        **(run_environment(profile, dry_run=dry_run, overrides=overrides) if profile in PROFILES else {}),
        **(env or {}),
    }
    env = {
        "REPROBOOK_RESULTS": str(staging),
        "REPROBOOK_EXECUTED": str(out_dir),
        "REPROBOOK_PROGRESS": "0",  # no progress bars in the executed copies
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # figures as PNG outputs, whatever the caller set
        "PYTHONHASHSEED": "0",
        **thread_environment(env),
        **{k: v for k, v in (env or {}).items() if k != "REPROBOOK_THREADS"},
    }
    clock = Timer()
    try:
        with _environment(env), _papermill_log(log_path(out_dir, name)) as log:
            log.info(
                f"{name}: profile {profile}{' (dry run)' if dry_run else ''}, parameters "
                f"{json.dumps(params, default=str)}"
                + (f", overrides {json.dumps(overrides, default=str)}" if overrides else "")
            )
            pm.execute_notebook(
                str(notebook),
                str(tmp),
                parameters=params,
                kernel_name=KERNEL,
                cwd=str(notebook.parent),
                progress_bar={"desc": name, "leave": False} if progress else False,
                log_output=True,
                execution_timeout=timeout,
            )
            log.info(f"{name}: finished in {clock.elapsed():.1f} s")
        outcome.status = "ok"
    except Exception as exc:  # noqa: BLE001 - every failure is reported, the others go on
        outcome.error = _short_error(exc)
        with contextlib.suppress(OSError), open(log_path(out_dir, name), "a", encoding="utf-8") as f:
            f.write(f"FAILED after {clock.elapsed():.1f} s: {outcome.error}\n")
    outcome.seconds = round(clock.elapsed(), 1)
    outcome.finished_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    if outcome.status == "ok":
        _clean_executed_copy(tmp)
        os.replace(tmp, target)
        failed.unlink(missing_ok=True)
        promoted = []
        for produced in sorted(staging.glob("*.json")):
            os.replace(produced, res_dir / produced.name)
            promoted.append(res_dir / produced.name)
            outcome.results.append(produced.name)
            with contextlib.suppress(ValueError, OSError, KeyError, TypeError):
                outcome.device = json.loads((res_dir / produced.name).read_text())["provenance"]["device"]
        outcome.checkpoints = _checkpoint_counts(promoted)
        outcome.executed = str(target)
    elif tmp.exists():
        os.replace(tmp, failed)
        outcome.executed = str(failed)
    shutil.rmtree(staging, ignore_errors=True)
    return outcome


def _clean_executed_copy(path: Path) -> None:
    """Fold the cell papermill injects (it repeats the parameters cell) in the book, and drop the source's
    pairing with its text copy (an executed copy has no text twin)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    nb.metadata.pop("jupytext", None)
    nbformat.write(nb, path)


_fold_injected_parameters = _clean_executed_copy  # the former name


def _short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    lines = [line for line in text if line.strip()]
    # papermill's PapermillExecutionError ends with the exception line; keep the tail.
    return " | ".join(lines[-3:])[:500] if lines else type(exc).__name__


def ordered(notebooks: Iterable[Path], root: Path | None = None) -> list[Path]:
    """``notebooks`` in the order of :func:`reprobook.profiles.run_order`: producers of a shared artefact
    (e.g. the SGD / SAM checkpoints) before the chapters that need it, otherwise alphabetical."""
    by_name = {chapter_name(nb, root): nb for nb in notebooks}
    return [by_name[name] for name in run_order(list(by_name))]


def _needs(names: list[str]) -> dict[str, frozenset[str]]:
    """For each notebook of a run, the notebooks of the same run that produce what it needs."""
    specs = {n: chapter_of_notebook(n) for n in names}
    producers: dict[str, set[str]] = {}
    for n, spec in specs.items():
        for artefact in spec.produces if spec else ():
            producers.setdefault(artefact, set()).add(n)
    return {
        n: frozenset(p for a in (spec.needs if spec else ()) for p in producers.get(a, ()) if p != n)
        for n, spec in specs.items()
    }


def longest_first(tasks: list[Any], profile: str, dry_run: bool = False) -> list[Any]:
    """``tasks`` ordered for parallel slots: the longest chain of budgets first (a notebook's budget plus the
    longest chain of the notebooks that need it), ties in the run order. A notebook without a budget (the
    paper profile) counts as its chain's length alone; :func:`reprobook.dispatch.dispatch` still starts
    each only after the notebooks it needs."""
    budget = {
        t.name: (budget_seconds(t.name, profile, dry=dry_run) or 0.0) if profile in PROFILES else 0.0 for t in tasks
    }
    users: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for need in t.needs:
            if need in users:
                users[need].append(t.name)
    chain: dict[str, float] = {}

    def length(name: str, seen: frozenset[str] = frozenset()) -> float:
        if name not in chain:
            after = [length(u, seen | {name}) for u in users[name] if u not in seen | {name}]
            chain[name] = budget[name] + max(after, default=0.0)
        return chain[name]

    order = {t.name: i for i, t in enumerate(tasks)}
    return sorted(tasks, key=lambda t: (-length(t.name), order[t.name]))


def _cold_key(outcome: RunOutcome) -> str:
    """Where the record of runs keeps an outcome's last cold time: its profile, ``paper dry`` for a dry run."""
    return outcome.profile + (" dry" if outcome.dry_run else "")


def _record(out_dir: Path, outcome: RunOutcome) -> None:
    """Write ``outcome`` into the record of runs: a good run replaces the entry (keeping the last cold
    time of each profile), a failed one is noted beside the last good run."""
    runs = read_runs(out_dir)
    name = outcome.notebook
    previous = runs.get(name, {})
    if outcome.status == "ok":
        cold = dict(previous.get("cold", {}))
        if outcome.cold:
            cold[_cold_key(outcome)] = {
                "seconds": outcome.seconds,
                "finished_at": outcome.finished_at,
                "jobs": outcome.jobs,
            }
        runs[name] = {**asdict(outcome), "cold": cold}
    elif name in runs:
        runs[name]["last_failure"] = {"finished_at": outcome.finished_at, "error": outcome.error}
    else:
        runs[name] = {**asdict(outcome), "key": ""}
    _write_runs(out_dir, runs)


def run(
    notebooks: Iterable[Path],
    *,
    params: dict[str, Any] | None = None,
    force: bool = False,
    out_dir: Path | None = None,
    res_dir: Path | None = None,
    root: Path | None = None,
    timeout: int | None = None,
    echo=print,
    jobs: int = 1,
    devices: list[str] | None = None,
    executor: str = "local",
    slurm=None,
    progress: bool = False,
    dry_run: bool = False,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[RunOutcome]:
    """Execute ``notebooks`` with ``params``; see the module docstring for the guarantees.

    ``jobs`` > 1 runs that many notebooks at once, one on each of ``devices`` (GPUs: see
    :func:`reprobook.dispatch.check_jobs`, which the command line applies); ``executor="slurm"``
    submits each notebook as a Slurm job with the resources of ``slurm`` (a
    :class:`reprobook.dispatch.SlurmOptions`). Outcomes come back in run order.

    ``dry_run``: the profile's configuration with every loop capped, into ``dry-run/`` folders unless
    ``out_dir`` / ``res_dir`` are given; ``overrides``: ``{chapter: {field: value}}`` over the profile's
    values (checked here, before any work).
    """
    from . import dispatch  # noqa: PLC0415  (the job dispatcher, when a run is asked for: `reprobook --help` stays light)

    notebooks = ordered(list(notebooks), root)
    params = dict(params or {})
    params.setdefault("profile", "smoke")
    check_choice("executor", executor, dispatch.EXECUTORS)
    for nb in notebooks:  # every check before any work
        check_parameters(nb, params)
    overrides = check_overrides(overrides or {})
    if executor == "local" and jobs != 1 and (devices is None or len(devices) < jobs):
        raise ParameterError("jobs", jobs, f"a device per job (devices: {devices})")
    out_dir = Path(out_dir or (executed_dir() / DRY_RUN_FOLDER if dry_run else executed_dir()))
    res_dir = Path(res_dir or (results_dir() / DRY_RUN_FOLDER if dry_run else results_dir()))
    out_dir.mkdir(parents=True, exist_ok=True)
    res_dir.mkdir(parents=True, exist_ok=True)
    ensure_kernel()
    outcomes: dict[str, RunOutcome] = {}
    tasks: list[dispatch.Task] = []
    names = [chapter_name(nb, root) for nb in notebooks]
    needs = _needs(names)
    for nb, name in zip(notebooks, names):
        key = run_key(nb, params, dry_run=dry_run, overrides=overrides)
        previous = read_runs(out_dir).get(name)
        if not force and previous and previous.get("key") == key and (out_dir / f"{name}.ipynb").exists():
            fields = {f: previous[f] for f in RunOutcome.__dataclass_fields__ if f in previous}
            outcomes[name] = RunOutcome(**{**fields, "status": "skipped"})
            echo(f"[skip] {name}: unchanged since its run of {previous.get('finished_at')} (--force re-runs)")
            continue
        tasks.append(
            dispatch.Task(
                name,
                needs[name] & set(names),
                {
                    "notebook": nb,
                    "params": params,
                    "out_dir": out_dir,
                    "res_dir": res_dir,
                    "root": root,
                    "timeout": timeout,
                    "key": key,
                    "dry_run": dry_run,
                    "overrides": overrides,
                },
            )
        )

    # notebooks sharing the CPU cores: a parallel local run on the CPU (GPU jobs and Slurm jobs each have their own)
    shared = jobs if executor == "local" and jobs > 1 and dispatch.CPU in (devices or []) else 1
    if executor == "local" and jobs > 1:  # the longest chains first, so that no long notebook starts last
        tasks = longest_first(tasks, params["profile"], dry_run)

    def finished(task: dispatch.Task, handle: Any) -> None:
        try:
            outcome = handle.result()
        except Exception as exc:  # noqa: BLE001 - a job that never returned (killed, timed out)
            outcome = RunOutcome(
                notebook=task.name,
                status="failed",
                profile=params["profile"],
                parameters=params,
                error=dispatch.job_error(exc),
                dry_run=dry_run,
                overrides=overrides,
                finished_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            )
        outcome.key = task.kwargs["key"] if outcome.status == "ok" else ""
        outcome.jobs = shared
        echo(
            f"[{'ok' if outcome.status == 'ok' else 'FAIL':4}] {task.name}: {outcome.seconds:.1f} s"
            + (f" -- {outcome.error}" if outcome.error else "")
        )
        _record(out_dir, outcome)
        outcomes[task.name] = outcome

    def announce(task: dispatch.Task, where: str = "") -> None:
        echo(
            f"[run ] {task.name} (profile {params['profile']}{', dry run' if dry_run else ''}{where}) ... "
            f"log: {log_path(out_dir, task.name)}"
        )

    def arguments(task: dispatch.Task, env: dict[str, str] | None = None, show: bool = False) -> dict[str, Any]:
        kw = {k: v for k, v in task.kwargs.items() if k != "key"}
        return {**kw, "env": env, "progress": show}

    if executor == "slurm":
        options = slurm or dispatch.SlurmOptions()
        jobs_dir = out_dir / ".jobs"
        submitter = dispatch.submitit_executor(options, params["profile"], jobs_dir)

        threads = {"REPROBOOK_THREADS": str(options.resolved(params["profile"])["cpus_per_job"])}

        def start(task, _slot):
            announce(task, f", {options.cluster} job")
            return submitter.submit(execute_one, **arguments(task, threads))

        dispatch.dispatch(tasks, start, [None] * max(1, len(tasks)), finished, poll_seconds=options.poll_seconds)
    elif jobs == 1:
        device = devices[0] if devices else None
        env = dispatch.device_environment(device, 1, os.cpu_count() or 1) if device else None

        def start(task, _slot):
            announce(task, f", {device}" if device else "")
            return dispatch.done_future(execute_one, **arguments(task, env, show=progress))

        dispatch.dispatch(tasks, start, [None], finished)
    else:
        assert devices is not None  # a parallel local run: checked above (a device per job)
        slots = list(devices[:jobs])
        with process_pool(jobs) as pool:

            def start(task, device):
                announce(task, f", {device}")
                env = dispatch.device_environment(device, jobs, os.cpu_count() or 1)
                return pool.submit(execute_one, **arguments(task, env))

            dispatch.dispatch(tasks, start, slots, finished)
    return [outcomes[name] for name in names]


def budget_note(seconds: float, budget: float | None) -> str:
    """``within`` or ``OVER`` the budget; empty without one (the paper profile)."""
    if budget is None:
        return ""
    return "within" if seconds <= budget else "OVER"


def _budget_of(outcome: RunOutcome) -> float | None:
    if outcome.budget is not None:
        return outcome.budget
    if outcome.profile in PROFILES:
        return budget_seconds(outcome.notebook, outcome.profile, dry=outcome.dry_run)
    return None


def _book_goal(kind: str) -> float | None:
    """The whole book's goal for a run of ``kind`` (a profile, or ``<profile> dry``)."""
    if kind.endswith(" dry"):
        return dry.BOOK_GOAL_SECONDS
    return BOOK_GOAL_SECONDS.get(kind)


SHARED = "shared"  # the budget column of a notebook that shared the CPU cores with others (not checked)


def format_table(
    outcomes: list[RunOutcome], runs: dict[str, dict[str, Any]] | None = None, *, wall_seconds: float | None = None
) -> str:
    """The timing table printed after a run: one row per notebook, each checked against its chapter's
    budget, then the sums and the whole book's goal. With ``runs`` (the record of runs), a column gives
    each notebook's last cold time in the profile of its last run (``reprobook status``).

    A notebook that shared the CPU cores with others (``--jobs`` > 1 without GPUs) reads ``shared``: its
    seconds include its neighbours' load, and a chapter's budget is about the chapter run alone. The whole
    book's goal is then held against ``wall_seconds`` (the run's wall clock), not the sum of the rows."""
    header = ["notebook", "status", "profile", "device", "seconds", "budget s", "within"]
    if runs is not None:
        header.append("last cold s")
    rows = []
    total = budget_total = 0.0
    profiles = set()
    shared = max((o.jobs for o in outcomes if o.status != "skipped"), default=1)
    for o in outcomes:
        budget = _budget_of(o)
        check = SHARED if o.jobs > 1 and budget is not None else (budget_note(o.seconds, budget) or "-")
        row = [
            o.notebook,
            o.status,
            _cold_key(o),
            o.device or "-",
            f"{o.seconds:.1f}",
            f"{budget:.0f}" if budget is not None else "-",
            check if o.status != "failed" else "",
        ]
        if runs is not None:
            cold = runs.get(o.notebook, {}).get("cold", {}).get(_cold_key(o))
            row.append(
                (f"{cold['seconds']:.1f}" + (f" ({SHARED})" if cold.get("jobs", 1) > 1 else "")) if cold else "-"
            )
        rows.append(row)
        total += o.seconds
        budget_total += budget or 0.0
        profiles.add(_cold_key(o))
    sum_row = [
        "total",
        "",
        "",
        "",
        f"{total:.1f}",
        f"{budget_total:.0f}" if budget_total else "-",
        (SHARED if shared > 1 else budget_note(total, budget_total or None)) or "-",
    ]
    if runs is not None:
        sum_row.append("")
    widths = [max(len(str(r[i])) for r in [header, *rows, sum_row]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    lines = [
        line(header),
        line(["-" * w for w in widths]),
        *map(line, rows),
        line(["-" * w for w in widths]),
        line(sum_row),
    ]
    goal = _book_goal(next(iter(profiles))) if len(profiles) == 1 else None
    if shared > 1:
        lines.append(
            f"({shared} notebooks at once, each on a share of the CPU cores: a notebook's seconds include "
            "its neighbours' load, so they are not held to the chapter budgets, which are seconds of a "
            "chapter run alone on a 2-core CPU with a cold cache (reprobook run NOTEBOOK --force)"
            + (f"; the run's wall clock: {wall_seconds / 60:.1f} min" if wall_seconds is not None else "")
            + (
                f", {budget_note(wall_seconds, goal)} the whole book's goal of {goal / 60:.0f} min in the "
                f"{next(iter(profiles))} profile"
                if goal and wall_seconds is not None
                else ""
            )
            + ")"
        )
    elif goal:
        lines.append(
            f"(budgets: seconds on a 2-core CPU with a cold cache; the whole book's goal in the "
            f"{next(iter(profiles))} profile is {goal / 60:.0f} min; these notebooks: {total / 60:.1f} min, "
            f"{budget_note(total, goal)})"
        )
    return "\n".join(lines)
