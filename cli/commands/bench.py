"""`lungscreen bench [campaign|ingest|model|parallel|triton|...]`: benchmarks, medians of runs.

`campaign` (default) is bench.campaign. The others are each engineer's own function, found by
name (module, function) in SUITES; one that is not installed says so. A suite function
takes keyword options it declares (`runs`, `studies`, `json` are passed when it accepts
them) and returns an object with `lines()` (and optionally `to_json()`), a dict, or text.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
from typing import Any

from kernel.errors import BadInput

__all__ = ["SUITES", "register"]

SUITES: dict[str, tuple[str, str]] = {
    "campaign": ("bench.campaign", "run_campaign_bench"),
    "ingest": ("bench.ingest", "run_ingest_bench"),
    "model": ("bench.model", "run_model_bench"),
    "parallel": ("bench.parallel", "run_parallel_bench"),
    "triton": ("bench.triton", "run_triton_bench"),
    "metrics": ("bench.metrics", "run_metrics_bench"),
    "synth": ("bench.synth", "run_synth_bench"),
    "report": ("bench.report", "run_report_bench"),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("bench", help="benchmarks: campaign (default), ingest, model, "
                              "parallel, triton, metrics, synth, report")
    p.add_argument("suite", nargs="?", default="campaign", choices=tuple(SUITES))
    p.add_argument("--runs", type=int, default=None, help="timed runs (median reported)")
    p.add_argument("--studies", type=int, default=None, help="studies per run")
    p.add_argument("--backend", choices=("triton", "inprocess"), default="triton",
                   help="campaign suite: the inference backend of the campaign side")
    p.add_argument("--num-cpus", type=int, default=None, help="campaign suite: Ray CPUs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd)


def _campaign(args: argparse.Namespace) -> Any:
    from bench.campaign import CampaignBenchOptions, run_campaign_bench

    defaults = CampaignBenchOptions()
    return run_campaign_bench(CampaignBenchOptions(
        studies=args.studies or defaults.studies,
        runs=args.runs or defaults.runs,
        backend=args.backend,
        num_cpus=args.num_cpus,
    ))


def _other(args: argparse.Namespace) -> Any:
    module_name, func_name = SUITES[args.suite]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise BadInput(f"the {args.suite} benchmark is not available here ({exc.name} is "
                       "missing)") from None
    func = getattr(module, func_name)
    accepted = inspect.signature(func).parameters
    kwargs = {k: v for k, v in (("runs", args.runs), ("studies", args.studies))
              if v is not None and k in accepted}
    return func(**kwargs)


def _cmd(args: argparse.Namespace) -> int:
    result = _campaign(args) if args.suite == "campaign" else _other(args)
    if args.json:
        if hasattr(result, "to_json"):
            print(result.to_json())
        else:
            print(json.dumps(result if isinstance(result, dict) else str(result), indent=2,
                             default=str))
    elif hasattr(result, "lines"):
        print("\n".join(result.lines()))
    elif isinstance(result, dict):
        print(json.dumps(result, indent=2, default=str))
    else:
        print(result)
    return 0
