"""Recording what a chapter measured: metrics, timings, claims, checks and provenance, as one JSON file.

Every paper notebook ends by saving a :class:`RunRecord`. The book's *Reproduction status* page is
generated from these files (see :mod:`reprobook.book`), and every number a chapter quotes in its prose
goes through :meth:`RunRecord.glue`, which stores it in the record, glues it into the page (MyST-NB
glue) *and* binds it to its name in the kernel, so that the prose's ``{eval}`name``` shows it in
JupyterLab too (:mod:`reprobook.lab` turns ``{eval}`` into ``{glue:text}`` when the book is built).
No number is ever typed.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import dataclasses as _dc
import datetime as _dt
import io
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .checks import ParameterError, check_choice, check_str
from .claims import ClaimTest, claims_table, dry_run, tiny_run
from .paths import project_root, results_dir
from .profiles import PROFILES
from .timing import Timer, timed

LIBRARIES = (
    "torch",
    "torchvision",
    "transformers",
    "trl",
    "diffusers",
    "accelerate",
    "scikit-learn",
    "numpy",
    "pytorch-ood",
    "papermill",
)


@dataclass
class Check:
    """An in-chapter check (a sanity check of the method or the measurement, not a paper claim).

    Recorded by :meth:`RunRecord.check` under ``"checks"`` in the results file; the status page lists
    them and the end-to-end test of the book fails when one did not pass.
    """

    name: str
    passed: bool
    detail: str = ""
    paper: str = ""  # for a fact (a quantity fixed by arithmetic), the paper's number beside this run's

    def __str__(self) -> str:
        return f"{'passed' if self.passed else 'FAILED'}: {self.name}" + (f" ({self.detail})" if self.detail else "")

    __repr__ = __str__


# Process-wide counts of trained models loaded from the checkpoint cache or trained (converted) anew;
# training.train_or_load adds to them, RunRecord.to_dict writes the counts of its run.
CHECKPOINT_EVENTS = {"loaded": 0, "trained": 0}


def note_checkpoint(loaded: bool) -> None:
    """Count one trained model: ``loaded`` from the cache, or trained (converted) by this process."""
    CHECKPOINT_EVENTS["loaded" if loaded else "trained"] += 1


class Glued:
    """A glued value: the number itself and how the prose shows it (``format(value, fmt)``).

    Its text form is the formatted value, so ``{glue:text}`name``` in the book and ``{eval}`name``` in
    JupyterLab show exactly that text.
    """

    def __init__(self, value: Any, fmt: str | None = None):
        self.value, self.fmt = value, fmt

    def __str__(self) -> str:
        if self.fmt and self.value is not None:
            return format(self.value, self.fmt)
        return str(self.value)

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(self.value, spec) if spec else str(self)


class GluedFigure:
    """A glued figure as an inline expression shows it in JupyterLab: an image at its own size.

    JupyterLab's MyST renderer draws an image result of ``{eval}`` at the height of a line of text;
    an HTML ``<img>`` with its own size shows the figure as the book does.
    """

    def __init__(self, fig: Any):
        self.fig = fig

    def _repr_html_(self) -> str:
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", bbox_inches="tight")
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        return (
            f'<img src="data:image/png;base64,{data}" alt="figure" style="height:auto;max-width:100%;transform:none">'
        )

    def __repr__(self) -> str:
        return f"<figure {getattr(self.fig, 'number', '')}>"


def _bind_in_kernel(name: str, value: Any) -> None:
    """Bind ``name`` to ``value`` in the notebook's namespace, for ``{eval}`name``` in JupyterLab.

    A name the notebook already uses for a variable of its own is refused: rebinding it would change
    the notebook's later cells.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    if not isinstance(name, str) or not name.isidentifier():
        raise ParameterError("name", name, "a Python identifier (the prose shows the value as {eval}`name`)")
    if name in shell.user_ns and not isinstance(shell.user_ns[name], (Glued, GluedFigure)):
        raise ParameterError(
            "name",
            name,
            "a glue name that no variable of the notebook uses (the prose's "
            f"{{eval}}`{name}` reads the glued value under that name); rename the variable or "
            "the glued value",
        )
    shell.user_ns[name] = value


