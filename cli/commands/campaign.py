"""`lungscreen campaign run SPEC | resume ID | cancel ID | submit SPEC | validate SPEC`;
`list` and `status ID` in cli.commands.campaign_info."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from cli.campaign_ref import add_campaign_ref, resolve_spec, spec_registry
from cli.commands import campaign_info
from cli.progress import Heartbeat, ProgressBar
from cluster.ray.connect import submit_campaign
from jobs.run import (
    CampaignRun,
    RunOptions,
    campaign_metrics,
    cancel_campaign,
    default_env,
    run_campaign,
)
from jobs.spec import CampaignSpec, load_spec, open_spec_store
from jobs.store import ResultsStore
from jobs.store import redact as redact_url
from kernel.errors import BadInput, LungscreenError
from kernel.observer import CampaignObserver

__all__ = ["register"]


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="an existing Ray cluster (ray://HOST:10001, HOST:6379 or "
                   "auto); default: start Ray embedded in this process")
    p.add_argument("--backend", choices=("auto", "triton", "inprocess"), default="auto",
                   help="auto: the spec's Triton servers, else start the bundled local Triton; "
                   "inprocess: run the model inside the Ray workers (no Triton)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve Prometheus metrics on --metrics-addr:PORT (0: a free port)")
    p.add_argument("--metrics-addr", default="127.0.0.1",
                   help="address the metrics endpoint binds (default 127.0.0.1; 0.0.0.0 in a "
                   "pod that Prometheus scrapes)")
    p.add_argument("--num-cpus", type=int, default=None,
                   help="CPUs of the embedded Ray (default: all)")
    p.add_argument("--no-progress", action="store_true",
                   help="no live progress bar even on a terminal (one log line per shard)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("campaign", help="run, resume, cancel or submit a campaign; "
                                   "list campaigns, show one's status")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="run a campaign (again: continues it; done: nothing)")
    run.add_argument("spec", type=Path, help="campaign spec (YAML)")
    run.add_argument("--submit", action="store_true",
                     help="submit as a Ray Job to --address http://HEAD:8265 instead")
    _run_options(run)
    run.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    run.set_defaults(func=_cmd_run)

    resume = sub.add_parser("resume", help="finish a campaign that stopped or was cancelled")
    resume.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    _run_options(resume)
    add_campaign_ref(resume)
    resume.set_defaults(func=_cmd_resume)

    cancel = sub.add_parser("cancel", help="cancel a campaign (in-flight shards still commit)")
    cancel.add_argument("campaign_id", metavar="ID", help="the campaign's id (the spec's `id`)")
    add_campaign_ref(cancel)
    cancel.set_defaults(func=_cmd_cancel)

    validate = sub.add_parser("validate", help="check a campaign spec without running it")
    validate.add_argument("spec", type=Path, help="campaign spec (YAML)")
    validate.add_argument("--no-paths", action="store_true",
                          help="skip the checks that source folders and files exist here "
                               "(a spec written for the cluster's paths)")
    validate.set_defaults(func=_cmd_validate)

    submit = sub.add_parser("submit", help="submit `campaign run SPEC` as a Ray Job")
    submit.add_argument("spec", type=Path, help="campaign spec (YAML) to run on the cluster")
    submit.add_argument("--address", required=True, help="the job server: http://HEAD:8265")
    submit.set_defaults(func=_cmd_submit)
    campaign_info.register(sub)


@contextlib.contextmanager
def _observers(args: argparse.Namespace, spec: CampaignSpec) -> Iterator[list[CampaignObserver]]:
    observers: list[CampaignObserver] = []
    if not args.no_progress and ProgressBar.wanted():
        observers.append(ProgressBar())
        # the bar replaces the per-shard log lines on a terminal
        logging.getLogger("jobs").setLevel(logging.WARNING)
    elif not args.no_progress:
        observers.append(Heartbeat())
    if args.metrics_port is None:
        yield observers
        return
    with campaign_metrics(spec, args.metrics_port, args.metrics_addr) as observer:
        if args.metrics_port and any(isinstance(o, ProgressBar) for o in observers):
            # the bar hides the driver's INFO line naming it; without a bar that line says it
            print(f"metrics: http://{args.metrics_addr}:{args.metrics_port}/metrics",
                  file=sys.stderr)
        observers.append(observer)
        yield observers


def _execute(args: argparse.Namespace, spec: CampaignSpec) -> int:
    with _observers(args, spec) as observers:
        env = default_env()
        # inside a Ray Job the cluster's address comes in RAY_ADDRESS
        address = args.address or env.get("RAY_ADDRESS") or None
        options = RunOptions(address=address, backend=args.backend,
                             num_cpus=args.num_cpus, observers=tuple(observers),
                             env=env)
        with open_spec_store(spec, env) as store:
            result = run_campaign(spec, options, store, spec_registry(args))
            if result.state in ("done", "already_done"):
                _measure_release(store, spec.id, env)
    return _print(result)


def _measure_release(store: ResultsStore, campaign_id: str, env: Mapping[str, str]) -> None:
    """A finished campaign measures its last increment into the analysts' release base
    (nothing new: nothing measured). A refusal (the privacy budget) leaves the campaign
    done and says how to retry."""
    from jobs.release import Budget, measure_increment  # scipy: a done campaign only

    try:
        measured = measure_increment(store, campaign_id, budget=Budget.from_env(env))
    except LungscreenError as exc:
        print(f"release: the last increment was not measured: {exc}\n"
              f"      retry with: lungscreen release measure {campaign_id}", file=sys.stderr)
        return
    if measured is not None:
        print(f"release: increment {measured.increment.seq} measured "
              f"({measured.increment.results} results) for the analysts' tables: "
              f"lungscreen report {campaign_id} --released")


def _print(result: CampaignRun) -> int:
    print(result.message)
    if result.state in ("done", "already_done"):
        cid = result.campaign_id
        print(f"next: lungscreen report {cid} --by region   (the suppressed regional summary)\n"
              f"      lungscreen recall {cid} --out recall.csv   (the authority's recall list)")
    elif result.state == "cancelled":
        print(f"next: lungscreen campaign resume {result.campaign_id}   (finish it later)")
    return 0 if result.state in ("done", "already_done", "cancelled") else 1


def _cmd_run(args: argparse.Namespace) -> int:
    if args.submit:
        return _submit(args.spec, args.address)
    return _execute(args, load_spec(args.spec, state_dir=spec_registry(args).state_dir))


def _cmd_resume(args: argparse.Namespace) -> int:
    return _execute(args, resolve_spec(args))


def _cmd_cancel(args: argparse.Namespace) -> int:
    spec = resolve_spec(args)
    with open_spec_store(spec, default_env(), create=False) as store:
        print(cancel_campaign(spec, store))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, check_paths=not args.no_paths,
                     state_dir=spec_registry(args).state_dir)
    sources = sum(len(r.sources) for r in spec.regions)
    triton = ", ".join(spec.triton.urls) if spec.triton is not None else "the bundled local server"
    print(f"{args.spec}: campaign {spec.id} is valid: {len(spec.regions)} region(s), "
          f"{sources} source(s), shards of {spec.shard_size}, residency {spec.residency}, "
          f"model {spec.model.name} v{spec.model.version} on {triton}, "
          f"store {redact_url(spec.store_url)}")
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    return _submit(args.spec, args.address)


def _submit(spec_path: Path, address: str | None) -> int:
    if not address:
        raise BadInput("--submit needs --address http://HEAD:8265 (the Ray job server)")
    load_spec(spec_path, check_paths=False)  # fail here, not on the cluster, for a bad spec
    job_id = submit_campaign(spec_path, address)
    print(f"submitted {job_id}; follow it with: ray job logs -f {job_id} --address {address}",
          file=sys.stdout)
    return 0
