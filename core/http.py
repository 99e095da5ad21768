"""What every REST client of Certbench shares: an httpx client with timeouts and the
trust it needs, and one retry policy for transient failures.

Retries: timeouts, dropped connections, 429 and 5xx, with exponential backoff and full
jitter, honouring `Retry-After` when the service sends it. Other 4xx are never retried.
A request that is not idempotent (ordering a certificate) is retried only when it surely
did not reach the service (connection refused, connect timeout) or was refused unprocessed
(429): retrying after a read timeout or a 500 could place a second order.
"""

from __future__ import annotations

import email.utils
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, first one included
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


def _sent_for_sure(exc: httpx.TransportError) -> bool:
    """False when the request cannot have reached the service."""
    return not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))


def send_with_retry(
    client: httpx.Client,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    idempotent: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, str, float], None] | None = None,
) -> httpx.Response:
    """Send `request`, retrying transient failures per `policy`. Returns the last response
    (which may be an error status the caller turns into a typed error); re-raises the last
    transport error when every try failed at the transport."""
    attempt = 0
    while True:
        attempt += 1
        try:
            response = client.send(request)
        except httpx.TransportError as exc:
            retryable = idempotent or not _sent_for_sure(exc)
            if not retryable or attempt >= policy.attempts:
                raise
            wait = policy.delay(attempt)
            if on_retry:
                on_retry(attempt, type(exc).__name__, wait)
            sleep(wait)
            continue
        status = response.status_code
        retryable = status in policy.statuses and (idempotent or status == 429)
        if not retryable or attempt >= policy.attempts:
            return response
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = policy.delay(attempt, retry_after)
        response.close()
        if on_retry:
            on_retry(attempt, f"HTTP {status}", wait)
        sleep(wait)


def make_client(
    base_url: str,
    *,
    timeout: float = 30.0,
    ca_file: str | Path | None = None,
    client_cert: tuple[str, str, str] | None = None,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.Client:
    """An httpx client with a timeout on every phase. TLS verification is always on: against
    the system's trust store, or `ca_file` (an emulator's CA) when given."""
    if ssl_context is None:
        ssl_context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if client_cert:
            certfile, keyfile, password = client_cert
            ssl_context.load_cert_chain(certfile, keyfile, password=password)
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        verify=ssl_context,
        headers=headers or {},
        follow_redirects=False,
    )
