"""JWT bearer authentication: keys, minting, verification, scopes and the middleware.

Only the one configured algorithm is ever accepted, which rules out `alg: none` and
HS/RS confusion. With no key configured a random secret is created in the data dir
(mode 0600), so `serve` and `token` work with zero set-up and agree with each other.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from ..private import private_dir
from ..settings import Settings
from .errors import ApiError

__all__ = [
    "SCOPES",
    "AuthError",
    "Claims",
    "JwtKeys",
    "auth_middleware",
    "claims_of",
    "public",
    "requires_scope",
]

SCOPES = ("read", "write", "admin", "publish")
RANKED = ("read", "write", "admin")  # each implies the ones before it
PUBLISH = "publish"  # a producer's token publishes and nothing else (write may publish too)
SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret
DEFAULT_TTL = 12 * 3600
_CLAIMS: web.RequestKey[Claims] = web.RequestKey("devskyy_claims", object)  # type: ignore[arg-type]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Any])


_RANK = {s: i for i, s in enumerate(RANKED)}
# RFC 6750's b64token, which every JWT fits; anything else (a non-ASCII byte, a space)
# is refused before it reaches the JWT library.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,8192}=*")


class AuthError(Exception):
    """A token that cannot be trusted; the message is safe to show."""


@attrs.frozen
class Claims:
    sub: str
    scope: tuple[str, ...]
    exp: int
    iat: int
    raw: Mapping[str, Any] = attrs.field(eq=False, repr=False)

    def allows(self, needed: str) -> bool:
        """`admin` implies `write`, which implies `read`; publishing takes `publish` or
        `write`, and `publish` alone takes nothing else."""
        if needed == PUBLISH and PUBLISH in self.scope:
            return True
        least = _RANK["write" if needed == PUBLISH else needed]
        return any(_RANK.get(s, -1) >= least for s in self.scope)


def _load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    private_dir(data_dir)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secret.encode())
    finally:
        os.close(fd)
    return secret


MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash


def _checked_secret(secret: str, source: str) -> str:
    """Raises:
    ValueError: the secret is shorter than 32 bytes (an empty file included).
    """
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise ValueError(
            f"{source}: an HS256 secret must be at least {MIN_SECRET_BYTES} bytes, not {size}"
        )
    return secret


def _algorithm_for(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return "ES256"
    raise ValueError("the JWT key must be an RSA or EC key in PEM format")


@attrs.frozen
class JwtKeys:
    """The verification key (and signing key, when this process may mint)."""

    algorithm: str
    verify_key: Any
    signing_key: Any | None
    audience: str | None
    issuer: str | None
    verified: dict[str, Claims] = attrs.field(factory=dict, eq=False, repr=False)  # bounded

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtKeys:
        """Build keys from settings, creating the data-dir secret if none is configured.

        Raises:
            ValueError: a key file is unreadable or of an unsupported type, or an HS256
                secret is shorter than 32 bytes.
        """
        if settings.jwt_public_key is not None:
            public = load_pem_public_key(settings.jwt_public_key.read_bytes())
            private = None
            if settings.jwt_private_key is not None:
                private = load_pem_private_key(settings.jwt_private_key.read_bytes(), None)
            algorithm = settings.jwt_algorithm or _algorithm_for(public)
            if algorithm.startswith("HS") or algorithm == "none":
                raise ValueError(f"algorithm {algorithm} cannot be used with a public key")
            return cls(algorithm, public, private, settings.jwt_audience, settings.jwt_issuer)
        if settings.jwt_secret is not None:
            secret = _checked_secret(settings.jwt_secret, "--jwt-secret")
        else:
            secret = _checked_secret(
                _load_or_create_secret(settings.data_dir), str(settings.data_dir / SECRET_FILE)
            )
        algorithm = settings.jwt_algorithm or "HS256"
        if not algorithm.startswith("HS"):
            raise ValueError(f"algorithm {algorithm} needs --jwt-public-key")
        return cls(algorithm, secret, secret, settings.jwt_audience, settings.jwt_issuer)

    def mint(self, sub: str, scope: str = "read", ttl: float = DEFAULT_TTL) -> str:
        """Sign a token for `sub` with space-separated `scope`, valid for `ttl` seconds.

        Raises:
            ValueError: no signing key, or an unknown scope.
        """
        if self.signing_key is None:
            raise ValueError("no signing key: pass --jwt-private-key to mint tokens")
        unknown = [s for s in scope.split() if s not in SCOPES]
        if unknown or not scope.split():
            raise ValueError(f"scope must be one or more of {', '.join(SCOPES)}")
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "scope": scope, "iat": now, "exp": now + int(ttl)}
        if self.audience:
            claims["aud"] = self.audience
        if self.issuer:
            claims["iss"] = self.issuer
        return jwt.encode(claims, self.signing_key, algorithm=self.algorithm)

    def verify(self, token: str) -> Claims:
        """`_verify`, remembered for tokens already checked (until they expire).

        A dashboard sends the same token with every request; checking its signature
        once is enough. Expiry is still enforced on every call.
        """
        if not _TOKEN.fullmatch(token):
            raise AuthError("The token is malformed.")
        cache = self.verified
        claims = cache.get(token)
        if claims is not None and claims.exp > time.time():
            return claims
        claims = self._verify(token)
        if len(cache) >= 4096:
            cache.clear()
        cache[token] = claims
        return claims

    def _verify(self, token: str) -> Claims:
        """Check signature, algorithm, expiry, audience and issuer.

        Raises:
            AuthError: the token is not acceptable; the message says why.
        """
        try:
            raw = jwt.decode(
                token,
                self.verify_key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("The token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("The token is for another audience.") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("The token is from an untrusted issuer.") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("The token is invalid or badly signed.") from exc
        scope = raw.get("scope", "")
        if not isinstance(scope, str) or not isinstance(raw["sub"], str):
            raise AuthError("The token's sub and scope claims must be strings.")
        return Claims(raw["sub"], tuple(scope.split()), int(raw["exp"]), int(raw["iat"]), raw)


def public(handler: H) -> H:
    """Mark a handler as reachable without a token (health, sockets, static files)."""
    handler.__devskyy_public__ = True  # type: ignore[attr-defined]
    return handler


def requires_scope(scope: str) -> Callable[[H], H]:
    """Demand more than the method's default scope (GET read, POST write, else admin)."""

    def mark(handler: H) -> H:
        handler.__devskyy_scope__ = scope  # type: ignore[attr-defined]
        return handler

    return mark


