"""Compiling the Jupyter Book from the executed notebooks, and the generated *Reproduction status* page.

Notebook sources in ``notebooks/`` carry no outputs. ``reprobook build`` therefore assembles a staging
copy of the book (``_build/stage``): the prose under ``book/``, ``_config.yml`` and ``_toc.yml``, the
*executed* copy of every notebook at the path the table of contents names with its prose turned from
JupyterLab's ``{eval}`` into MyST-NB's glue (:func:`reprobook.lab.to_book`), and the status page
generated from the results files. Jupyter Book 1.x then builds it with ``-W -n --keep-going``, so a
warning or a broken reference fails the build. Results of the tiny profile (which test the code path
and are no evidence) are refused unless asked for (``--allow-tiny``; the status page marks them).
"""

from __future__ import annotations

import datetime as _dt
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from . import claims, runner
from .lab import ProseError, notebook_to_book
from .paths import executed_dir, project_root
from .profiles import PROFILES, budget_seconds
from .results import checkpoints_of, load_results
from .runner import budget_note, read_runs

STATUS_PAGE = Path("book") / "status.md"


class BuildError(RuntimeError):
    pass


def toc_files(root: Path | None = None) -> list[str]:
    """Every file the table of contents names (without suffix), in order."""
    root = root or project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for key in ("root",):
                if key in node:
                    found.append(str(node[key]))
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def toc_notebooks(root: Path | None = None) -> list[str]:
    """The notebook chapters of the table of contents, as names relative to ``notebooks/``."""
    return [f.removeprefix("notebooks/") for f in toc_files(root) if f.startswith("notebooks/")]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# the colour of each verdict (sphinx-design badges): reproduced green, partly amber, inconclusive blue-grey,
# contradicted red, not comparable grey
VERDICT_BADGES = {
    "reproduced": "bdg-success",
    "partly": "bdg-warning",
    "inconclusive": "bdg-secondary",
    "contradicted": "bdg-danger",
    "not comparable": "bdg-muted",
}


def _badge(verdict: str, text: str | None = None) -> str:
    """A sphinx-design badge. Its role reads ``text;tooltip``: a semicolon in the text would cut it there."""
    text = (text if text is not None else verdict).replace("`", "'").replace(";", ",")
    return f"{{{VERDICT_BADGES.get(verdict, 'bdg-light')}}}`{text}`"


def shown_verdict(claim: dict[str, Any]) -> str:
    """A claim's verdict as the tables show it, with its reason: ``not comparable (tiny run)``; the reason's
    semicolons shown as commas (a badge cannot hold one)."""
    reason = (claim.get("reason") or "").replace(";", ",")
    return f"{claim['verdict']} ({reason})" if reason else claim["verdict"]


def _numbers(c: dict[str, Any]) -> str:
    """A claim's unit and n, estimate with its interval, SESOI, p, power and MDE, in one paragraph."""
    if not c.get("tested"):
        return ""
    fmt = c.get("fmt") or ".3g"
    f = lambda x: "–" if x is None else format(x, fmt)  # noqa: E731
    bits = [
        f"{c.get('n')} {c.get('unit', '')}".strip(),
        f"estimate {f(c.get('estimate'))}" + ("" if c.get("low") is None else f" [{f(c['low'])}, {f(c['high'])}]"),
    ]
    if c.get("sesoi") is not None:
        bits.append(f"SESOI {f(c['sesoi'])} ({c.get('sesoi_source', '')})")
    if c.get("p") is not None:
        bits.append(
            f"p {claims.p_format(c['p'], relation=True)}"
            + (f" (Holm over {c['family']})" if (c.get("family") or 1) > 1 else "")
        )
    bits.append(f"power at SESOI {claims.power_text(c.get('power'))}")
    if c.get("power_paper") is not None:
        bits.append(f"at the paper's effect {claims.power_text(c.get('power_paper'))}")
    bits.append("MDE " + claims.mde_text(c, fmt) + (" (its parts)" if c.get("kind") == "all of" else ""))
    return "*Numbers:* " + "; ".join(bits)


def _list_table(header: list[str], rows: list[list[str]], widths: str) -> list[str]:
    """A MyST ``list-table``: cells of several paragraphs, column widths that fit the page."""
    lines = ["```{list-table}", ":header-rows: 1", f":widths: {widths}", ":width: 100%", ""]
    for row in [header, *rows]:
        for k, cell in enumerate(row):
            paragraphs = str(cell).strip().split("\n\n") or [""]
            lines.append(("* - " if k == 0 else "  - ") + paragraphs[0].replace("\n", " "))
            for extra in paragraphs[1:]:
                lines += ["", "    " + extra.replace("\n", " ")]
    lines.append("```")
    return lines


