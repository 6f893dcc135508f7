"""Text styles, outline/shadow/pill, entrance animations, gradients, rectangles, audio fades, C2PA."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from render.compose.compose import compose_video
from render.compose.plan import (
    Audio,
    ColorBackground,
    GradientBackground,
    ImageBackground,
    Outline,
    Pill,
    RectangleLayer,
    Shadow,
    TextLayer,
    Transition,
)
from render.compose.probe import decode_frame, probe
from render.compose.provenance import AI_GENERATED, C2paCredentials, c2pa_read, c2pa_sign
from render.compose.segments import DirectorySegmentCache, compose_segmented
from render.compose.validate import PlanError
from tests.compose.conftest import FPS, HEIGHT, NOTO_SANS, WIDTH, build_plan
from tests.compose.test_fonts import VALUES

BOX = (0.1, 0.3, 0.8, 0.2)


def _luma(path: Path, at: float) -> np.ndarray:
    return np.asarray(decode_frame(path, at).convert("L"), dtype=np.int16)


def _outside(luma: np.ndarray, box: tuple[float, float, float, float], threshold: int = 48) -> int:
    """Pixels brighter than `threshold` outside the box (2 px of slack: chroma subsampling, ringing)."""
    x, y, w, h = box
    left, top = round(x * WIDTH) - 2, round(y * HEIGHT) - 2
    right, bottom = round((x + w) * WIDTH) + 2, round((y + h) * HEIGHT) + 2
    outside = luma.copy()
    outside[top:bottom, left:right] = 0
    return int((outside > threshold).sum())


def _decorated(text: str, animation: str = "none") -> TextLayer:
    return TextLayer(
        text,
        BOX,
        "#FFFFFF",
        NOTO_SANS,
        style="cta",
        outline=Outline("#808080", 0.006),
        shadow=Shadow("#C0C0C0", (0.006, 0.006)),
        pill=Pill("#4060FF", 0.015),
        animation=animation,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("script", sorted(VALUES))
def test_outline_shadow_and_pill_stay_inside_the_box_in_every_script(tmp_path: Path, script: str) -> None:
    plan = build_plan((1.0, ColorBackground("#000000"), (_decorated(VALUES[script]),)))
    compose_video(plan, tmp_path / "v.mp4", workdir=tmp_path / "w")
    luma = _luma(tmp_path / "v.mp4", 0.7)
    assert _outside(luma, BOX) == 0  # text, outline, shadow and pill all inside the box
    x, y, w, h = BOX
    inside = luma[round(y * HEIGHT) : round((y + h) * HEIGHT), round(x * WIDTH) : round((x + w) * WIDTH)]
    assert (inside > 200).sum() > 100  # the white text is there
    assert ((inside > 60) & (inside < 110)).sum() > 500  # and the blue pill behind it (luma ~90)


@pytest.mark.parametrize("animation", ["fade", "slide_up", "pop"])
def test_entrance_animations_start_hidden_stay_in_the_box_and_end_as_the_still_text(
    tmp_path: Path, animation: str
) -> None:
    layer = _decorated("Wilhelmina Maximiliane", animation)
    animated = build_plan((1.0, ColorBackground("#000000"), (layer,)))
    still = build_plan((1.0, ColorBackground("#000000"), (replace(layer, animation="none"),)))
    compose_video(animated, tmp_path / "a.mp4", workdir=tmp_path / "wa")
    compose_video(still, tmp_path / "s.mp4", workdir=tmp_path / "ws")
    first, middle = _luma(tmp_path / "a.mp4", 0.0), _luma(tmp_path / "a.mp4", 0.2)
    settled, reference = _luma(tmp_path / "a.mp4", 0.8), _luma(tmp_path / "s.mp4", 0.8)
    assert first.max() < 30  # the first frame: nothing drawn yet (alpha 0)
    assert middle.max() > 30  # half way: on its way in
    assert np.abs(middle - reference).mean() > 0.5  # and not yet the still text
    for frame in (first, middle, settled):
        assert _outside(frame, BOX) == 0
    assert np.abs(settled - reference).mean() < 1.0  # after 0.4 s: the still text, exactly placed


def test_styles_size_text_differently() -> None:
    from render.compose.layers import STYLE_SIZES

    headline, body, cta = STYLE_SIZES["headline"], STYLE_SIZES["body"], STYLE_SIZES["cta"]
    assert body[0] < cta[0] < headline[0]  # largest size
    assert body[1] < cta[1] < headline[1]  # smallest size


@pytest.mark.parametrize(("angle", "axis", "reverse"), [(180, 0, False), (0, 0, True), (90, 1, False)])
def test_gradients_run_the_way_their_angle_points(
    tmp_path: Path, angle: int, axis: int, reverse: bool
) -> None:
    plan = build_plan((0.5, GradientBackground("#000000", "#FFFFFF", angle), ()))  # type: ignore[arg-type]
    compose_video(plan, tmp_path / "g.mp4", workdir=tmp_path / "w")
    profile = _luma(tmp_path / "g.mp4", 0.2).mean(axis=1 - axis)
    if reverse:
        profile = profile[::-1]
    assert profile[0] < 30  # from black
    assert profile[-1] > 220  # to white
    assert np.all(np.diff(profile) >= -2)  # steadily


def test_rounded_rectangle_fills_its_box_with_round_corners(tmp_path: Path) -> None:
    box = (0.2, 0.2, 0.6, 0.3)
    plan = build_plan((0.5, ColorBackground("#000000"), (RectangleLayer(box, "#FFFFFF", 0.25),)))
    compose_video(plan, tmp_path / "r.mp4", workdir=tmp_path / "w")
    luma = _luma(tmp_path / "r.mp4", 0.2)
    left, top = round(0.2 * WIDTH), round(0.2 * HEIGHT)
    right, bottom = round(0.8 * WIDTH), round(0.5 * HEIGHT)
    assert _outside(luma, box) == 0
    assert luma[(top + bottom) // 2, (left + right) // 2] > 230  # filled
    assert luma[top + 2, left + 2] < 30  # a corner cut round
    assert luma[top + 2, (left + right) // 2] > 230  # the edge between the corners is straight


def test_bad_decorations_are_named(tmp_path: Path) -> None:
    layer = replace(_decorated("x"), outline=Outline("red", 0.01))
    with pytest.raises(PlanError, match=r"layers\[0\]\.outline\.color"):
        compose_video(
            build_plan((1.0, ColorBackground("#000000"), (layer,))), tmp_path / "v.mp4", workdir=tmp_path
        )


def test_animated_and_decorated_scenes_join_as_the_full_render(
    tmp_path: Path, assets: dict[str, Path]
) -> None:
    """An animated text in a shared scene whose end lies in the personal segment (the fade into the
    personal scene), a gradient and a rectangle: the joined file is still the full render."""
    shared = (
        _decorated("Welcome", "slide_up"),
        RectangleLayer((0.1, 0.7, 0.8, 0.1), "#F2B705", 0.5),
    )
    plan = build_plan(
        (1.0, GradientBackground("#102040", "#F2B705", 180), shared),
        (1.0, ImageBackground(assets["photo"], "zoom_in", reused=True), (_decorated("Hi Zoë!", "pop"),)),
        (1.0, ColorBackground("#2244AA"), (_decorated("Bye", "fade"),)),
        fade=0.25,
        audio=Audio(assets["tone"], volume=0.8, fade_in=0.3, fade_out=0.5),
    )
    scenes = list(plan.scenes)
    scenes[1] = replace(scenes[1], personal=True)
    plan = replace(plan, scenes=tuple(scenes), transition=Transition("slide", 0.25))
    full = compose_video(plan, tmp_path / "full.mp4", workdir=tmp_path / "w0")
    joined = compose_segmented(
        plan, tmp_path / "j.mp4", workdir=tmp_path / "w1", cache=DirectorySegmentCache(tmp_path / "c")
    )
    assert joined.reused == 0
    assert sum(not s.personal for s in joined.segments) == 2
    assert joined.info.duration == full.duration == pytest.approx(3.0, abs=1 / FPS)
    with av.open(str(tmp_path / "full.mp4")) as a, av.open(str(tmp_path / "j.mp4")) as b:
        reference = np.stack([f.to_ndarray(format="gray").astype(np.int16) for f in a.decode(video=0)])
        frames = np.stack([f.to_ndarray(format="gray").astype(np.int16) for f in b.decode(video=0)])
    assert reference.shape == frames.shape
    assert np.abs(frames - reference).mean(axis=(1, 2)).max() < 2.0


def _samples(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])


def test_audio_fades_in_and_out_and_loops_to_the_video(tmp_path: Path, assets: dict[str, Path]) -> None:
    # A 0.7 s tone under 2 s of video: looped, faded in over 0.5 s and out over 0.5 s.
    plan = build_plan(audio=Audio(assets["tone"], volume=1.0, fade_in=0.5, fade_out=0.5))
    info = compose_video(plan, tmp_path / "a.mp4", workdir=tmp_path / "w")
    assert info.has_audio
    samples = np.abs(_samples(tmp_path / "a.mp4"))
    rate = 48_000
    start, middle, end = samples[: rate // 20], samples[rate : rate + rate // 20], samples[-rate // 20 :]
    assert start.mean() < middle.mean() / 4  # faded in
    assert end.mean() < middle.mean() / 4  # faded out
    assert len(samples) == pytest.approx(2 * rate, abs=2048)  # trimmed to the video (AAC frame slack)


def _credentials() -> C2paCredentials:
    """A throwaway ES256 chain: a root CA and a leaf with the emailProtection EKU C2PA accepts."""
    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Reelsmith test"),
            ]
        )

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=sign, crl_sign=sign, encipher_only=False, decipher_only=False,
        )  # fmt: skip

    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name("Reelsmith test root"))
        .issuer_name(name("Reelsmith test root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Reelsmith test signer"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return C2paCredentials(
        leaf.public_bytes(pem) + root.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def write_credentials(folder: Path) -> tuple[Path, Path]:
    """The throwaway chain as the PEM files REELSMITH_C2PA_CERT / REELSMITH_C2PA_KEY point at."""
    credentials = _credentials()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chain.pem").write_bytes(credentials.cert_chain_pem)
    (folder / "key.pem").write_bytes(credentials.private_key_pem)
    return folder / "chain.pem", folder / "key.pem"


def test_c2pa_manifest_is_signed_offline_and_reads_back(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    before = compose_video(build_plan(), video, workdir=tmp_path / "w")
    c2pa_sign(video, _credentials(), title="v.mp4", models=["tiny-sd"])
    manifest, state = c2pa_read(video)
    assert state == "Valid"  # signature and hashes check out (the test root is, rightly, not trusted)
    assert manifest is not None
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    created = actions["data"]["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == AI_GENERATED
    assert created["parameters"]["models"] == ["tiny-sd"]
    assert probe(video).duration == before.duration  # still the same video
