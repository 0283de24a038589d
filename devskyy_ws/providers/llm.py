"""The LLM provider interface and the OpenAI-compatible chat-completions client.

One HTTP client covers OpenAI and the servers that speak its API (Ollama, vLLM,
llama.cpp server, Groq, Mistral, Together): POST {base_url}/chat/completions.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any, Protocol

import aiohttp
import attrs

from ..retry import Retry, with_retries

__all__ = ["Completion", "LLMProvider", "OpenAICompatProvider", "ProviderError"]


class ProviderError(Exception):
    """A provider could not produce an answer; the message is safe to show."""


@attrs.frozen(kw_only=True)
class Completion:
    text: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: float

    @property
    def tokens_used(self) -> int:
        return self.tokens_in + self.tokens_out


class LLMProvider(Protocol):
    name: str
    display_name: str
    model: str
    enabled: bool
    kind: str

    async def complete(
        self, system: str, user: str, *, timeout: float | None = None
    ) -> Completion: ...

    async def close(self) -> None: ...


RETRYABLE = {429, 500, 502, 503, 504}


class OpenAICompatProvider:
    """Chat completions with timeouts, jittered retries on 429/5xx, and priced usage.

    Args:
        base_url: e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:11434/v1``.
        api_key_env: name of the environment variable holding the key (may be unset
            for local servers that need none).
        input_price_per_1k / output_price_per_1k: USD per 1,000 tokens.
    """

    kind = "openai"

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        display_name: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        input_price_per_1k: float = 0.0,
        output_price_per_1k: float = 0.0,
        temperature: float = 0.7,
        enabled: bool = True,
    ) -> None:
        self.name = name
        self.display_name = display_name or name
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.input_price_per_1k = input_price_per_1k
        self.output_price_per_1k = output_price_per_1k
        self.temperature = temperature
        self.enabled = enabled
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def complete(self, system: str, user: str, *, timeout: float | None = None) -> Completion:
        """Ask the model; retries 429/5xx and connection errors with jittered backoff.

        Raises:
            ProviderError: after the last attempt, on timeout, or on a malformed body.
        """
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": self.temperature,
        }
        started = time.perf_counter()
        per_try = aiohttp.ClientTimeout(total=timeout or self.timeout)

        async def attempt() -> Completion:
            try:
                async with self._session_for_loop().post(
                    f"{self.base_url}/chat/completions",
                    json=body,
                    headers=self._headers(),
                    timeout=per_try,
                ) as resp:
                    if resp.status in RETRYABLE:
                        after = _retry_after(resp.headers.get("Retry-After"))
                        raise Retry(f"HTTP {resp.status}", after)
                    if resp.status >= 400:
                        raise ProviderError(f"{self.name}: HTTP {resp.status} from the provider")
                    return self._completion(await _json_body(resp, self.name), started)
            except TimeoutError as exc:
                raise Retry(f"timed out after {per_try.total:g}s") from exc
            except aiohttp.ClientError as exc:
                raise Retry(f"connection failed ({type(exc).__name__})") from exc

        try:
            return await with_retries(attempt, self.max_retries, self.backoff_base)
        except Retry as exc:
            raise ProviderError(
                f"{self.name}: {exc.reason} after {self.max_retries + 1} attempts"
            ) from exc

    def _completion(self, doc: Any, started: float) -> Completion:
        try:
            text = doc["choices"][0]["message"]["content"]
            usage = doc.get("usage") or {}
            tokens_in = int(usage.get("prompt_tokens", 0))
            tokens_out = int(usage.get("completion_tokens", 0))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"{self.name}: malformed response (no choices[0].message.content)"
            ) from exc
        if not isinstance(text, str):
            raise ProviderError(f"{self.name}: malformed response (content is not text)")
        cost = (
            tokens_in / 1000 * self.input_price_per_1k
            + tokens_out / 1000 * self.output_price_per_1k
        )
        return Completion(
            text=text,
            provider=self.name,
            model=str(doc.get("model") or self.model),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=round(cost, 8),
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )


async def _json_body(resp: aiohttp.ClientResponse, name: str) -> Any:
    try:
        return await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError) as exc:
        raise ProviderError(f"{name}: malformed response (not JSON)") from exc


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), 30.0) + random.uniform(0, 0.05)
    except ValueError:
        return None
