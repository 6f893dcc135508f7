"""A tiny threaded HTTP server on 127.0.0.1 that answers the Stripe API calls Reelsmith makes, with Stripe's JSON.

Only the outside world is faked (docs/style.md rule 9): the real `stripe` SDK talks to this over HTTP,
form-encoded requests in, JSON objects out, Idempotency-Key replays honoured the way Stripe does, meter events
deduplicated by `identifier` the way Billing Meters do. Tests put subscriptions in `subscriptions` (what a re-fetch answers)
and read back `requests` and `meter_events`.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[b][0][c]=v` form fields (Stripe's encoding) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            nxt: Any = value if last else ([] if parts[index + 1].isdigit() else {})
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if node[position] is None or last:
                    node[position] = nxt
                node = node[position]
            else:
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
    return root


@dataclass
class FakeStripe:
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by identifier, as Stripe dedupes
    meter_event_posts: int = 0
    fail_meter_events: bool = False
    _replays: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append({"method": method, "path": path, "params": params, "headers": headers})
            key = headers.get("idempotency-key", "")
            if method == "POST" and key and key in self._replays:
                return self._replays[key]
            status, body = self._route(method, path, params)
            if method == "POST" and key and status < 300:  # a request that failed may be retried with its key
                self._replays[key] = (status, body)
            return status, body

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/customers":
            return 200, {"id": self.new_id("cus"), "object": "customer", **params}
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = self.new_id("cs_test")
            return 200, {
                "id": session_id,
                "object": "checkout.session",
                "mode": params.get("mode"),
                "customer": params.get("customer"),
                "client_reference_id": params.get("client_reference_id"),
                "metadata": params.get("metadata", {}),
                "line_items_sent": params.get("line_items"),
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            }
        if method == "POST" and path == "/v1/billing_portal/sessions":
            session_id = self.new_id("bps")
            return 200, {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": params.get("customer"),
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.test/p/session/{session_id}",
            }
        if method == "GET" and path.startswith("/v1/subscriptions/"):
            subscription = self.subscriptions.get(path.rsplit("/", 1)[1])
            if subscription is None:
                return 404, _error("resource_missing", "No such subscription")
            return 200, subscription
        if method == "POST" and path == "/v1/billing/meter_events":
            self.meter_event_posts += 1
            if self.fail_meter_events:
                return 503, _error("api_error", "meter events are failing (test)")
            identifier = params["identifier"]
            event = {"object": "billing.meter_event", "livemode": False, **params}
            self.meter_events.setdefault(identifier, event)
            return 200, event
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def subscription(
        self,
        *,
        customer: str,
        price: str,
        status: str = "active",
        workspace_id: str = "",
        period: tuple[int, int] = (1_700_000_000, 1_702_592_000),
    ) -> dict[str, Any]:
        """Put a subscription in the fake's store (the state a re-fetch answers) and return it."""
        subscription_id = self.new_id("sub")
        self.subscriptions[subscription_id] = {
            "id": subscription_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "metadata": {"workspace_id": workspace_id},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self.new_id("si"),
                        "object": "subscription_item",
                        "price": {"id": price, "object": "price"},
                        "current_period_start": period[0],
                        "current_period_end": period[1],
                    }
                ],
            },
        }
        return self.subscriptions[subscription_id]


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "code": kind, "message": message}}


@contextmanager
def fake_stripe_server() -> Iterator[FakeStripe]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = _nest(parse_qsl(raw or query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = fake.handle(self.command, path, params, headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-stripe", daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
