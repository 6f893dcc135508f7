"""Dashboard fixtures: members of each role, signed in with the test client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from playwright.sync_api import Browser, Page

from core.models import Membership, Workspace
from core.services import member_invite
from core.storage import get_storage
from tests.conftest import SERVICES
from tests.dashboard.browser import WIDE, chromium, chromium_missing
from tests.factories import WorkspaceFactory

PASSWORD = "correct-horse-battery-staple-7"


def member_client(workspace: Workspace, role: str, email: str | None = None) -> Client:
    member = member_invite(
        workspace=workspace, email=email or f"{role}-{workspace.pk.hex[:6]}@example.com", role=role
    )
    member.user.set_password(PASSWORD)
    member.user.save()
    client = Client()
    client.force_login(member.user)
    client.member = member  # type: ignore[attr-defined]
    return client


@pytest.fixture
def owner(workspace: Workspace) -> Client:
    return member_client(workspace, Membership.Role.OWNER)


@pytest.fixture
def editor(workspace: Workspace) -> Client:
    return member_client(workspace, Membership.Role.EDITOR)


@pytest.fixture
def viewer(workspace: Workspace) -> Client:
    return member_client(workspace, Membership.Role.VIEWER)


@pytest.fixture
def other_workspace(db: Any) -> Workspace:
    other: Workspace = WorkspaceFactory.create()
    return other


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """One Chromium per browser test (about a second to start). Playwright's sync API keeps an asyncio loop
    running in this thread, which Django's async-safety guard takes for async code: the guard is lifted for
    these tests only (the ORM calls here are synchronous)."""
    missing = chromium_missing()
    if missing:
        pytest.fail(missing)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as launched:
        yield launched


@pytest.fixture
def dashboard_url(request: pytest.FixtureRequest, live_server: Any, settings: Any) -> Iterator[str]:
    """The live server's address, with renders completing deterministically: embedded, in the server's request
    thread right after the commit (`sync`, set for every test); in service mode, on the real workers."""
    if SERVICES:
        request.getfixturevalue("service_workers")
    else:
        # Served media URLs must point at this server (the browser fetches the videos and the logo).
        settings.PUBLIC_BASE_URL = live_server.url
        get_storage.cache_clear()
    yield str(live_server.url)
    get_storage.cache_clear()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE, accept_downloads=True)
    page = context.new_page()
    # Embedded, a POST that starts renders answers once they are done (tasks run after its commit): minutes
    # on a slow machine. Waiting for elements stays short.
    page.set_default_navigation_timeout(300_000)
    page.set_default_timeout(30_000)
    yield page
    context.close()
    # Playwright's sync API runs the test inside its own greenlet, and a greenlet has its own context: the ORM
    # calls made there opened a connection that the test database's teardown cannot see (PostgreSQL then
    # refuses to drop a database another session holds). Close it from here, the same context.
    connections.close_all()
