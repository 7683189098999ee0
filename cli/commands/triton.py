"""`lungscreen triton serve`: the bundled Triton server on 127.0.0.1 until stopped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cluster.triton.serve import serve_until_stopped
from cluster.triton.server import DEFAULT_REPOSITORY, LocalTritonServer, TritonServerConfig

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "triton",
        help="the bundled Triton Inference Server",
        description="Run the Triton Inference Server bundled with nvidia-pytriton.",
    )
    sub = p.add_subparsers(dest="triton_command", metavar="ACTION", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve the model repository on 127.0.0.1 until Ctrl-C / SIGTERM",
        description=(
            "Start tritonserver on 127.0.0.1 with the model repository, wait until the "
            "models are ready, print the URLs, and run until Ctrl-C or SIGTERM."
        ),
    )
    serve.add_argument(
        "--model-repository",
        type=Path,
        default=DEFAULT_REPOSITORY,
        help=f"Triton model repository (default: {DEFAULT_REPOSITORY})",
    )
    serve.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="a model to wait for (repeatable; default: lung_nodule_detector)",
    )
    for name, what in (("http", "HTTP"), ("grpc", "gRPC"), ("metrics", "metrics")):
        serve.add_argument(
            f"--{name}-port", type=int, default=0, help=f"{what} port (default 0: a free one)"
        )
    serve.add_argument(
        "--model-config-name", default="", help="Triton's --model-config-name (default: none)"
    )
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    if args.models:
        fields["models"] = tuple(args.models)
    config = TritonServerConfig(
        model_repositories=(args.model_repository,),
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        model_config_name=args.model_config_name,
        **fields,
    )
    serve_until_stopped(config, _announce)
    print("triton stopped", flush=True)
    return 0


def _announce(server: LocalTritonServer) -> None:
    print(f"triton ready (pid {server.pid}); stop with Ctrl-C", flush=True)
    print(f"  grpc:    grpc://{server.grpc_url}", flush=True)
    print(f"  http:    {server.http_url}", flush=True)
    print(f"  metrics: {server.metrics_url}", flush=True)