def claims_of(request: web.Request) -> Claims | None:
    """The verified claims of the request's token, if it carried one."""
    claims: Claims | None = request.get(_CLAIMS)
    return claims


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="devskyy", error="invalid_token"'},
    )


def verified_claims(request: web.Request, keys: JwtKeys, *, query: bool = False) -> Claims | None:
    """The claims of the request's bearer token (or, with `query`, of `?token=`); None
    when it carries none that verifies. For callers that decide for themselves what an
    anonymous request gets."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if not token and query:
        token = request.query.get("token", "")
    if not token:
        return None
    try:
        return keys.verify(token)
    except AuthError:
        return None


def bearer_token(request: web.Request) -> str:
    """The bearer token of the request.

    Raises:
        ApiError: 401 when the header is missing or not a bearer token.
    """
    header = request.headers.get("Authorization")
    if not header:
        raise _unauthorized("An Authorization: Bearer token is required.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must use the Bearer scheme.")
    return token.strip()


def _needed_scope(request: web.Request, handler: object) -> str:
    declared = getattr(handler, "__devskyy_scope__", None)
    if isinstance(declared, str):
        return declared
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if request.method == "POST":
        return "write"
    return "admin"


def auth_middleware(keys_for: Callable[[web.Request], JwtKeys]) -> Any:
    """Build the middleware; `keys_for` finds the keys on the request's app."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        if match.http_exception is not None:
            raise match.http_exception
        original = match.handler
        if getattr(original, "__devskyy_public__", False) or request.method == "OPTIONS":
            return await handler(request)
        try:
            claims = keys_for(request).verify(bearer_token(request))
        except AuthError as exc:
            raise _unauthorized(str(exc)) from exc
        needed = _needed_scope(request, original)
        if not claims.allows(needed):
            wanted = "'publish' or 'write'" if needed == PUBLISH else f"'{needed}'"
            raise ApiError(403, "forbidden", f"This action needs the {wanted} scope.")
        request[_CLAIMS] = claims
        return await handler(request)

    return middleware
