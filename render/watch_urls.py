"""The public watch pages, mounted at /w/ by the root URLconf (core.urls), outside the API: no key, no
session; the token is the secret (render/watch/views.py, docs/watch-pages.md)."""

from __future__ import annotations

from django.urls import path, register_converter

from render.watch import views


class TokenConverter:
    """A token as `secrets.token_urlsafe` writes it (URL-safe base64); anything else never reaches a view."""

    regex = "[A-Za-z0-9_-]{16,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "watch_token")

app_name = "watch"
urlpatterns = [
    path("<watch_token:token>", views.watch_page, name="page"),
    path("<watch_token:token>/video", views.watch_video, name="video"),
    path("<watch_token:token>/poster", views.watch_poster, name="poster"),
    path("<watch_token:token>/gif", views.watch_gif, name="gif"),
    path("<watch_token:token>/captions.vtt", views.watch_captions, name="captions"),
    path("<watch_token:token>/events", views.watch_events, name="events"),
]
