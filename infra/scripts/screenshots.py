"""Screenshots of every dashboard page, from a real run, for docs/dashboard.md.

    .venv/bin/python infra/scripts/screenshots.py [--out docs/images/dashboard]

In a throwaway var folder: migrates, renders the demo campaign (`manage.py demo`, the README's first
command), adds an owner with `manage.py create_member`, starts `manage.py runserver` (embedded mode), then
drives Debian's Chromium: sets the password through the one-time link, signs in, adds a brand picture, a
scheduled campaign with a CSV that needs its columns mapped, a webhook endpoint (and a test event), a CRM
integration, an API key and a consent (with its signed release) through the pages themselves, then reads the
audit log they left, and saves each page at 1440 and 375 px wide.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, ViewportSize, sync_playwright

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.dashboard.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the tests' Chromium settings)

WIDTHS: dict[str, ViewportSize] = {
    "1440": {"width": 1440, "height": 900},
    "375": {"width": 375, "height": 812},
}
EMAIL = "demo@example.com"
PASSWORD = "screenshots-only-pass-1"  # noqa: S105  (a throwaway database, deleted afterwards)
# Full pages, but no poster taller than this (px): a long list is shown by its first screens.
MAX_HEIGHT = 2600
# A spreadsheet's export as people make them: `;`, Windows-1252, headers in words, one extra column.
CSV = (
    "First Name;Company;E-mail;Notes\n"
    "Zoë;Acme Bakery;zoe@example.com;met at the fair\n"
    ";Nameless Ltd;nobody@example.com;\n"
    "Malik;Café Olé;not-an-email;\n"
    "Ines;Ines & Co;ines@example.com;VIP\n"
)
# A consent's evidence: a signed release as the check reads it (core.assets: a PDF by its header).
RELEASE_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
STILLS_LOADED = (
    "() => { const s = [...document.querySelectorAll('#stills img')];"
    " return s.length > 0 && s.every(i => i.complete && i.naturalWidth > 0); }"
)


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310  (our own loopback server)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def save(page: Page, out: Path, name: str) -> None:
    """Each page at both widths, as palette PNGs (a UI screenshot loses nothing visible at 256 colours)."""
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        page.wait_for_load_state("networkidle")
        full = Image.open(io.BytesIO(page.screenshot(full_page=True)))
        shot = full.crop((0, 0, full.width, min(full.height, MAX_HEIGHT))).convert("RGB")
        shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            out / f"{name}-{width}.png", optimize=True
        )
    page.set_viewport_size(WIDTHS["1440"])


def logo_png(path: Path) -> Path:
    image = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (4, 4, 476, 156), radius=40, fill=(255, 255, 255, 255), outline=(31, 58, 147, 255), width=6
    )
    draw.ellipse((30, 30, 130, 130), fill=(255, 122, 0, 255))
    draw.rectangle((160, 56, 440, 80), fill=(31, 58, 147, 255))
    draw.rectangle((160, 96, 380, 112), fill=(120, 120, 120, 255))
    image.save(path)
    return path


def tour(page: Page, base: str, link: str, out: Path, work: Path) -> None:
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    save(page, out, "login")
    page.get_by_role("button", name="Sign in").click()
    save(page, out, "home")
    nav = page.get_by_role("navigation", name="Main")

    nav.get_by_role("link", name="Campaigns").click()
    save(page, out, "campaigns")
    page.locator("tbody tr a").first.click()
    save(page, out, "campaign")
    page.goto(f"{base}/campaigns/new/")
    page.get_by_label("Name").fill("Spring follow-up")
    page.get_by_label("Schedule (cron)").fill("0 9 * * 1-5")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    save(page, out, "campaign-new")
    page.get_by_role("button", name="Create campaign").click()
    csv_path = work / "spring.csv"
    csv_path.write_text(CSV, encoding="cp1252")
    page.get_by_label("Recipients CSV").set_input_files(csv_path)
    page.get_by_role("button", name="Upload recipients").click()
    page.locator("#column-mapping").wait_for()
    save(page, out, "campaign-mapping")
    page.get_by_label("Read Notes as").select_option(label="Keep as a recipient field")
    page.get_by_role("button", name="Import recipients").click()
    page.locator("#import-report").wait_for()
    save(page, out, "campaign-import")

    nav.get_by_role("link", name="Templates").click()
    save(page, out, "templates")
    page.locator(".card a").first.click()
    page.wait_for_function(STILLS_LOADED)
    save(page, out, "template")
    page.get_by_role("link", name="Edit spec").click()
    spec = json.loads(page.get_by_label("Spec (JSON)").input_value())
    spec["scenes"][0]["duration"] = 0
    spec["scenes"][1]["layers"][1]["color"] = "teal"
    page.get_by_label("Spec (JSON)").fill(json.dumps(spec, indent=2, ensure_ascii=False))
    page.get_by_role("button", name="Save as a new version").click()
    save(page, out, "template-edit-errors")

    nav.get_by_role("link", name="Brands").click()
    save(page, out, "brands")
    page.locator(".card a").first.click()
    page.get_by_label("Kind").select_option("image")
    page.get_by_label("File").set_input_files(logo_png(work / "banner.png"))
    page.get_by_role("button", name="Upload").click()
    save(page, out, "brand")

    nav.get_by_role("link", name="Renders").click()
    save(page, out, "renders")
    page.locator("tbody tr a").first.click()
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); return !v || v.readyState >= 2; }"
    )
    save(page, out, "render")
    # The recipient's side: the render's watch page (no sign-in), played a little so the campaign's funnel
    # below has a view and a play to show.
    page.goto(page.locator("#watch-link").get_attribute("href") or "")
    page.wait_for_function("() => document.querySelector('video').readyState >= 2")
    page.locator("video").evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_timeout(1500)
    page.locator("video").evaluate("v => v.pause()")
    save(page, out, "watch")
    page.goto(f"{base}/campaigns/")
    page.locator("tbody tr a").last.click()  # the demo campaign (the newest is the one made above)
    save(page, out, "campaign")

    nav.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill("http://127.0.0.1:9/reelsmith-hook")
    page.get_by_label("Render Succeeded").check()
    page.get_by_label("Campaign Completed").check()
    page.get_by_role("button", name="Add endpoint").click()
    page.get_by_role("button", name="Send a test event").click()
    save(page, out, "webhook")
    nav.get_by_role("link", name="Webhooks").click()
    save(page, out, "webhooks")

    nav.get_by_role("link", name="Integrations").click()
    page.get_by_label("CRM").select_option("hubspot")
    page.get_by_label("Name", exact=True).fill("Trade-fair leads")
    page.get_by_label("Field map").fill("firstname = first_name\ncompany = company")
    page.get_by_role("button", name="Add integration").click()
    save(page, out, "integrations")

    nav.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("crm-sync")
    page.get_by_role("button", name="Create key").click()
    save(page, out, "api-keys")
    nav.get_by_role("link", name="Billing").click()
    save(page, out, "billing")
    nav.get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill("editor@example.com")
    page.get_by_role("button", name="Invite").click()
    save(page, out, "members")

    nav.get_by_role("link", name="Consents").click()
    release = work / "release.pdf"
    release.write_bytes(RELEASE_PDF)
    page.get_by_label("Person").fill("Dana Presenter")
    page.get_by_role("group", name="Brands").get_by_role("checkbox").first.check()
    page.get_by_label("Portrait (pictures of them)").check()
    page.get_by_label("Voice (recordings of their voice)").check()
    page.get_by_label("Evidence").set_input_files(release)
    page.get_by_label("Collected by").fill("Sam from Legal")
    page.get_by_role("button", name="Record consent").click()
    page.get_by_role("row", name="Dana Presenter").wait_for()
    save(page, out, "consents")
    nav.get_by_role("link", name="Audit log").click()
    page.locator("table.audit summary").first.click()  # one entry's changes unfolded
    page.get_by_role("button", name="Verify the chain").click()
    page.locator("#chain-status p").wait_for()
    save(page, out, "audit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "dashboard")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="reelsmith-screens-") as tmp:
        work = Path(tmp)
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")},
            "REELSMITH_VAR_DIR": str(work / "var"),
            "PUBLIC_BASE_URL": base,
            "OUTBOUND_ALLOW_PRIVATE": "true",
            "REELSMITH_EMBEDDED_WORKER": "thread",
        }
        manage(env, "migrate", "--noinput")
        print("rendering the demo campaign (manage.py demo)...", flush=True)
        manage(env, "demo")
        link = manage(env, "create_member", "demo", EMAIL, "--role", "owner").strip().splitlines()[-1]
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(base)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=WIDTHS["1440"])
                page.set_default_timeout(60_000)
                tour(page, base, link, args.out, work)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
