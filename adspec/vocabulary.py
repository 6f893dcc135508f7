"""The words a template spec is written in (docs/template-spec.md): kinds, enums and small syntaxes.

Each enum is a `Literal` type (for the compositor's typed plan) and the tuple of its values in the order
error messages list them (for the validator); the tuple is read off the type, so the two cannot drift.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

# A scene's background is exactly one of these keys; a layer's `type` one of these.
BackgroundKind = Literal["generate", "color", "gradient", "image", "video"]
LayerType = Literal["text", "logo", "image", "rectangle"]

Motion = Literal["none", "zoom_in", "zoom_out", "pan_left", "pan_right"]
Align = Literal["left", "center", "right"]
TransitionType = Literal["fade", "slide", "wipe", "none"]
TextStyle = Literal["headline", "body", "cta"]
Animation = Literal["none", "fade", "slide_up", "pop"]
# As CSS's linear-gradient: 180 runs top to bottom, 90 left to right, 0 bottom to top, 270 right to left.
GradientAngle = Literal[0, 90, 180, 270]

BACKGROUND_KINDS: tuple[BackgroundKind, ...] = get_args(BackgroundKind)
LAYER_TYPES: tuple[LayerType, ...] = get_args(LayerType)
MOTIONS: tuple[Motion, ...] = get_args(Motion)
ALIGNS: tuple[Align, ...] = get_args(Align)
TRANSITIONS: tuple[TransitionType, ...] = get_args(TransitionType)
TEXT_STYLES: tuple[TextStyle, ...] = get_args(TextStyle)
ANIMATIONS: tuple[Animation, ...] = get_args(Animation)
GRADIENT_ANGLES: tuple[GradientAngle, ...] = get_args(GradientAngle)

Box = tuple[float, float, float, float]  # x, y, w, h as fractions of the frame

# Colours a spec may name instead of `#RRGGBB`: the brand's, resolved per render.
BRAND_COLORS = ("brand.primary", "brand.secondary", "brand.text")
# Uploaded brand pictures a background or image layer may show: the brand's logo, its `image` asset, or its
# `portrait` (a real person's picture: used only while their consent holds, docs/trust.md).
BRAND_IMAGES = ("brand.logo", "brand.image", "brand.portrait")
# The brand's recorded voice (asset kind `voice`, a real person's: consent as for a portrait) may be the soundtrack.
BRAND_VOICE = "brand.voice"
# Uploaded brand footage a background may show (asset kind `video`), like a generated clip.
BRAND_VIDEOS = ("brand.video",)
# How an image layer's picture fills its box: `contain` fits inside it (the logo default), `cover` fills
# it and crops the overflow (a recipient's photo or banner).
ImageFit = Literal["contain", "cover"]
IMAGE_FITS: tuple[ImageFit, ...] = get_args(ImageFit)
# A value of an `image` variable: an http(s) URL with a host, no spaces (the guard checks the address).
IMAGE_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
# ... or a picture uploaded to the workspace (`POST /api/v1/images/`, or a file in a campaign's zip):
# `upload:` and the SHA-256 of its bytes, with the extension its content was checked to have.
IMAGE_UPLOAD = re.compile(r"upload:([0-9a-f]{64})\.(png|jpg)")

# `#RRGGBB`; both sides match it whole (`fullmatch`).
HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
# `{{ name }}` in a text or a prompt: a declared variable's value, substituted once.
MERGE_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
FORMAT_NAME = re.compile(r"^[0-9A-Za-z:._-]{1,16}$")
