"""The HTTP(S) server every REST emulator runs on: a real threaded server on loopback, JSON
in and out, and fault injection set per run (latency, 429 with or without Retry-After,
500, dropped connections) so clients' retry paths are exercised over real sockets.

An emulator subclasses `EmulatorApp` and registers routes; `EmulatorServer` serves it:

    app = MyApp()
    app.route("GET", r"/api/things/(?P<id>[^/]+)", app.get_thing)
    with EmulatorServer(app, tls=EmulatorCA()) as server:
        server.base_url  # https://127.0.0.1:PORT
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from certbench.core.emulators.tls import EmulatorCA


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    client_cert_der: bytes | None = None

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: Any = None  # dict/list -> JSON; bytes -> as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class HttpError(Exception):
    """Raise from a handler to answer with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Fault:
    # "429", "500", "503", "latency"; "drop": the connection closes before the request is
    # handled; "drop-after": the request is handled, then the connection closes before the
    # answer (the client cannot know whether it took effect).
    kind: str
    count: int = 1  # how many matching requests it hits; -1 = forever
    path: str = ""  # regex searched in the path; empty = every request
    method: str = ""
    retry_after: float | None = None
    seconds: float = 0.0  # latency


class FaultPlan:
    """Faults for the next matching requests, consumed in order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.latency = 0.0
        self.hits: list[tuple[str, str, str]] = []

    def add(self, kind: str, count: int = 1, *, path: str = "", method: str = "",
            retry_after: float | None = None, seconds: float = 0.0) -> None:
        with self._lock:
            self._faults.append(Fault(kind, count, path, method.upper(), retry_after, seconds))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.latency = 0.0

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method != method:
                    continue
                if fault.path and not re.search(fault.path, path):
                    continue
                if fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                self.hits.append((fault.kind, method, path))
                return fault
        return None


Handler = Callable[[Request], Response]


class EmulatorApp:
    """Routes plus the hooks a concrete emulator overrides."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults = FaultPlan()
        self.requests_seen = 0

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(pattern + r"/?$"), handler))

    # Overridable: authentication, and the error bodies in the service's own format.
    def authenticate(self, request: Request) -> Response | None:
        return None

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"error": {"code": str(status), "message": message}})

    def fault_response(self, fault: Fault) -> Response:
        status = int(fault.kind)
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        response = self.error(status, "Too many requests" if status == 429 else "Internal server error")
        response.headers.update(headers)
        return response

    def dispatch(self, request: Request) -> Response:
        path_matched = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            path_matched = True
            if method != request.method:
                continue
            denied = self.authenticate(request)
            if denied is not None:
                return denied
            request.path_params = {k: v for k, v in match.groupdict().items() if v is not None}
            try:
                return handler(request)
            except HttpError as exc:
                return exc.response
        if path_matched:
            return self.error(405, f"Method {request.method} is not allowed on {request.path}.")
        return self.error(404, f"No such resource: {request.path}.")


def _make_handler(app: EmulatorApp) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, the second one waits
        # for the client's delayed ACK (~40 ms per request).
        disable_nagle_algorithm = True
        server_version = "CertbenchEmulator/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass  # requests may carry tokens in headers; the stdlib log would not, but stays quiet

        def _serve(self) -> None:
            app.requests_seen += 1
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            cert_der = None
            if hasattr(self.connection, "getpeercert"):
                cert_der = self.connection.getpeercert(binary_form=True)
            request = Request(
                method=self.command,
                path=split.path,
                query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                client_cert_der=cert_der,
            )
            if app.faults.latency:
                time.sleep(app.faults.latency)
            fault = app.faults.take(request.method, request.path)
            if fault is not None and fault.kind == "latency":
                time.sleep(fault.seconds)
                fault = None
            if fault is not None and fault.kind in ("drop", "drop-after"):
                if fault.kind == "drop-after":
                    app.dispatch(request)  # handled; only the answer is lost
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            response = app.fault_response(fault) if fault is not None else app.dispatch(request)
            payload = response.encode()
            self.send_response(response.status)
            if payload or response.status not in (204, 304):
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return _Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        # The TLS handshake runs here, in the connection's own thread, so one slow or
        # broken client never holds up the accept loop.
        if self.ssl_context is not None:
            request.settimeout(30)
            request = self.ssl_context.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        # Failed handshakes and dropped connections are part of the tests; stay quiet.
        pass


class EmulatorServer:
    """Serves `app` on `host`:`port` (0 = a free port), over TLS when `tls` is given."""

    def __init__(
        self,
        app: EmulatorApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: EmulatorCA | None = None,
        client_cas: list | None = None,
        hostnames: list[str] | None = None,
    ) -> None:
        self.app = app
        self.tls = tls
        self._httpd = _Server((host, port), _make_handler(app))
        if tls is not None:
            names = hostnames or [host, "localhost"]
            self._httpd.ssl_context = tls.server_context(names, client_cas=client_cas or [])
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"emulator:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