def _chapter_links(results: list[dict[str, Any]], runs: dict[str, dict[str, Any]], in_book: set[str]) -> dict[str, str]:
    """For each results file's chapter, the notebook that wrote it (when the book has it)."""
    links = {}
    for notebook, run in runs.items():
        for file in run.get("results", []):
            if notebook in in_book:
                links[file.removesuffix(".json")] = notebook
    return links


def status_markdown(results: list[dict[str, Any]], runs: dict[str, dict[str, Any]], in_book: Iterable[str] = ()) -> str:
    """The *Reproduction status* page: a summary per chapter, every claim with its verdict, the in-chapter
    checks, then the execution table with each chapter's budget. ``in_book`` names the notebooks the book
    has (their chapters are linked)."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    links = _chapter_links(results, runs, set(in_book))

    def title(r: dict[str, Any]) -> str:
        notebook = links.get(r["chapter"])
        return f"{{doc}}`{r['title']} <../notebooks/{notebook}>`" if notebook else r["title"]

    parts = [
        "(status)=",
        "# Reproduction status",
        "",
        f"This page is generated by `reprobook build` from the results files that each chapter writes "
        f"(last generated {now}). A verdict is computed by the chapter from its own numbers, at the scale "
        "of its run (listed with its claims), which is often far below the paper's. Before any result, each "
        "claim states its unit (seeds, trained models, questions, …) and how many, its smallest effect of "
        "interest (SESOI) with the reason for its size, and its test; every test is one-sided at α = 0.025 "
        "with a 95 % interval, and the p-values of a chapter are Holm-adjusted together (Holm is per chapter). "
        "The words:",
        "",
        *[f"- {_badge(w)} {claims.MEANINGS[w]}." for w in claims.VERDICTS],
        "",
        "Power and the minimum detectable effect (MDE, the effect this run detects with 80 % power) are computed "
        "at the chapter's Holm level α/m with the variability the run observed. A claim read *not comparable* "
        "stands outside its chapter's Holm family: its power is its test's at α, unadjusted.",
        "",
    ]
    tiny = [r["title"] for r in results if r.get("profile") == "tiny"]
    if tiny:
        parts += [
            ":::{warning}",
            f"**Tiny runs.** The results of {', '.join(tiny)} come from the *tiny* profile, "
            "which only checks that every cell runs: none of its numbers is evidence about the paper, "
            "and every verdict reads *not comparable (tiny run)*.",
            ":::",
            "",
        ]
    parts += ["## At a glance", ""]
    if results:
        summary = []
        every = [c for r in results for c in r.get("claims", [])]
        hit, tested = claims.powered(every)
        if tested:
            read = [c for c in every if c.get("verdict") != "not comparable"]
            hit_read, tested_read = claims.powered(read)
            parts += [
                f"{hit} of {tested} tested claims ({hit / tested:.0%}) had at least 80 % power at the paper's "
                f"effect (at the smallest effect of interest where the paper gives no number); of the "
                f"{tested_read} that no guard read *not comparable*, {hit_read} had.",
                "",
            ]
        for r in results:
            counts = claims.summary_counts(r.get("claims", []))
            verdicts = " ".join(_badge(v, f"{n} {v}") for v, n in counts.items() if n) or "no claim recorded"
            checks = r.get("checks", [])
            failed = [c for c in checks if not c["passed"]]
            check_text = (
                "none"
                if not checks
                else (
                    f"{len(checks)} passed" if not failed else f"{{bdg-danger}}`{len(failed)} of {len(checks)} failed`"
                )
            )
            chapter = title(r) + (
                " {bdg-info}`tiny run`" if r.get("profile") == "tiny" else f" ({r.get('profile', '')})"
            )
            summary.append([chapter, verdicts, check_text])
        parts += _list_table(["Chapter", "Claims", "Checks"], summary, "45 40 15")
    else:
        parts.append("No chapter has recorded results yet: run `reprobook run` first.")
    parts += ["", "## Paper claims", ""]
    for r in results:
        chapter_claims = r.get("claims", [])
        if not chapter_claims:
            continue
        parts += [f"### {r['title']}", ""]
        scales = list(dict.fromkeys(c["scale"] for c in chapter_claims if c.get("scale")))
        tiny_note = " (a tiny run: no evidence)" if r.get("profile") == "tiny" else ""
        parts += [
            f"{title(r)}, {r.get('profile', '')} profile{tiny_note}. Scale of the run: " + "; ".join(scales) + ".",
            "",
        ]
        rows = []
        for c in chapter_claims:
            claim = c["claim"] + (f"\n\n*Rule:* {c['rule']}" if c.get("rule") else "")
            this_run = "\n\n".join(
                x for x in (_numbers(c), f"*This run:* {c['this_run']}" if c.get("this_run") else "") if x
            )
            rows.append(
                [
                    claim,
                    _badge(c["verdict"], shown_verdict(c)),
                    f"*Paper:* {c['paper']} ({c['source']})" + (f"\n\n{this_run}" if this_run else ""),
                ]
            )
        parts += _list_table(["Claim", "Verdict", "Paper and this run"], rows, "40 18 42") + [""]
    checks = [
        [
            title(r),
            c["name"],
            "passed" if c["passed"] else "{bdg-danger}`FAILED`",
            c.get("detail", ""),
            c.get("paper") or "-",
        ]
        for r in results
        for c in r.get("checks", [])
    ]
    if checks:
        parts += [
            "## In-chapter checks and facts",
            "",
            "Checks of the method or the measurement inside a chapter, and quantities fixed by arithmetic "
            "(facts, beside the paper's number): none of them is a paper claim or counts as reproduced.",
            "",
            _table(["Chapter", "Check", "Result", "Detail", "Paper"], checks),
            "",
        ]
    parts += ["## Execution", ""]
    by_file = {f"{r['chapter']}.json": r for r in results}
    run_rows = []
    total = budget_total = 0.0
    for name, run in sorted(runs.items()):
        profile = run.get("profile", "")
        if run.get("status") == "failed":
            note = run.get("error", "")
        else:
            failure = run.get("last_failure")
            notes = [f"last attempt failed at {failure['finished_at']}"] if failure else []
            for file in run.get("results", []):
                record = by_file.get(file, {})
                cache = checkpoints_of(record)
                if cache.get("loaded"):
                    total_models = cache["loaded"] + cache.get("trained", 0)
                    notes.append(f"{cache['loaded']} of {total_models} trained models loaded from the checkpoint cache")
            note = "; ".join(notes)
        seconds = float(run.get("seconds", 0.0))
        budget = run.get("budget")
        if budget is None and profile in PROFILES:
            budget = budget_seconds(name, profile)
        cold = run.get("cold", {}).get(profile)
        total += seconds
        budget_total += budget or 0.0
        # a run that shared the CPU cores with other notebooks is not held to the budget of a chapter run alone
        within = runner.SHARED if run.get("jobs", 1) > 1 else budget_note(seconds, budget)
        # a line may break after the part ("alignment/" ‹break› "baichuan_alignment"): the table fits the page
        run_rows.append(
            [
                name.replace("/", "/<wbr>"),
                "{bdg-info}`tiny`" if profile == "tiny" else profile,
                f"{seconds:.1f}",
                f"{budget:.0f} ({within})" if budget is not None else "-",
                (f"{cold['seconds']:.1f}" + (f" ({runner.SHARED})" if cold.get("jobs", 1) > 1 else ""))
                if cold
                else "-",
                note or run.get("status", ""),
            ]
        )
    if run_rows:
        parts.append(
            "Seconds of the last run of each notebook and its chapter's budget in that profile "
            "(wall clock with a cold cache on a 2-core CPU); *cold* is the last run that trained its "
            "models instead of loading them from the checkpoint cache; *shared*: the notebook ran beside "
            "another on a share of the cores (`make book` runs two at once on a CPU), so its seconds "
            "are not held to the budget of a chapter run alone."
        )
        parts.append("")
        run_rows.append(["**total**", "", f"{total:.1f}", f"{budget_total:.0f}" if budget_total else "-", "", ""])
        parts.append(_table(["Notebook", "Profile", "Seconds", "Budget", "Cold s", "Note"], run_rows))
    else:
        parts.append("No notebook has been executed yet.")
    machines = sorted(
        {
            (
                _device(r["provenance"]),
                r["provenance"].get("platform", ""),
                r["provenance"].get("libraries", {}).get("torch"),
                r["provenance"].get("git_commit"),
            )
            for r in results
        }
    )
    if machines:
        parts += ["", "## Machines and versions", ""]
        parts.append(
            _table(["Device", "Platform", "torch", "Commit"], [[d, p, t or "-", c or "-"] for d, p, t, c in machines])
        )
    return "\n".join(parts) + "\n"


def _device(prov: dict[str, Any]) -> str:
    """The device of a run; on a CPU with the instruction set its kernels used (results/provenance)."""
    device, capability = prov.get("device", ""), prov.get("cpu_capability")
    return f"{device}, {capability}" if capability and device.startswith("cpu") else device


def tiny_runs(results: list[dict[str, Any]], runs: dict[str, dict[str, Any]]) -> list[str]:
    """The chapters and notebooks whose last results come from the tiny profile."""
    found = [r.get("title") or r["chapter"] for r in results if r.get("profile") == "tiny"]
    found += [name for name, run in runs.items() if run.get("profile") == "tiny" and run.get("status") == "ok"]
    return list(dict.fromkeys(found))


def dry_runs(results: list[dict[str, Any]], runs: dict[str, dict[str, Any]]) -> list[str]:
    """The chapters and notebooks whose last results come from a dry run (``reprobook run --dry-run``)."""
    found = [r.get("title") or r["chapter"] for r in results if r.get("dry_run")]
    found += [name for name, run in runs.items() if run.get("dry_run") and run.get("status") == "ok"]
    return list(dict.fromkeys(found))


def stage(
    root: Path | None = None,
    *,
    out_dir: Path | None = None,
    res_dir: Path | None = None,
    stage_dir: Path | None = None,
    allow_tiny: bool = False,
    allow_dry_run: bool = False,
) -> Path:
    """Assemble the book's sources with executed notebooks; raise if a chapter was never executed, if a
    chapter's prose cannot be shown, or if results come from the tiny profile (unless ``allow_tiny``) or
    from a dry run (unless ``allow_dry_run``)."""
    root = root or project_root()
    out_dir = Path(out_dir or executed_dir())
    stage_dir = Path(stage_dir or root / "_build" / "stage")
    missing = [n for n in toc_notebooks(root) if not (out_dir / f"{n}.ipynb").exists()]
    if missing:
        raise BuildError(
            f"no executed copy of {', '.join(missing)} in {out_dir}; "
            "run `reprobook run` (or `make book`) before `reprobook build`"
        )
    results, runs = load_results(res_dir), read_runs(out_dir)
    tiny = tiny_runs(results, runs)
    if tiny and not allow_tiny:
        raise BuildError(
            f"the results of {', '.join(tiny)} come from the tiny profile, which only tests that "
            "every cell runs and is no evidence: run `reprobook run --profile smoke` first, or build "
            "with --allow-tiny (the status page then marks the tiny runs)"
        )
    dry = dry_runs(results, runs)
    if dry and not allow_dry_run:
        raise BuildError(
            f"the results of {', '.join(dry)} come from a dry run (every loop capped, stand-ins for "
            "what the network would bring), which only tests the paper's code path and is no "
            "evidence: run `reprobook run` without --dry-run first, or build with --allow-dry-run"
        )
    shutil.rmtree(stage_dir, ignore_errors=True)
    stage_dir.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage_dir / name)
    shutil.copytree(root / "book", stage_dir / "book")
    for name in toc_notebooks(root):
        dest = stage_dir / "notebooks" / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out_dir / f"{name}.ipynb", dest)
        try:
            notebook_to_book(dest)
        except ProseError as exc:
            raise BuildError(f"notebooks/{name}: {exc}") from None
    (stage_dir / STATUS_PAGE).write_text(status_markdown(results, runs, toc_notebooks(root)), encoding="utf-8")
    return stage_dir


def build(
    root: Path | None = None,
    *,
    out_dir: Path | None = None,
    res_dir: Path | None = None,
    output: Path | None = None,
    strict: bool = True,
    allow_tiny: bool = False,
    allow_dry_run: bool = False,
) -> Path:
    """Build the HTML book; return the folder of ``index.html``. Warnings fail the build when ``strict``."""
    root = root or project_root()
    output = Path(output or root)
    stage_dir = stage(
        root,
        out_dir=out_dir,
        res_dir=res_dir,
        stage_dir=output / "_build" / "stage",
        allow_tiny=allow_tiny,
        allow_dry_run=allow_dry_run,
    )
    html = output / "_build" / "html"
    shutil.rmtree(html, ignore_errors=True)
    command = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(stage_dir),
        "--builder",
        "html",
        "--path-output",
        str(output),
        "--keep-going",
    ]
    if strict:
        command += ["-W", "-n"]
    done = subprocess.run(command, cwd=stage_dir)
    if done.returncode != 0 or not (html / "index.html").exists():
        raise BuildError(f"the book build failed (exit {done.returncode}); see the warnings above")
    return html
