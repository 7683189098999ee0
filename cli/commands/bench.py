"""`lungscreen bench [SUITE]`: benchmarks, medians of runs (suites: bench.suites.SUITES)."""

from __future__ import annotations

import argparse

from bench.suites import SUITES, SuiteOptions
from cli.output import add_format
from cli.store_option import add_store

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "bench", help="benchmarks: " + ", ".join(SUITES) + " (campaign by default)",
        description="\n".join(f"  {s.name:<9} {s.help}" for s in SUITES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", nargs="?", default="campaign", choices=tuple(SUITES),
                   help="which benchmark (default campaign)")
    p.add_argument("--runs", type=int, default=None, help="timed runs (median reported)")
    p.add_argument("--studies", type=int, default=None, help="studies per run")
    p.add_argument("--backend", choices=("triton", "inprocess"), default="triton",
                   help="campaign suite: the inference backend of the campaign side")
    p.add_argument("--num-cpus", type=int, default=None, help="campaign suite: Ray CPUs")
    p.add_argument("--results", type=_sizes, default=None, metavar="N[,N...]",
                   help="release suite: campaign sizes (default 10000,100000; 1000000 is slow)")
    p.add_argument("--tables", type=int, default=None,
                   help="release suite: released tables per run (default 500)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                   help="gpu suite: cpu runs its path without a GPU (no figure to report); "
                   "rounds suite: where the detector runs (cuda falls back to cpu without one)")
    p.add_argument("--nodes", type=int, default=None,
                   help="scale suite: Ray nodes of the local cluster (default 2)")
    add_store(p, default=None,
              help="scale suite: the results store (default a SQLite file; or "
                   "postgresql://...; a password in the URL is refused)")
    add_format(p, help="text figures (default), or json for tools")
    p.set_defaults(func=_cmd)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x.replace("_", "")) for x in text.split(",") if x.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected result counts, comma-separated "
                                         "(e.g. 10000,100000)")
    return sizes


def _cmd(args: argparse.Namespace) -> int:
    options = SuiteOptions(runs=args.runs, studies=args.studies, backend=args.backend,
                           num_cpus=args.num_cpus, results=args.results, tables=args.tables,
                           device=args.device, nodes=args.nodes, store=args.store)
    figures = SUITES[args.suite].run(options)
    print(figures.to_json() if args.format == "json" else "\n".join(figures.lines()))
    return 0
