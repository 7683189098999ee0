"""How a command names a campaign's spec: `--spec SPEC`, else the copy registered under the
campaign's id in the state folder (`--state-dir`) or in a data folder (`--data-dir`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from jobs.spec import CampaignSpec, SpecRegistry, default_state_dir, load_spec
from kernel.errors import BadInput

__all__ = ["add_campaign_ref", "resolve_spec", "spec_registry"]


def add_campaign_ref(parser: argparse.ArgumentParser) -> None:
    """Add `--spec`, `--state-dir` and `--data-dir` to `parser`."""
    parser.add_argument("--spec", type=Path, default=None, help="the campaign's spec file")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where campaign specs are registered (see `campaign resume`)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="a data folder to look for the saved spec in")


def spec_registry(args: argparse.Namespace) -> SpecRegistry:
    """The registry in `--state-dir`, else in the default state folder (the environment's)."""
    return SpecRegistry(getattr(args, "state_dir", None) or default_state_dir(os.environ))


def resolve_spec(args: argparse.Namespace, *, check_paths: bool = True) -> CampaignSpec:
    """The spec of campaign `args.campaign_id`: `--spec` (BadInput when it is another
    campaign's), else the registered one (BadInput, saying what to do, when there is none).
    `check_paths=False` for a command that does not read the sources."""
    registry = spec_registry(args)
    if args.spec is not None:
        spec = load_spec(args.spec, check_paths=check_paths, state_dir=registry.state_dir)
        if spec.id != args.campaign_id:
            raise BadInput(f"spec {str(args.spec)!r} is campaign {spec.id!r}, "
                           f"not {args.campaign_id!r}")
        return spec
    return registry.load(args.campaign_id, getattr(args, "data_dir", None))
