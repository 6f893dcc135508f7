"""Embedded mode's media: local files served only through signed, expiring URLs (docs/reliability.md R20).

The S3 twin is a presigned GET URL (`core.storage.S3Storage.url`); here the URL carries a
`django.core.signing.TimestampSigner` signature over the storage key, valid for `AWS_PRESIGN_SECONDS` like a
presigned one. Only what an API answer or a dashboard page hands to its own workspace is ever served:
render outputs (`renders/<workspace>/<render>/…`) and uploaded brand and template assets. Generated
pictures and shared segments (`generations/`, `segments/`) are never served at all: their keys are hashes
of what made them (a prompt), shared by every workspace, so a URL to one would tell a stranger what
another workspace generated.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseForbidden
from django.views.static import serve

# A different salt from every other signer of the project: a media signature is good for nothing else.
SALT = "reelsmith.media"
# `previews/<workspace>/<digest>/`: a template preview's stills (render.services.preview), its workspace's own.
SERVED_PREFIXES = ("renders/", "brands/", "templates/", "previews/")
SIGNATURE_PARAM = "sig"
EXPIRED_OR_INVALID = "This link is invalid or has expired; ask the API for a fresh one."


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def media_servable(key: str) -> bool:
    """A key this route ever serves: under a served prefix, and plain (no `..`, `.` or empty part that could
    walk from a served folder into another)."""
    parts = key.split("/")
    return key.startswith(SERVED_PREFIXES) and not any(part in ("", ".", "..") for part in parts)


def media_query(key: str) -> str:
    """The query string that makes `key`'s URL work for `AWS_PRESIGN_SECONDS`: `sig=<timestamp>:<mac>`."""
    signed = _signer().sign(key)
    return urlencode({SIGNATURE_PARAM: signed[len(key) + 1 :]})


def media_signature_valid(key: str, signature: str) -> bool:
    try:
        _signer().unsign(f"{key}:{signature}", max_age=settings.AWS_PRESIGN_SECONDS)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return False
    return True


def media_serve(request: HttpRequest, path: str) -> HttpResponseBase:
    """GET /media/<key>?sig=…: the file, if the key is one that is ever served and the signature is good."""
    if not media_servable(path):
        raise Http404()
    if not media_signature_valid(path, request.GET.get(SIGNATURE_PARAM, "")):
        return HttpResponseForbidden(EXPIRED_OR_INVALID, content_type="text/plain")
    # django.views.static.serve refuses paths that escape the folder.
    response = serve(request, path, document_root=str(settings.MEDIA_ROOT))
    response["Cache-Control"] = "private, max-age=3600"
    return response
