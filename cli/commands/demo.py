"""`lungscreen demo`: synthesise a cohort, run a campaign on local Triton and Ray, report."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from cli.demo import DemoOptions, run_demo
from cli.progress import Heartbeat, ProgressBar
from jobs.run import default_env
from jobs.spec import default_state_dir
from kernel.defaults import MIN_CELL
from kernel.observer import CampaignObserver

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = DemoOptions()
    p = subparsers.add_parser("demo", help="everything on embedded defaults: synthesise a "
                              "cohort, run a campaign on local Triton + Ray, print the summary")
    p.add_argument("--out", type=Path, default=d.out, help=f"demo folder (default {d.out})")
    p.add_argument("--studies", type=int, default=d.studies,
                   help=f"synthetic studies to write and screen (default {d.studies})")
    p.add_argument("--regions", type=int, default=d.regions,
                   help=f"regions the studies are spread over (default {d.regions})")
    p.add_argument("--seed", type=int, default=d.seed,
                   help=f"seed of the synthetic cohort (default {d.seed}; same seed, same cohort)")
    p.add_argument("--synthetic-demo-floor", type=int, default=d.synthetic_demo_floor,
                   metavar="N",
                   help=f"suppression threshold of the summary of the synthetic cohort "
                   f"(default {d.synthetic_demo_floor}: its data are synthetic and few); "
                   f"below the deployment's floor {MIN_CELL} it is an override, audited and "
                   f"named in the output; {MIN_CELL} shows production suppression")
    p.add_argument("--backend", choices=("auto", "inprocess"), default="auto",
                   help="auto: the bundled local Triton; inprocess: the model in the workers")
    p.add_argument("--num-cpus", type=int, default=None,
                   help="CPUs of the embedded Ray node (default: all of this machine)")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    observers: list[CampaignObserver] = []
    if ProgressBar.wanted():
        observers.append(ProgressBar())
        logging.getLogger("jobs").setLevel(logging.WARNING)
    else:
        observers.append(Heartbeat())
    start = time.monotonic()
    result = run_demo(DemoOptions(
        out=args.out, studies=args.studies, regions=args.regions, seed=args.seed,
        synthetic_demo_floor=args.synthetic_demo_floor, backend=args.backend,
        num_cpus=args.num_cpus,
        observers=tuple(observers), state_dir=default_state_dir(default_env()),
    ))
    print(result.run.message)
    print()
    print(result.summary)
    print(f"HTML report: {result.html_path}")
    print(f"campaign spec: {result.spec_path} (lungscreen campaign run {result.spec_path})")
    print(f"demo took {time.monotonic() - start:.0f} s")
    return 0 if result.run.state in ("done", "already_done") else 1
