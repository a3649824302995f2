"""The ``reprobook`` command: ``data``, ``run``, ``build``, ``status``, ``bench``, ``sync`` and ``lab``.

reprobook data list | fetch [NAME ...] [--profile tiny|smoke|paper] [--force] | verify [NAME ...]
               | pack [NAME ...] [--out FILE] | unpack FILE
reprobook run [NOTEBOOK ...] [--profile tiny|smoke|paper] [-p NAME VALUE ...] [--force] [--dry-run]
              [--set CHAPTER.FIELD VALUE ...] [--jobs N|auto [--devices cuda:0,cuda:1|cpu]]
              [--executor local|slurm [--partition P] [--gpus-per-job G] [--time-min T] [--mem-gb M]
              [--cpus-per-job C]] [--no-progress]
reprobook build [--no-strict] [--allow-tiny] [--allow-dry-run]
reprobook status [--dry-run]
reprobook bench [NAME ...] [--device auto|cpu|cuda|cuda:N|mps] [--profile tiny|smoke|paper] | --list
reprobook gpu-check [--device auto|cuda|cpu] [--size default|smallest] [--pack FILE] [--out DIR]
                    [--steps bench,part1,llm] [--set FIELD VALUE ...]
                    [--executor local|slurm [--partition P] [--time-min T] ...]
reprobook sync [NOTEBOOK ...] [--check]
reprobook lab [--port N] [--no-browser]
"""

from __future__ import annotations

import argparse
import sys

from .checks import ParameterError
from .profiles import PROFILES
from .timing import timed


def _data(args: argparse.Namespace) -> int:
    from . import data
    from .profiles import required_data

    if args.action == "list":
        rows = [("name", "kind", "offline", "licence", "description")]
        for entry in data.list_entries():
            rows.append((entry.name, entry.kind, "yes" if entry.offline else "no", entry.licence, entry.description))
        widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
        for row in rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
        return 0
    if args.action == "pack":
        from . import pack

        manifest = pack.pack(args.out or pack.DEFAULT_NAME, args.names or None)
        print(
            f"packed {', '.join([*manifest['entries'], *manifest['folders']])} into {args.out or pack.DEFAULT_NAME}: "
            f"{manifest['bytes'] / 2**20:.1f} MiB (at most {pack.MAX_BYTES / 2**20:.0f})"
        )
        return 0
    if args.action == "unpack":
        from . import pack

        if len(args.names) != 1:
            raise ParameterError("names", args.names, "one pack file (reprobook data unpack FILE)")
        manifest = pack.unpack(args.names[0])
        print(f"unpacked and verified: {', '.join([*manifest['entries'], *manifest['folders']])}")
        return 0
    names = args.names or (required_data(args.profile) if args.action == "fetch" else None)
    if args.action == "fetch":
        assert names is not None  # fetch: the names given, else the profile's list
        data.fetch(names, force=args.force)
        print(f"fetched and verified: {', '.join(names)}")
        return 0
    report = data.verify(names)
    bad = {name: status for name, status in report.items() if status != "ok"}
    for name, status in report.items():
        print(f"{name:32s} {status}")
    return 1 if bad else 0


