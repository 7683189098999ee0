"""The CLI as the service's client: `--server URL` sends a command through the service's HTTP
API (jobs.service) instead of opening the store.

The token comes from `--token-file FILE` (owner-only) or `LUNGSCREEN_TOKEN`, never from the
command line (ps shows it, the shell's history keeps it). Plain `http://` is refused off
loopback unless `--insecure-http`: the token would cross the network in clear text.
Redirects are not followed (the token would go along). HTTP answers map to the CLI's exit
codes here, at the seam: a refused token, an unknown campaign and the service's 400/409
are bad input (exit 2); 429, 5xx and an unreachable service are failures (exit 1).
"""

from __future__ import annotations

import argparse
import ipaddress
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from cli.settings import SERVER_ENV, load_settings
from kernel.errors import BadInput, RetryableError

__all__ = ["TOKEN_ENV", "ServiceClient", "add_server", "client_for", "read_token",
           "server_url"]

TOKEN_ENV = "LUNGSCREEN_TOKEN"


def add_server(p: argparse.ArgumentParser) -> None:
    """`--server URL`, `--token-file FILE` and `--insecure-http`."""
    p.add_argument("--server", metavar="URL", default=None,
                   help="go through the service at URL (`lungscreen serve`) instead of the "
                   f"store, with the token in ${TOKEN_ENV} or --token-file (default: "
                   f"${SERVER_ENV}, else `server` in the state folder's config.toml, unless "
                   "--store or --spec is given)")
    p.add_argument("--token-file", type=Path, default=None, metavar="FILE",
                   help=f"with --server: read the token from FILE (owner-only) instead of "
                   f"${TOKEN_ENV}")
    p.add_argument("--insecure-http", action="store_true",
                   help="with --server: allow http:// to a host that is not loopback (the "
                   "token crosses the network in clear text)")


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def server_url(text: str, *, insecure_http: bool = False) -> str:
    """`text` without a trailing slash; BadInput for a URL that is not http(s)://HOST[:PORT]
    [/PATH], and for http:// off loopback without `insecure_http`."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.username or parts.password:
        raise BadInput(f"--server {text[:80]!r}: expected https://HOST[:PORT] (or http:// on "
                       "loopback), without credentials or a query")
    if parts.scheme == "http" and not _loopback(parts.hostname) and not insecure_http:
        raise BadInput(f"--server {text[:80]!r} is plain HTTP to a host that is not loopback: "
                       "the token would cross the network in clear text; use https://, or "
                       "(on a network you trust) add --insecure-http")
    return text.strip().rstrip("/")


def read_token(token_file: Path | None, env: Mapping[str, str]) -> str:
    """The token from `token_file` (refused when group or others can read it), else from
    LUNGSCREEN_TOKEN; BadInput when neither holds one. Never echoed."""
    if token_file is not None:
        try:
            mode = stat.S_IMODE(token_file.stat().st_mode)
            if mode & 0o077:
                raise BadInput(f"token file {str(token_file)!r} is readable by group or others "
                               f"(mode {mode:04o}); run `chmod 600 {token_file}`")
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise BadInput(f"token file {str(token_file)!r}: cannot read it "
                           f"({exc.strerror})") from None
    else:
        token = env.get(TOKEN_ENV, "").strip()
    if not token or any(c.isspace() for c in token):
        where = f"token file {str(token_file)!r}" if token_file else f"${TOKEN_ENV}"
        raise BadInput(f"--server needs a token: {where} holds none (one line, no spaces); "
                       f"export {TOKEN_ENV} or give --token-file FILE "
                       "(`lungscreen token create` makes one)")
    return token


@dataclass(frozen=True, repr=False)
class ServiceClient:
    """Requests to one service with one bearer token (never printed)."""

    base: str
    token: str
    timeout_s: float = 600.0  # a report over a large campaign takes a while

    def __repr__(self) -> str:
        return f"ServiceClient({self.base!r})"

    def call(self, method: str, path: str, *, campaign: str | None = None,
             params: Mapping[str, Any] | None = None) -> requests.Response:
        """The 200 answer to `method /api/v1{path}`; the CLI's errors otherwise (module doc);
        `campaign` names the campaign in a 404's message."""
        try:
            got = requests.request(method, f"{self.base}/api/v1{path}", params=params,
                                   headers={"Authorization": f"Bearer {self.token}"},
                                   timeout=self.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            raise RetryableError(f"cannot reach the service at {self.base} "
                                 f"({type(exc).__name__}); is `lungscreen serve` running "
                                 "there, and is the URL right?") from None
        if got.status_code == 200:
            return got
        raise _refusal(got, self.base, campaign)


def _detail(got: requests.Response) -> str:
    try:
        detail = got.json().get("detail")
    except (ValueError, AttributeError):
        return got.text.strip()[:200] or got.reason
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):  # FastAPI's 422
        first = detail[0]
        return f"{'.'.join(str(x) for x in first.get('loc', ()))}: {first.get('msg', '')}"
    return str(detail)[:500]


def _refusal(got: requests.Response, base: str, campaign: str | None) -> Exception:
    code, detail = got.status_code, _detail(got)
    if code in (401, 403):
        return BadInput(f"the service refused the token: {detail} (HTTP {code})")
    if code == 404:
        what = f"no campaign {campaign!r}" if campaign else "not found"
        return BadInput(f"{what} at {base} (or not in this token's scope): {detail}")
    if code in (400, 406, 409, 422):
        return BadInput(f"the service at {base}: {detail}")
    if 300 <= code < 400:
        return BadInput(f"the service at {base} redirects to "
                        f"{got.headers.get('Location', '?')[:120]}; give that URL as --server")
    retry = f"; retry after {got.headers['Retry-After']} s" if "Retry-After" in got.headers \
        else ""
    return RetryableError(f"the service at {base} failed (HTTP {code}): {detail}{retry}")


def client_for(args: argparse.Namespace, env: Mapping[str, str]) -> ServiceClient | None:
    """The client when `--server` (or LUNGSCREEN_SERVER / the config file's `server`, when
    no --store or --spec asks for the local store) is given; None: work locally."""
    local = getattr(args, "store", None) is not None or getattr(args, "spec", None) is not None
    if args.server is not None and local:
        raise BadInput("--server goes through the service; --store and --spec open a store "
                       "here: give one or the other")
    server = args.server if args.server is not None or local else load_settings(env).server
    if server is None:
        if args.token_file is not None:
            raise BadInput("--token-file is for --server; add --server URL")
        return None
    return ServiceClient(server_url(server, insecure_http=args.insecure_http),
                         read_token(args.token_file, env))
