"""C2PA manifests on output MP4s, signed offline with a configured ES256 certificate chain.

The manifest holds one `c2pa.actions` assertion: `c2pa.created` with the IPTC digital source type
`trainedAlgorithmicMedia` when a model drew the imagery (else `algorithmicMedia`: composed by software),
naming the models. c2pa-python (the C2PA Rust SDK) embeds it as a `uuid` box and hashes the rest of the
file (BMFF hash), so the signed file plays and probes as before. No timestamp authority is asked (the
renderer has no network beyond storage), so a signature is valid while the signing certificate is.

Configuration, read once per process (as `REELSMITH_FFMPEG` is):
- `REELSMITH_C2PA_CERT`: a PEM file with the signing certificate first, then its issuers (not the root);
- `REELSMITH_C2PA_KEY`: the PEM (PKCS#8) private key of that certificate, P-256 (ES256);
- `REELSMITH_C2PA_SIGN`: `1`/`0` to force signing on or off; unset, it is on when both files are set.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render.compose.ffmpeg import ComposeError

SIGN_ENV, CERT_ENV, KEY_ENV = "REELSMITH_C2PA_SIGN", "REELSMITH_C2PA_CERT", "REELSMITH_C2PA_KEY"
# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), as C2PA asks for them.
AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFTWARE_MADE = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"


@dataclass(frozen=True, slots=True)
class C2paCredentials:
    cert_chain_pem: bytes
    private_key_pem: bytes


@functools.cache
def c2pa_credentials() -> C2paCredentials | None:
    """The configured signing credentials, or None when signing is off."""
    cert, key, switch = (
        os.environ.get(CERT_ENV, ""),
        os.environ.get(KEY_ENV, ""),
        os.environ.get(SIGN_ENV, ""),
    )
    enabled = switch.strip().lower() in ("1", "true", "yes", "on") if switch.strip() else bool(cert and key)
    if not enabled:
        return None
    if not (cert and key):
        raise ComposeError(f"{SIGN_ENV} is on but {CERT_ENV} and {KEY_ENV} are not both set")
    try:
        return C2paCredentials(Path(cert).read_bytes(), Path(key).read_bytes())
    except OSError as exc:
        raise ComposeError(f"cannot read the C2PA certificate or key: {exc}") from exc


def c2pa_manifest(*, title: str, models: list[str], generator: str = "Reelsmith") -> dict[str, Any]:
    """The manifest definition: who made the file, how, with which models."""
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "digitalSourceType": AI_GENERATED if models else SOFTWARE_MADE,
        "softwareAgent": {"name": generator},
    }
    if models:
        action["parameters"] = {"models": models}
    return {
        "claim_generator_info": [{"name": generator}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def c2pa_sign(path: Path, credentials: C2paCredentials, *, title: str, models: list[str]) -> None:
    """Sign the MP4 at `path` in place (written beside it, then moved over it)."""
    import c2pa  # 50 MB native library: loaded only where signing is on

    partial = path.with_name(f".{path.stem}.c2pa{path.suffix}")
    try:
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, credentials.cert_chain_pem, credentials.private_key_pem, None
        )
        with (
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(json.dumps(c2pa_manifest(title=title, models=models))) as builder,
        ):
            builder.sign_file(path, partial, signer)
        os.replace(partial, path)
    except c2pa.C2paError as exc:
        raise ComposeError(f"C2PA signing failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def c2pa_read(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The active manifest of a file and the SDK's validation state (`Valid`, `Invalid`, ...)."""
    import c2pa

    with c2pa.Reader(path) as reader:
        return reader.get_active_manifest(), reader.get_validation_state()
