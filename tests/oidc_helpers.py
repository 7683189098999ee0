"""An identity provider the tests make themselves: RSA and EC keys, their JWKS (as a file,
or served over HTTP by a tiny http.server in a thread, counting its fetches), and tokens
signed as a provider signs them, or forged as an attacker would."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = ["AUDIENCE", "ISSUER", "Provider", "b64", "forged_hs256", "jwks_server",
           "unsigned"]

ISSUER = "https://idp.test/realms/health"
AUDIENCE = "lungscreen"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Provider:
    """Signing keys by kid (RSA "rsa-1", EC "ec-1"), and the claims a token gets unless
    told otherwise."""

    keys: dict[str, Any] = field(default_factory=lambda: {
        "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec-1": ec.generate_private_key(ec.SECP256R1())})

    def jwks(self, *kids: str) -> dict[str, Any]:
        """The public JWKS of `kids` (default: every key)."""
        out = []
        for kid in kids or tuple(self.keys):
            key = self.keys[kid]
            rsa_key = isinstance(key, rsa.RSAPrivateKey)
            jwk = (RSAAlgorithm if rsa_key else ECAlgorithm).to_jwk(key.public_key(),
                                                                     as_dict=True)
            out.append({**jwk, "kid": kid, "use": "sig",
                        "alg": "RS256" if rsa_key else "ES256"})
        return {"keys": out}

    def write_jwks(self, path: Path, *kids: str) -> Path:
        path.write_text(json.dumps(self.jwks(*kids)), encoding="utf-8")
        return path

    @staticmethod
    def claims(**changes: Any) -> dict[str, Any]:
        """A valid analyst's claims, changed by `changes` (None: the claim removed)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": "4f1c2d3e-analyst", "iat": now,
            "exp": now + 300, "email": "ann@example.org", "preferred_username": "ann",
            "realm_access": {"roles": ["lungscreen-analyst", "offline_access"]}}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str = "rsa-1", key: Any = None, headers: dict[str, Any] | None = None,
              **changes: Any) -> str:
        """A token signed by `kid`'s key (or `key`, under `kid`'s header)."""
        signer = key if key is not None else self.keys[kid]
        alg = "RS256" if isinstance(signer, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(self.claims(**changes), signer, algorithm=alg,
                          headers={"kid": kid, **(headers or {})})

    def public_pem(self, kid: str = "rsa-1") -> bytes:
        return bytes(self.keys[kid].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def _compact(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode()))


def unsigned(claims: dict[str, Any], kid: str = "rsa-1") -> str:
    """`alg: none`: no signature at all."""
    return _compact({"alg": "none", "typ": "JWT", "kid": kid}, claims) + "."


def forged_hs256(claims: dict[str, Any], secret: bytes, kid: str = "rsa-1") -> str:
    """The key-confusion forgery: HS256 with `secret` (the provider's public key, which
    anyone may read) as the HMAC key. Built by hand: PyJWT refuses to make one."""
    signing_input = _compact({"alg": "HS256", "typ": "JWT", "kid": kid}, claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


class _Jwks(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Any = self.server
        server.fetches += 1
        status, body = server.answer()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextlib.contextmanager
def jwks_server(provider: Provider, *kids: str) -> Iterator[Any]:
    """The provider's JWKS at `server.url` on a loopback port; `server.fetches` counts the
    GETs; `server.kids` (what is served) and `server.status` may be changed meanwhile."""
    httpd: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    httpd.fetches, httpd.kids, httpd.status = 0, kids, 200
    httpd.answer = lambda: (httpd.status, json.dumps(provider.jwks(*httpd.kids)).encode()
                            if httpd.status == 200 else b"<html>down</html>")
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/realms/health/certs"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