def _run(args: argparse.Namespace) -> int:
    from . import dispatch, runner

    params = {name: runner.parse_cli_value(value) for name, value in args.param}
    if args.profile is not None and params.get("profile", args.profile) != args.profile:
        raise ParameterError(
            "profile", params["profile"], f"the value of --profile ({args.profile!r}), or leave one of the two out"
        )
    params["profile"] = args.profile or params.get("profile", "smoke")
    notebooks = runner.resolve(args.notebooks) if args.notebooks else runner.discover()
    overrides = parse_overrides(args.set)
    devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None
    slurm = None
    jobs = dispatch.parse_jobs(args.jobs)
    if args.executor == "slurm":
        if jobs not in (1, "auto") or devices:
            raise ParameterError(
                "jobs",
                jobs,
                "1 with --executor slurm (each notebook is a job of its own; --gpus-per-job sets its GPUs)",
            )
        slurm = dispatch.SlurmOptions(
            partition=args.partition,
            gpus_per_job=args.gpus_per_job,
            time_min=args.time_min,
            mem_gb=args.mem_gb,
            cpus_per_job=args.cpus_per_job,
        )
        jobs = 1
    else:
        if jobs == "auto":
            cpu = devices == [dispatch.CPU]
            jobs = len(devices) if devices and not cpu else dispatch.auto_jobs([] if cpu else None)
        devices = dispatch.check_jobs(jobs, devices)
    with timed() as t:
        outcomes = runner.run(
            notebooks,
            params=params,
            force=args.force,
            timeout=args.timeout,
            jobs=jobs,
            devices=devices,
            executor=args.executor,
            slurm=slurm,
            progress=not args.no_progress and jobs == 1,
            dry_run=args.dry_run,
            overrides=overrides,
        )
        print()
    print(runner.format_table(outcomes, wall_seconds=t.seconds))
    failed = [o.notebook for o in outcomes if o.status == "failed"]
    if failed:
        print(
            f"\n{len(failed)} notebook(s) failed: {', '.join(failed)}; "
            "the failed copies are kept as <name>.failed.ipynb beside the last good ones, with their logs "
            "(<name>.log)",
            file=sys.stderr,
        )
        return 1
    return 0


def parse_overrides(pairs: list[list[str]]) -> dict[str, dict]:
    """``--set CHAPTER.FIELD VALUE`` pairs (YAML values) as ``{chapter: {field: value}}``, checked against the
    chapters' configurations (:func:`reprobook.profiles.check_overrides`)."""
    from . import runner
    from .profiles import check_overrides

    found: dict[str, dict] = {}
    for name, value in pairs:
        chapter, dot, key = name.partition(".")
        if not dot or not chapter or not key:
            raise ParameterError("--set", name, "CHAPTER.FIELD, e.g. rwp.n_seeds")
        found.setdefault(chapter, {})[key] = runner.parse_cli_value(value)
    return check_overrides(found)