def glue_name_part(label: Any) -> str:
    """A row or column label as part of a glue name: lower case, each run of other characters than ASCII
    letters and digits one underscore, none at either end (``"CoP + MSP"`` → ``cop_msp``, ``""`` → ``""``)."""
    text = str(label).lower()
    return "_".join(part for part in re.split(r"[^a-z0-9]+", text) if part)


def facts(fmt: Mapping[str, str] | None = None, /, **values: Any) -> Any:
    """A result's scalar facts as one pandas Series (labels the names, ``attrs["fmt"]`` how the prose shows
    them), glued by :meth:`RunRecord.glue_table` as ``<prefix>_<name>``. Values keep their types (an int stays
    an int beside floats)."""
    import pandas as pd  # noqa: PLC0415  (pandas only where a chapter builds a result: the CLI imports results)

    series = pd.Series(values, dtype=object)
    series.attrs["fmt"] = dict(fmt or {})
    return series


def _is_table(value: Any) -> bool:
    """A pandas DataFrame or Series (subclasses too), without importing pandas (the command line reads results):
    where pandas was never imported, nothing can be one."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, (pd.DataFrame, pd.Series))


def _cell_format(fmt: str | Mapping[Any, str] | None, row: Any, col: Any) -> str | None:
    """The format of a table's cell: ``fmt`` itself, or its entry for ``(row, col)``, ``col`` or ``row``."""
    if not isinstance(fmt, Mapping):
        return fmt
    for key in ((row, col), col, row):
        with contextlib.suppress(TypeError):  # an unhashable label is no key
            if key in fmt:
                return fmt[key]
    return None


def glued(fmt: str | None = None, **kwargs: Any):
    """A dataclass field of a result object that is glued, shown with ``fmt`` (see :meth:`RunRecord.glue_result`)."""
    return _dc.field(metadata={"glue": True, "fmt": fmt}, **kwargs)


