"""`manage.py demo`: render a demo campaign end to end and print where the MP4s are.

A demo brand (colours, a drawn logo, a synthesised jingle), the contract's example template, a campaign of
three recipients taken through the product's human gate (one sample rendered, approved by the operator who
runs the demo, then the campaign launched), each render going through the same services the API uses
(diffusion with the configured model, ffmpeg composition, storage), with progress shown while it works.
"""

from __future__ import annotations

import io
import math
import struct
import time
import wave
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from campaigns.models import Campaign
from campaigns.recipients import recipients_import
from campaigns.services import campaign_approve, campaign_create, campaign_launch, campaign_samples
from core.models import Brand, Workspace
from core.periodic import periodic_start
from core.services import brand_asset_upload, brand_create, workspace_get_or_create
from render.models import FINAL_RENDER_STATUSES, Render, RenderStatus
from render.selectors import render_urls
from render.watch.selectors import render_watch_url
from templates.services import template_create

DEMO_SPEC: dict[str, Any] = {
    "format": {"width": 1080, "height": 1920, "fps": 30},
    "variables": {
        "first_name": {"type": "text", "required": True, "max_length": 32},
        "company": {"type": "text", "default": "your team"},
        "industry": {"type": "text", "default": "retail"},
    },
    "scenes": [
        {
            # The scene says the recipient's name (espeak-en, built in); the line takes under 2 s.
            "duration": 3.0,
            "voice": {"text": "Hi {{first_name}}, this one is for you."},
            "background": {
                "generate": {"prompt": "a sunlit {{industry}} storefront, cinematic", "seed": 7},
                "motion": "zoom_in",
            },
            "layers": [
                {
                    "type": "text",
                    "text": "Hi {{first_name}}!",
                    "box": [0.08, 0.30, 0.84, 0.20],
                    "color": "brand.text",
                    "align": "center",
                }
            ],
        },
        {
            "duration": 3.0,
            "background": {"color": "brand.primary"},
            "layers": [
                {"type": "logo", "box": [0.30, 0.15, 0.40, 0.20]},
                {
                    "type": "text",
                    "text": "{{company}}, let's talk.",
                    "box": [0.08, 0.55, 0.84, 0.15],
                    "color": "#FFFFFF",
                },
            ],
        },
    ],
    "transition": {"type": "fade", "duration": 0.4},
    "audio": {"music": "brand", "volume": 0.8},
    # The watch page's button (docs/watch-pages.md): a booking link that knows who clicked.
    "cta": {"label": "Book a call, {{first_name}}", "url": "https://example.com/book?company={{company}}"},
}
# Credited in the render API, on the watch page and in each MP4's C2PA manifest (docs/trust.md "Credit").
DEMO_AUTHORS = [{"name": "Demo Studio", "role": "designer"}, {"name": "Sam Writer", "role": "copywriter"}]

DEMO_RECIPIENTS = [
    {"first_name": "Zoë", "company": "Acme Bakery", "industry": "bakery"},
    # Names the built-in English voice reads (Latin script; a Cyrillic name would be refused with a 400).
    {"first_name": "Jürgen", "company": "Köln Florals", "industry": "flower shop"},
    {"first_name": "Ana-María", "company": 'Café 100% "Sol"', "industry": "coffee shop"},
]


