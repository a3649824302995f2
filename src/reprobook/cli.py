"""The ``reprobook`` command: ``data``, ``run``, ``build`` and ``status``.

    reprobook data list | fetch [NAME ...] [--profile smoke|paper] [--force] | verify [NAME ...]
    reprobook run [NOTEBOOK ...] [--profile smoke|paper] [-p NAME VALUE ...] [--force]
    reprobook build [--no-strict]
    reprobook status
    reprobook bench [NAME ...] [--device auto|cpu|cuda|cuda:N|mps] [--profile smoke|paper] | --list
"""

from __future__ import annotations

import argparse
import sys
from .profiles import PROFILES, ParameterError


def _data(args: argparse.Namespace) -> int:
    from . import data
    from .profiles import required_data

    if args.action == "list":
        rows = [("name", "kind", "offline", "licence", "description")]
        for entry in data.list_entries():
            rows.append((entry.name, entry.kind, "yes" if entry.offline else "no", entry.licence,
                         entry.description))
        widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
        for row in rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
        return 0
    names = args.names or (required_data(args.profile) if args.action == "fetch" else None)
    if args.action == "fetch":
        data.fetch(names, force=args.force)
        print(f"fetched and verified: {', '.join(names)}")
        return 0
    report = data.verify(names)
    bad = {name: status for name, status in report.items() if status != "ok"}
    for name, status in report.items():
        print(f"{name:32s} {status}")
    return 1 if bad else 0


def _run(args: argparse.Namespace) -> int:
    from . import runner

    params = {name: runner.parse_cli_value(value) for name, value in args.param}
    if args.profile is not None and params.get("profile", args.profile) != args.profile:
        raise ParameterError("profile", params["profile"], f"the value of --profile ({args.profile!r}), "
                             "or leave one of the two out")
    params["profile"] = args.profile or params.get("profile", "smoke")
    notebooks = runner.resolve(args.notebooks) if args.notebooks else runner.discover()
    outcomes = runner.run(notebooks, params=params, force=args.force, timeout=args.timeout)
    print()
    print(runner.format_table(outcomes))
    failed = [o.notebook for o in outcomes if o.status == "failed"]
    if failed:
        print(f"\n{len(failed)} notebook(s) failed: {', '.join(failed)}; "
              "the failed copies are kept as <name>.failed.ipynb beside the last good ones",
              file=sys.stderr)
        return 1
    return 0


def _build(args: argparse.Namespace) -> int:
    from .book import build

    html = build(strict=not args.no_strict)
    print(f"book built: {html / 'index.html'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from .paths import executed_dir
    from .runner import RunOutcome, format_table, read_runs

    runs = read_runs(executed_dir())
    if not runs:
        print("no notebook has been executed yet")
        return 0
    fields = RunOutcome.__dataclass_fields__
    print(format_table([RunOutcome(**{k: v for k, v in r.items() if k in fields}) for r in runs.values()]))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from . import benchmarks

    if args.list:
        for name, (_, what) in benchmarks.BENCHMARKS.items():
            print(f"{name:16s} {what}")
        return 0
    names = [benchmarks.check_name(n) for n in (args.names or list(benchmarks.BENCHMARKS))]
    for name in names:
        result = benchmarks.run(name, device=args.device, profile=args.profile)
        path = result.save()
        print(f"## {name} on {result.device} ({result.machine.get('torch_threads')} torch threads)")
        print(result.table.to_string(index=False))
        print(f"saved: {path}\n")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="reprobook", description="Run and build the reproducibility book.")
    sub = top.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="list, fetch or verify datasets and models")
    data.add_argument("action", choices=("list", "fetch", "verify"))
    data.add_argument("names", nargs="*", help="registry names (default: what --profile needs)")
    data.add_argument("--profile", default="smoke", choices=PROFILES)
    data.add_argument("--force", action="store_true", help="download again even if verified")
    data.set_defaults(func=_data)

    run = sub.add_parser("run", help="execute notebooks with papermill")
    run.add_argument("notebooks", nargs="*", help="e.g. sharpness/rwp (default: every notebook)")
    run.add_argument("--profile", default=None, choices=PROFILES, help="default: smoke")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter (YAML value), repeatable")
    run.add_argument("--force", action="store_true", help="re-run even if nothing changed")
    run.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: none)")
    run.set_defaults(func=_run)

    build = sub.add_parser("build", help="build the Jupyter Book from the executed notebooks")
    build.add_argument("--no-strict", action="store_true", help="do not fail on warnings")
    build.set_defaults(func=_build)

    status = sub.add_parser("status", help="the table of the last runs")
    status.set_defaults(func=_status)

    bench = sub.add_parser("bench", help="measure the cost of the methods (every method in one run)")
    bench.add_argument("names", nargs="*", help="benchmark names (default: all; see --list)")
    bench.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    bench.add_argument("--profile", default="smoke", choices=PROFILES)
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

        known = (BuildError,)
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
