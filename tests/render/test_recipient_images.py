"""Images per recipient (issue 15): an `image` variable's URL, fetched through the private-address guard from
a loopback server, appears in the frame; the same URL for many recipients is fetched once; a private
address is refused with the reason; a fallback stands in for a URL that fails."""

from __future__ import annotations

import copy
import http.server
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rest_framework.test import APIClient

from core.storage import get_storage
from render.compose.probe import decode_frame
from render.models import Render, RenderStatus
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]

SPEC: dict[str, Any] = {
    "format": {"width": 160, "height": 288, "fps": 24},
    "variables": {"company_logo": {"type": "image", "required": True}},
    "scenes": [
        {
            "duration": 0.5,
            "background": {"color": "#101010"},
            "layers": [
                {"type": "image", "source": "{{company_logo}}", "box": [0.0, 0.0, 1.0, 0.5], "fit": "cover"}
            ],
        },
        {"duration": 0.5, "background": {"color": "#2222CC"}},
    ],
}


class _Server:
    def __init__(self) -> None:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 32), (0, 200, 0)).save(buffer, format="PNG")
        self.png = buffer.getvalue()
        self.hits: dict[str, int] = {}
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.hits[self.path] = served.hits.get(self.path, 0) + 1
                if self.path.startswith("/logo"):
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(served.png)))
                    self.end_headers()
                    self.wfile.write(served.png)
                elif self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "http://10.0.0.1/logo.png")
                    self.end_headers()
                else:
                    self.send_response(404)
                    self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(settings: Any) -> Iterator[_Server]:
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the picture server is on loopback
    served = _Server()
    yield served
    served.close()


def _render(api: APIClient, template: str, brand: str, variables: dict[str, str]) -> Render:
    response = request_render(api, template, brand, variables)
    assert response.status_code == 202, response.json()
    return Render.objects.get(pk=response.json()["id"])


def test_the_recipients_picture_is_in_the_frame(api: APIClient, server: _Server, tmp_path: Path) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    render = _render(api, template, brand, {"company_logo": f"{server.base}/logo.png"})
    assert render.status == RenderStatus.SUCCEEDED, render.error
    video = get_storage().fetch(render.outputs[0]["video_key"], tmp_path / "video.mp4")
    frame = np.asarray(decode_frame(video, 0), dtype=np.float64)
    top = frame[10:130, 10:150].reshape(-1, 3).mean(axis=0)  # the covered box: the green picture
    bottom = frame[160:280, 10:150].reshape(-1, 3).mean(axis=0)  # the dark background
    assert top[1] > 150
    assert max(top[0], top[2]) < 60
    assert bottom.max() < 40


def test_one_url_for_fifty_recipients_is_fetched_once(api: APIClient, server: _Server) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    for _ in range(50):
        render = _render(api, template, brand, {"company_logo": f"{server.base}/logo.png?shared"})
        assert render.status == RenderStatus.SUCCEEDED, render.error
    assert server.hits == {"/logo.png?shared": 1}


def test_a_failed_url_fails_the_recipient_with_the_reason(api: APIClient, server: _Server) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    missing = _render(api, template, brand, {"company_logo": f"{server.base}/nothing.png"})
    assert missing.status == RenderStatus.FAILED
    assert "company_logo" in missing.error
    assert "404" in missing.error
    moved = _render(api, template, brand, {"company_logo": f"{server.base}/moved"})
    assert moved.status == RenderStatus.FAILED
    assert "redirect" in moved.error
    assert server.hits.get("/moved") == 1  # the redirect's target was never asked for


def test_a_private_address_is_refused(api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    connects: list[Any] = []
    # The name resolves to a private address (no traffic leaves: resolution is faked, connects recorded).
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80))]
    )
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connects.append(a))
    template, brand = make_template(api, SPEC), make_brand(api)
    render = _render(api, template, brand, {"company_logo": "http://logos.example/acme.png"})
    assert render.status == RenderStatus.FAILED
    assert "not allowed" in render.error
    assert "company_logo" in render.error
    assert connects == []


def test_a_fallback_stands_in_for_a_failed_url(api: APIClient, server: _Server, tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["variables"]["company_logo"]["fallback"] = "brand.logo"
    template, brand = make_template(api, spec), make_brand(api)
    logo = io.BytesIO()
    Image.new("RGB", (64, 32), (220, 0, 0)).save(logo, format="PNG")
    logo.name = "logo.png"
    logo.seek(0)
    response = api.post(f"/api/v1/brands/{brand}/assets/", {"kind": "logo", "file": logo}, format="multipart")
    assert response.status_code in (200, 201), response.json()
    render = _render(api, template, brand, {"company_logo": f"{server.base}/nothing.png"})
    assert render.status == RenderStatus.SUCCEEDED, render.error
    video = get_storage().fetch(render.outputs[0]["video_key"], tmp_path / "v.mp4")
    frame = np.asarray(decode_frame(video, 0), dtype=np.float64)
    top = frame[10:130, 10:150].reshape(-1, 3).mean(axis=0)
    assert top[0] > 150  # the brand's red logo
    assert top[1] < 60


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda s: s["variables"]["company_logo"].update(fallback="nope"),
            "spec.variables.company_logo.fallback",
        ),
        (lambda s: s["variables"].update(company_logo={"type": "text"}), "spec.scenes[0].layers[0].source"),
        (lambda s: s["scenes"][0]["layers"][0].update(fit="stretch"), "spec.scenes[0].layers[0].fit"),
        (lambda s: s["variables"]["company_logo"].update(type="video"), "spec.variables.company_logo.type"),
    ],
)
def test_image_spec_errors_name_the_field(api: APIClient, change: Any, path: str) -> None:
    spec = copy.deepcopy(SPEC)
    change(spec)
    response = api.post("/api/v1/templates/", {"name": "Hello", "spec": spec}, format="json")
    assert response.status_code == 400
    assert path in str(response.json()), response.json()


def test_a_value_that_is_not_a_url_is_a_400(api: APIClient) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    response = request_render(api, template, brand, {"company_logo": "file:///etc/passwd"})
    assert response.status_code == 400
    assert "variables.company_logo" in str(response.json())