def _build(args: argparse.Namespace) -> int:
    from .book import build

    html = build(strict=not args.no_strict, allow_tiny=args.allow_tiny, allow_dry_run=args.allow_dry_run)
    print(f"book built: {html / 'index.html'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from .paths import executed_dir
    from .runner import DRY_RUN_FOLDER, RunOutcome, format_table, read_runs

    runs = read_runs(executed_dir() / DRY_RUN_FOLDER if args.dry_run else executed_dir())
    if not runs:
        print("no notebook has been executed yet")
        return 0
    fields = RunOutcome.__dataclass_fields__
    outcomes = [RunOutcome(**{k: v for k, v in r.items() if k in fields}) for r in runs.values()]
    print(format_table(outcomes, runs=runs))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from . import lab, runner

    notebooks = runner.resolve(args.notebooks) if args.notebooks else runner.discover()
    changes = lab.sync(notebooks, check=args.check)
    for change in changes:
        print(("out of sync: " if args.check else "updated: ") + change)
    if args.check and changes:
        print("run `reprobook sync` to update them", file=sys.stderr)
        return 1
    if not changes:
        print(f"{len(notebooks)} notebook(s) and their text copies are in sync")
    return 0


def _lab(args: argparse.Namespace) -> int:
    import os

    from . import lab
    from .paths import project_root
    from .runner import ensure_kernel

    ensure_kernel()
    lab.install_settings()
    command = lab.lab_command(project_root(), port=args.port, browser=not args.no_browser)
    os.execv(command[0], command)
    return 0  # not reached


def _bench(args: argparse.Namespace) -> int:
    from . import benchmarks

    if args.list:
        for name, (_, what) in benchmarks.BENCHMARKS.items():
            print(f"{name:16s} {what}")
        return 0
    from . import runner

    names = [benchmarks.check_name(n) for n in (args.names or list(benchmarks.BENCHMARKS))]
    settings = {name: runner.parse_cli_value(value) for name, value in args.set}
    for name in ("device", "profile"):
        if name in settings:
            raise ParameterError("--set", name, f"a benchmark setting; the {name} is given by --{name}")
    if settings and len(names) != 1:
        raise ParameterError("names", names, "one benchmark when --set is given (each has its own settings)")
    for name in names:
        result = benchmarks.run(name, device=args.device, profile=args.profile, **settings)
        path = result.save()
        print(f"## {name} on {result.device} ({result.machine.get('torch_threads')} torch threads)")
        print(result.table.to_string(index=False))
        print(f"saved: {path}\n")
    return 0


def _gpu_check(args: argparse.Namespace) -> int:
    from . import dispatch, gpu_check

    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    part1 = parse_overrides([[f"{c}.{name}", value] for name, value in args.set for c in gpu_check.PART_I_CHAPTERS])
    kwargs = dict(
        device=args.device,
        size=args.size,
        pack=args.pack,
        out=args.out,
        steps=steps,
        part1=part1.get(gpu_check.PART_I_CHAPTERS[0], {}),
    )
    if args.executor == "slurm":
        options = dispatch.SlurmOptions(
            partition=args.partition,
            gpus_per_job=args.gpus_per_job,
            time_min=args.time_min,
            mem_gb=args.mem_gb,
            cpus_per_job=args.cpus_per_job,
        )
        path = gpu_check.submit(options, **kwargs)
    else:
        path = gpu_check.run(**kwargs)
    print(f"the GPU check's measurements: {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="reprobook", description="Run and build the reproducibility book.")
    sub = top.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="list, fetch or verify datasets and models")
    data.add_argument("action", choices=("list", "fetch", "verify", "pack", "unpack"))
    data.add_argument(
        "names",
        nargs="*",
        help="registry names (default: what --profile needs; pack: what the GPU check needs); unpack: the pack file",
    )
    data.add_argument("--out", default=None, help="pack: the file to write (default reprobook-pack.tar)")
    data.add_argument("--profile", default="smoke", choices=PROFILES)
    data.add_argument("--force", action="store_true", help="download again even if verified")
    data.set_defaults(func=_data)

    run = sub.add_parser("run", help="execute notebooks with papermill")
    run.add_argument("notebooks", nargs="*", help="e.g. sharpness/rwp (default: every notebook)")
    run.add_argument("--profile", default=None, choices=PROFILES, help="default: smoke")
    run.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter (YAML value), repeatable",
    )
    run.add_argument("--force", action="store_true", help="re-run even if nothing changed")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="the profile's configuration with every loop capped (2 optimiser steps, 4 items per "
        "evaluation, one seed), stand-ins where the network is missing; never evidence; into "
        "executed/dry-run and results/dry-run",
    )
    run.add_argument(
        "--set",
        nargs=2,
        action="append",
        default=[],
        metavar=("CHAPTER.FIELD", "VALUE"),
        help="a field of a chapter's configuration over the profile's (YAML value), repeatable; "
        "e.g. --set rwp.n_seeds 12",
    )
    run.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: none)")
    run.add_argument(
        "--jobs",
        default="1",
        help="notebooks at once: one GPU each, or a share of the CPU cores each on a machine without "
        "a GPU; auto: one per GPU, else 2 sharing the cores (make book); default 1",
    )
    run.add_argument(
        "--devices",
        default=None,
        help="the GPUs to share out, e.g. cuda:0,cuda:1 (default: all), or cpu: the notebooks share the CPU cores",
    )
    run.add_argument(
        "--executor",
        default="local",
        choices=("local", "slurm"),
        help="local: this machine; slurm: one Slurm job per notebook (submitit)",
    )
    run.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's)")
    run.add_argument("--gpus-per-job", type=int, default=None, help="Slurm: GPUs per job (default: per profile)")
    run.add_argument(
        "--time-min", type=int, default=None, help="Slurm: time limit per job in minutes (default: per profile)"
    )
    run.add_argument("--mem-gb", type=int, default=None, help="Slurm: memory per job in GB (default: per profile)")
    run.add_argument("--cpus-per-job", type=int, default=None, help="Slurm: CPU cores per job (default: per profile)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (the log files have every cell)")
    run.set_defaults(func=_run)

    build = sub.add_parser("build", help="build the Jupyter Book from the executed notebooks")
    build.add_argument("--no-strict", action="store_true", help="do not fail on warnings")
    build.add_argument(
        "--allow-tiny",
        action="store_true",
        help="build from tiny-profile results (the test suite's check of the code path; no evidence)",
    )
    build.add_argument(
        "--allow-dry-run", action="store_true", help="build from dry-run results (a test of the code path; no evidence)"
    )
    build.set_defaults(func=_build)

    sync = sub.add_parser(
        "sync",
        help="clean the notebook sources, put their prose in the {eval} form and write their text copies (jupytext)",
    )
    sync.add_argument("notebooks", nargs="*", help="e.g. sharpness/rwp (default: every notebook)")
    sync.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of sync")
    sync.set_defaults(func=_sync)

    lab = sub.add_parser("lab", help="JupyterLab on the notebooks, with the project's kernel and MyST")
    lab.add_argument("--port", type=int, default=None)
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(func=_lab)

    status = sub.add_parser("status", help="the table of the last runs")
    status.add_argument("--dry-run", action="store_true", help="the last dry runs (executed/dry-run)")
    status.set_defaults(func=_status)

    gpu = sub.add_parser(
        "gpu-check",
        help="measure what a GPU settles (step cost at paper scale, Part I at power, "
        "an LLM training stage) into book/measurements; no network needed with --pack",
    )
    gpu.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu (cpu: a test of the script)")
    gpu.add_argument(
        "--size",
        default="default",
        choices=("default", "smallest"),
        help="default: under 8 minutes on one recent GPU; smallest: every step at its minimum",
    )
    gpu.add_argument(
        "--pack", default=None, help="a pack written by `reprobook data pack`, unpacked into the cache first"
    )
    gpu.add_argument(
        "--out",
        default=None,
        help="where the measurements go (default: book/measurements at the default size, results/gpu-check otherwise)",
    )
    gpu.add_argument("--steps", default="bench,part1,llm", help="which steps, comma-separated (default: all)")
    gpu.add_argument(
        "--set",
        nargs=2,
        action="append",
        default=[],
        metavar=("FIELD", "VALUE"),
        help="a field of the RWP and m-ARWP chapters' configuration over the size's (YAML value), e.g. --set epochs 20",
    )
    gpu.add_argument("--executor", default="local", choices=("local", "slurm"), help="slurm: one Slurm job (submitit)")
    gpu.add_argument("--partition", default=None, help="Slurm partition")
    gpu.add_argument("--gpus-per-job", type=int, default=1)
    gpu.add_argument("--time-min", type=int, default=30, help="Slurm time limit in minutes (default 30)")
    gpu.add_argument("--mem-gb", type=int, default=None)
    gpu.add_argument("--cpus-per-job", type=int, default=None)
    gpu.set_defaults(func=_gpu_check)

    bench = sub.add_parser("bench", help="measure the cost of the methods (every method in one run)")
    bench.add_argument("names", nargs="*", help="benchmark names (default: all; see --list)")
    bench.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    bench.add_argument("--profile", default="smoke", choices=PROFILES)
    bench.add_argument(
        "--set",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a setting over the profile's (YAML value), repeatable; e.g. --set methods '[sgd, arwp]' "
        "--set repeats 5 (the names: each benchmark's measure())",
    )
    bench.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    bench.set_defaults(func=_bench)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ParameterError as exc:
        print(f"reprobook: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a clear one-line message for known failures
        from .book import BuildError
        from .lab import ProseError

        known: tuple[type[Exception], ...] = (BuildError, ProseError)
        try:
            from .data import ChecksumError, DataUnavailableError

            known += (ChecksumError, DataUnavailableError)
        except ImportError:
            pass
        if isinstance(exc, known):
            print(f"reprobook: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