def _logo_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (512, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8, 8, 504, 248), radius=48, fill=(255, 255, 255, 235))
    draw.ellipse((40, 48, 200, 208), fill=(255, 122, 0, 255))
    draw.rectangle((240, 80, 470, 112), fill=(30, 30, 30, 255))
    draw.rectangle((240, 144, 420, 176), fill=(90, 90, 90, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jingle_wav(seconds: float = 8.0, rate: int = 44_100) -> bytes:
    """A soft arpeggio (C major, A minor) synthesised here: no audio file ships with the demo."""
    notes = [261.63, 329.63, 392.00, 523.25, 220.00, 261.63, 329.63, 440.00]  # Hz, equal temperament
    step = 0.25  # seconds per note
    frames = bytearray()
    for n in range(int(seconds * rate)):
        t = n / rate
        freq = notes[int(t / step) % len(notes)]
        local = (t % step) / step
        envelope = math.exp(-3.0 * local)
        sample = 0.25 * envelope * math.sin(2 * math.pi * freq * t) + 0.08 * math.sin(
            2 * math.pi * 130.81 * t
        )
        frames += struct.pack("<h", int(max(-1.0, min(1.0, sample)) * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Render a demo campaign (three recipients) and print where the videos are."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the renders")

    def handle(self, *args: Any, **options: Any) -> None:
        deadline = time.monotonic() + options["timeout"]
        # Embedded mode: the reconciler, schedules and webhook retries run while the demo waits (core.periodic).
        periodic_start()
        self._seen: dict[Any, str] = {}  # render id -> last status shown
        workspace = workspace_get_or_create(name="demo")
        brand = self._brand(workspace)
        campaign = self._campaign(workspace, brand)
        model = settings.REELSMITH_DEFAULT_MODEL
        # The human gate, as the product runs it: a sample first, approved by a person, then the rest.
        self.stdout.write(
            f"Campaign {campaign.name!r}: rendering 1 sample for review with model {model!r}..."
        )
        campaign_samples(campaign=campaign, count=1)
        sample = self._wait(campaign, expected=1, deadline=deadline)
        if any(r.status != RenderStatus.SUCCEEDED for r in sample):
            raise CommandError(f"the sample did not succeed: {sample[0].status} {sample[0].error}")
        self.stdout.write(f"Sample ready: {self._location(sample[0])}")
        campaign_approve(campaign=campaign, actor="demo command (operator)")
        self.stdout.write("Approved by the demo's operator; launching the campaign...")
        campaign_launch(campaign=campaign)
        final = self._wait(campaign, expected=len(DEMO_RECIPIENTS), deadline=deadline)
        failed = [r for r in final if r.status != RenderStatus.SUCCEEDED]
        for render in final:
            name = render.variables.get("first_name", "")
            if render.status != RenderStatus.SUCCEEDED:
                self.stdout.write(f"  {name}: {render.status} {render.error}")
            else:
                self.stdout.write(
                    f"  {name}: {self._location(render)}  watch page: {render_watch_url(render)}"
                )
        if failed:
            raise CommandError(f"{len(failed)} of {len(final)} demo renders did not succeed")
        self.stdout.write(self.style.SUCCESS(f"Done: {len(final)} MP4s."))

    def _location(self, render: Render) -> str:
        if settings.AWS_STORAGE_BUCKET_NAME:
            return str(render_urls(render)["video_url"])
        return str(Path(settings.MEDIA_ROOT) / render.video_key)

    def _brand(self, workspace: Workspace) -> Brand:
        brand = Brand.objects.filter(workspace=workspace, name="Demo Co").first()
        if brand is None:
            brand = brand_create(
                workspace=workspace,
                name="Demo Co",
                colors={"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"},
            )
            brand_asset_upload(brand=brand, kind="logo", data=_logo_png(), original_name="logo.png")
            brand_asset_upload(brand=brand, kind="music", data=_jingle_wav(), original_name="jingle.wav")
        return brand

    def _campaign(self, workspace: Workspace, brand: Brand) -> Campaign:
        with transaction.atomic():
            version = template_create(
                workspace=workspace, name="Demo: hello", spec=DEMO_SPEC, authors=DEMO_AUTHORS
            )
            campaign = campaign_create(
                workspace=workspace,
                name=f"Demo campaign {time.strftime('%Y-%m-%d %H:%M:%S')}",
                template_version=version,
                brand=brand,
            )
            recipients_import(campaign=campaign, recipients=[dict(values) for values in DEMO_RECIPIENTS])
        return campaign

    def _wait(self, campaign: Campaign, *, expected: int, deadline: float) -> list[Render]:
        """Poll the campaign's renders until `expected` of them exist and all are final, showing progress."""
        while True:
            links = list(
                campaign.render_links.select_related("render", "recipient").order_by("recipient__position")
            )
            current = [link.render for link in links]
            for link, render in zip(links, current, strict=True):
                if self._seen.get(render.pk) != render.status:
                    self._seen[render.pk] = render.status
                    position = link.recipient.position if link.recipient else "?"
                    name = render.variables.get("first_name")
                    self.stdout.write(f"  [{position}/{len(DEMO_RECIPIENTS)}] {name}: {render.status}")
            if len(current) >= expected and all(r.status in FINAL_RENDER_STATUSES for r in current):
                return current
            if time.monotonic() > deadline:
                raise CommandError("timed out waiting for the demo renders")
            time.sleep(0.5)