def _git_commit(root: Path) -> str | None:
    """The commit the code ran at: ``$REPROBOOK_GIT_COMMIT`` when set (a copy of the working tree on another
    machine, whose ``.git`` may be missing or stale), else ``git describe`` of the checkout, else None."""
    if os.environ.get("REPROBOOK_GIT_COMMIT"):
        return os.environ["REPROBOOK_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_name(device: Any) -> str:
    """A human-readable name of the device a run used (the GPU model, or the CPU)."""
    text = str(device)
    if text.startswith("cuda"):
        try:
            import torch  # noqa: PLC0415  (torch only to name a GPU: the CLI imports results)

            return f"{text} ({torch.cuda.get_device_name(torch.device(text))})"
        except Exception:  # noqa: BLE001 - a name is only a label
            return text
    if text == "cpu":
        # the model too: the budgets are seconds, which differ between 2-core VMs of other CPUs (configs/domainrag.py)
        model = cpu_model()
        return f"cpu ({model + ', ' if model else ''}{os.cpu_count()} cores, {platform.machine()})"
    return text


def cpuinfo_value(field_name: str) -> str | None:
    """The first value of ``field_name`` in ``/proc/cpuinfo`` (Linux), or None where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.lower().startswith(field_name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str | None:
    """The CPU's model name as the system reports it (``/proc/cpuinfo`` on Linux), or None where it does not."""
    return cpuinfo_value("model name") or None


def provenance(device: Any = "cpu") -> dict[str, Any]:
    """Where and how a result was produced."""
    return {
        "git_commit": _git_commit(project_root()),
        "reprobook": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "device": device_name(device),
        # torch's threads: results can differ in their last digits between thread counts (the order of sums)
        "threads": _torch_threads(),
        # the instruction set torch's CPU kernels use (AVX2, AVX512, ...): last digits can differ between them too,
        # and training carries such digits into different models, so two machines can read different verdicts
        "cpu_capability": _torch_cpu_capability(),
        "libraries": _library_versions(),
        "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _torch_threads() -> int | None:
    try:
        import torch  # noqa: PLC0415  (optional: a result file never needs torch)
    except ImportError:  # the package's result files never need torch itself
        return None
    return torch.get_num_threads()


def _torch_cpu_capability() -> str | None:
    try:
        import torch  # noqa: PLC0415  (optional: a result file never needs torch)
    except ImportError:
        return None
    return str(torch.backends.cpu.get_cpu_capability())


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _jsonable(value: Any) -> Any:
    """Plain JSON types for numpy / torch scalars and arrays; NaN becomes None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it over ``path``.

    Readers see the old file or the whole new one, never half of it; a failed write leaves the old file
    and no temporary file behind. Used for results, the runner's record, checkpoints and data stamps.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write` of a text file (UTF-8)."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


class RunRecord:
    """Everything one execution of a chapter measured.

    >>> rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    >>> rec.glue("demo_acc", 0.912)
    0.912
    >>> rec.metrics["demo_acc"]
    0.912
    """

    def __init__(
        self,
        chapter: str,
        *,
        profile: str,
        device: Any,
        seed: int,
        title: str = "",
        params: dict[str, Any] | None = None,
        dry_run: bool = False,
    ):
        self.chapter = chapter
        self.title = title or chapter
        self.profile = check_choice("profile", profile, PROFILES)
        self.device = str(device)
        self.seed = seed
        self.params = dict(params or {})
        self.metrics: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.claims: list[dict[str, Any]] = []  # rows of ClaimTest.row(), see add_claims
        self.dry_run = bool(dry_run)
        self.checks: list[Check] = []
        self.glued: dict[str, Glued] = {}
        self._clock = Timer()
        self._checkpoints_at_start = dict(CHECKPOINT_EVENTS)

    def glue(self, name: str, value: Any, fmt: str | None = None, display: bool = False) -> Any:
        """Record ``value`` as metric ``name`` and glue it for ``{eval}`name``` in the prose.

        ``fmt`` (a format spec such as ``".1%"``) is how the prose shows it: the glued text is
        ``format(value, fmt)``, so the prose names the value without a format of its own. In a kernel,
        ``name`` is also bound to the glued value, so JupyterLab's ``{eval}`name``` shows the same text
        as the book (a name a variable of the notebook already uses is refused).
        """
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            value = value.item()  # numpy / torch scalars glue as plain Python numbers
        self.metrics[name] = _jsonable(value)
        self.glued[name] = Glued(value, fmt)
        if _in_ipython():
            from myst_nb import glue

            _bind_in_kernel(name, self.glued[name])
            # glued as a str: MyST-NB literal-evaluates the glued text, so "22,746" glued as text would
            # show as the tuple (22, 746) and "0.350" as 0.35; a str's repr evaluates back to itself
            glue(name, str(self.glued[name]), display=display)
        return value

    def glue_table(self, prefix: str, table: Any, fmt: str | Mapping[Any, str] | None = None) -> Any:
        """Glue every cell of ``table`` (a pandas DataFrame or Series) as ``<prefix>_<row>_<column>``; returns it.

        Row and column labels become name parts by :func:`glue_name_part` (``"CoRP"`` → ``corp``,
        ``"FPR95 ↓"`` → ``fpr95``); an empty label adds no part, so a column named ``""`` glues its cells as
        ``<prefix>_<row>``, and a Series glues ``<prefix>_<label>``. ``fmt`` (default: the table's
        ``attrs["fmt"]``, how the function that made it says its cells show) is one format for every cell or a
        mapping whose keys are ``(row, column)`` pairs, columns or rows, the most specific one applying; a
        cell it does not name is shown as is. Two cells whose names coincide are refused, as is a name that is
        not a Python identifier. This replaces one result field per quoted number: the chapter shows the table
        and the prose quotes its cells.
        """
        check_str("prefix", prefix)
        if not _is_table(table):
            raise ParameterError("table", type(table).__name__, "a pandas DataFrame or Series")
        if fmt is None:
            fmt = table.attrs.get("fmt")
        if hasattr(table, "columns"):
            cells = [((row, col), table.at[row, col]) for row in table.index for col in table.columns]
        else:
            cells = [((label, ""), value) for label, value in table.items()]
        names: dict[str, tuple[Any, Any]] = {}
        for (row, col), value in cells:
            name = "_".join(p for p in (prefix, glue_name_part(row), glue_name_part(col)) if p)
            if name in names:
                raise ParameterError(
                    "table",
                    f"cells {names[name]} and {(row, col)}",
                    f"labels that give distinct glue names (both give {name!r})",
                )
            if not name.isidentifier():
                raise ParameterError("table", (row, col), f"labels that give an identifier (got {name!r})")
            names[name] = (row, col)
            self.glue(name, value, fmt=_cell_format(fmt, row, col))
        return table

    def glue_result(self, result: Any, prefix: str) -> Any:
        """Glue every field of a result dataclass declared with :func:`glued` as ``<prefix>_<field>``.

        Fields holding a matplotlib figure are glued as figures (:meth:`figure`); fields holding a pandas
        DataFrame or Series glue their cells by :meth:`glue_table` under ``prefix`` (the field's name adds no
        part: a result's ``facts`` Series glues ``<prefix>_<label>``), formatted by the field's ``glued(fmt)``
        or the table's ``attrs["fmt"]`` (a table with both is refused: one would silently win). Returns
        ``result``.
        """
        for f in _dc.fields(result):
            if not f.metadata.get("glue"):
                continue
            value = getattr(result, f.name)
            # the declared type (a string under postponed annotations, e.g. "pd.Series", or the class)
            kind = f.type.rsplit(".", 1)[-1] if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            if kind in ("Series", "DataFrame") and not _is_table(value):
                raise ParameterError(
                    f.name, type(value).__name__, f"a pandas {kind} (the field's type in {type(result).__name__})"
                )
            if hasattr(value, "savefig"):
                self.figure(f"{prefix}_{f.name}", value)
            elif _is_table(value):
                if f.metadata.get("fmt") is not None and value.attrs.get("fmt"):
                    raise ParameterError(
                        f.name,
                        f.metadata["fmt"],
                        "one format source: the field's glued(fmt) or the table's attrs['fmt'], not both",
                    )
                self.glue_table(prefix, value, fmt=f.metadata.get("fmt"))
            else:
                self.glue(f"{prefix}_{f.name}", value, fmt=f.metadata.get("fmt"))
        return result

    def figure(self, name: str, fig: Any) -> None:
        """Glue a matplotlib figure for the prose's captioned figure, then close it.

        The prose shows it with a ``figure`` directive whose body is ``{eval}`name``` (JupyterLab) and
        which the book build turns into ``{glue:figure} name`` (see :mod:`reprobook.lab`).
        """
        if _in_ipython():
            from myst_nb import glue

            _bind_in_kernel(name, GluedFigure(fig))
            glue(name, fig, display=False)
        import matplotlib.pyplot as plt

        plt.close(fig)

    def check(self, name: str, passed: Any, detail: str = "", *, paper: str = "") -> Check:
        """Record an in-chapter check (e.g. "the noise has the prescribed scale") and whether it passed.

        ``passed`` is anything with a truth value (a NumPy bool too); ``detail`` says what was measured
        against what. A quantity fixed by arithmetic (the compression of nested vocabularies, a count the
        method fixes) is a *fact*, recorded here with the paper's number in ``paper``, never as a claim. A
        failed check does not stop the notebook: the status page lists it and the end-to-end test of the
        book fails on it.
        """
        check_str("name", name)
        for label, text in (("detail", detail), ("paper", paper)):
            if not isinstance(text, str):
                raise ParameterError(label, text, "a string")
        row = Check(name, bool(passed), detail, paper)
        self.checks = [c for c in self.checks if c.name != name] + [row]  # a re-run cell replaces its check
        return row

    def checkpoint_counts(self) -> dict[str, int]:
        """Trained models this run loaded from the checkpoint cache or trained, since the record was made."""
        return {k: CHECKPOINT_EVENTS[k] - self._checkpoints_at_start.get(k, 0) for k in CHECKPOINT_EVENTS}

    def metric(self, name: str, value: Any) -> Any:
        """Record ``value`` without gluing it."""
        self.metrics[name] = _jsonable(value)
        return value

    @contextlib.contextmanager
    def timer(self, name: str) -> Iterator[None]:
        """Time the ``with`` block and record it under ``name`` (seconds, wall clock)."""
        try:
            with timed() as t:
                yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + t.seconds

    def add_claims(self, tests: Iterable[ClaimTest]) -> list[dict[str, Any]]:
        """Add the chapter's claim tests (:class:`reprobook.claims.ClaimTest`, Holm-adjusted together by
        :func:`reprobook.claims.holm_tests`), once: a second call replaces the first (a re-run cell). In the
        tiny profile every verdict becomes *not comparable (tiny run)*, in a dry run *not comparable (dry
        run)*; the numbers stay for the record."""
        tests = list(tests)
        keys = [t.key for t in tests if isinstance(t, ClaimTest)]
        if len(keys) != len(tests):
            bad = next(t for t in tests if not isinstance(t, ClaimTest))
            raise ParameterError("tests", bad, "reprobook.claims.ClaimTest objects (from claims.evaluate)")
        if len(set(keys)) != len(keys):
            raise ParameterError("tests", keys, "claims with distinct keys")
        rows = []
        for t in tests:
            if self.profile == "tiny":
                t = dataclasses.replace(t, verdict=tiny_run(t.verdict))
            elif self.dry_run:
                t = dataclasses.replace(t, verdict=dry_run(t.verdict))
            rows.append(_jsonable(t.row()))
        self.claims = rows
        return rows

    def claims_frame(self):
        """The *Paper vs this run* table as a pandas DataFrame (one row per claim), as the status page shows it."""
        return claims_table(self.claims)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "title": self.title,
            "profile": self.profile,
            "seed": self.seed,
            "params": _jsonable(self.params),
            "metrics": self.metrics,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "seconds": round(self._clock.elapsed(), 3),
            "dry_run": self.dry_run,
            "claims": self.claims,
            "checks": [asdict(c) for c in self.checks],
            "checkpoints": self.checkpoint_counts(),
            "provenance": provenance(self.device),
        }

    def save(self, directory: Path | None = None) -> Path:
        """Write ``<results dir>/<chapter>.json`` atomically and return its path."""
        path = Path(directory or results_dir()) / f"{self.chapter}.json"
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return path


def checkpoints_of(saved: dict[str, Any]) -> dict[str, int]:
    """Trained models a saved run loaded / trained: counted by ``train_or_load`` (``"checkpoints"``), or
    as a chapter recorded them itself (``metrics["checkpoints"]``, older results)."""
    counted = saved.get("checkpoints") or {}
    if not any(counted.values()):
        counted = saved.get("metrics", {}).get("checkpoints") or counted
    return {"loaded": int(counted.get("loaded", 0) or 0), "trained": int(counted.get("trained", 0) or 0)}


def load_results(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every saved record under ``directory``, sorted by chapter."""
    directory = Path(directory or results_dir())
    if not directory.is_dir():
        return []
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(directory.glob("*.json"))
        if not p.name.startswith(".") and p.name != "runs.json"
    ]
