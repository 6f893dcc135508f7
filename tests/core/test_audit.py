"""The audit log (docs/trust.md): what people and keys change is recorded by the services, read through the API by
owners and keys only, exported as CSV, never changed through the product, and `audit_verify` notices an entry
edited or removed in the database."""

from __future__ import annotations

import csv
import io
import itertools
import threading
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from rest_framework.test import APIClient

from core.audit import audit_record, audit_verify, ip_hash
from core.models import AuditEntry, Membership, Workspace
from tests.conftest import SERVICES
from tests.core.test_api_brands import create_brand
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def _signed_in(workspace: Workspace, role: str) -> APIClient:
    user = get_user_model().objects.create_user(f"{role}@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=user, role=role)
    client = APIClient()
    client.force_login(user)
    return client


def _entries(api: APIClient, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/audit/{query}")
    assert response.status_code == 200, response.json()
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def _sql_update_entry(entry_id: int, **values: Any) -> None:
    """An edit made behind the product's back, straight in the database."""
    table = AuditEntry._meta.db_table
    sets = ", ".join(f"{column} = %s" for column in values)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*values.values(), entry_id])  # noqa: S608


def test_changes_made_through_the_api_are_recorded_with_who_what_and_from_where(
    api: APIClient, workspace: Workspace
) -> None:
    brand = create_brand(api)
    api.patch(f"/api/v1/brands/{brand['id']}/", {"name": "Acme 2"}, format="json")
    key = api.post("/api/v1/api-keys/", {"name": "ci"}, format="json").json()
    api.post(f"/api/v1/api-keys/{key['id']}/revoke/")
    member = api.post("/api/v1/members/", {"email": "Ed@example.com", "role": "editor"}, format="json").json()
    api.patch(f"/api/v1/members/{member['id']}/", {"role": "viewer"}, format="json")

    entries = _entries(api)
    # Newest first.
    assert [e["action"] for e in entries] == [
        "member.role_changed",
        "member.invited",
        "api_key.revoked",
        "api_key.created",
        "brand.updated",
        "brand.created",
        "api_key.created",  # the test's own key, made by the fixture outside any request
    ]
    prefix = workspace.api_keys.get(name="test").prefix
    assert {e["actor"] for e in entries[:-1]} == {f"api-key:{prefix}"}
    assert entries[-1]["actor"] == "system"
    assert entries[-1]["ip_hash"] == ""
    chain = list(reversed(entries))
    entries = entries[:-1]
    updated = entries[4]
    assert updated["object_type"] == "brand"
    assert updated["object_id"] == brand["id"]
    assert updated["before"] == {"name": "Acme"}
    assert updated["after"] == {"name": "Acme 2"}
    assert entries[0]["before"] == {"role": "editor"}
    assert entries[0]["after"] == {"role": "viewer"}
    # The test client connects from 127.0.0.1: only a keyed hash of it is kept.
    assert all(e["ip_hash"] == ip_hash("127.0.0.1") for e in entries)
    assert "127.0.0.1" not in str(entries)
    # Never a secret: the revoked key's raw value appears nowhere.
    assert key["key"] not in str(entries)
    # A chain: each names the one before.
    assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1))
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(chain))


def test_the_log_filters_by_actor_object_action_and_time(api: APIClient, workspace: Workspace) -> None:
    first = create_brand(api)
    second = create_brand(api)
    api.patch(f"/api/v1/brands/{first['id']}/", {"name": "Renamed"}, format="json")
    assert [e["action"] for e in _entries(api, f"?object_type=brand&object_id={first['id']}")] == [
        "brand.updated",
        "brand.created",
    ]
    assert [e["object_id"] for e in _entries(api, "?action=brand.created")] == [second["id"], first["id"]]
    assert len(_entries(api, "?action=brand.")) == 3  # a family
    assert _entries(api, "?actor=user:nobody@example.com") == []
    assert len(_entries(api, "?actor=system")) == 1  # the fixture's key
    newest = quote(_entries(api)[0]["created_at"])
    assert [e["action"] for e in _entries(api, f"?since={newest}")] == ["brand.updated"]
    assert len(_entries(api, f"?until={newest}&object_type=brand")) == 2
    bad = api.get("/api/v1/audit/?since=yesterday")
    assert bad.status_code == 400
    assert "since" in bad.json()["fields"]
    # Paginated like every list.
    page = api.get("/api/v1/audit/?page_size=3").json()
    assert len(page["results"]) == 3
    assert page["next"]
    assert len(api.get(page["next"]).json()["results"]) == 1


def test_only_owners_and_keys_read_it_and_never_another_workspaces(
    api: APIClient, other_api: APIClient, workspace: Workspace
) -> None:
    create_brand(api)
    create_brand(other_api)
    mine, theirs = _entries(api), _entries(other_api)
    assert (
        [e["action"] for e in mine] == [e["action"] for e in theirs] == ["brand.created", "api_key.created"]
    )
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}
    for role in ("editor", "viewer"):
        refused = _signed_in(workspace, role).get("/api/v1/audit/")
        assert refused.status_code == 403
        assert refused.json() == {"message": f"This needs the owner role; yours is {role}."}
        assert _signed_in_csv_status(workspace, role) == 403
    owner = [e["action"] for e in _entries(_signed_in(workspace, "owner"))]
    assert "brand.created" in owner
    assert owner.count("auth.signed_in") == 5


def _signed_in_csv_status(workspace: Workspace, role: str) -> int:
    user = get_user_model().objects.get(username=f"{role}@example.com")
    client = APIClient()
    client.force_login(user)
    return int(client.get("/api/v1/audit.csv").status_code)


def test_nobody_changes_it_through_the_product(api: APIClient) -> None:
    create_brand(api)
    entry_id = _entries(api)[0]["id"]
    assert api.patch(f"/api/v1/audit/{entry_id}/", {"actor": "x"}, format="json").status_code == 404
    assert api.delete("/api/v1/audit/").status_code == 405
    assert api.post("/api/v1/audit/", {}, format="json").status_code == 405
    entry = AuditEntry.objects.get(pk=entry_id)
    entry.actor = "someone else"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry_id).update(actor="x")
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry_id).delete()
    assert AuditEntry.objects.get(pk=entry_id).actor.startswith("api-key:")


def test_the_csv_export_neutralises_formulas(api: APIClient, workspace: Workspace) -> None:
    brand = create_brand(api)
    api.patch(f"/api/v1/brands/{brand['id']}/", {"name": "=1+2"}, format="json")
    # An object id someone outside chose (a CRM record's, say) that reads as a formula to a spreadsheet.
    audit_record(
        "integration.created", workspace=workspace, object_type="integration", object_id='=HYPERLINK("x")'
    )
    export: Any = api.get("/api/v1/audit.csv?action=brand.")
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:4] == ["id", "created_at", "actor", "action"]
    assert [row[3] for row in rows[1:]] == ["brand.updated", "brand.created"]  # filtered like the list
    assert rows[1][8] == '{"name": "=1+2"}'
    whole: Any = api.get("/api/v1/audit.csv")
    everything = list(csv.reader(io.StringIO(b"".join(whole.streaming_content).decode())))
    assert everything[1][5] == '\'=HYPERLINK("x")'  # shown as text, never evaluated


def test_sign_ins_and_failed_sign_ins_are_recorded(client: Any, workspace: Workspace) -> None:
    user = get_user_model().objects.create_user("ann@example.com", password="pw-for-tests-only")
    Membership.objects.create(workspace=workspace, user=user, role="owner")
    assert client.post("/login/", {"username": "ann@example.com", "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": "ghost@example.com", "password": "wrong"}).status_code == 200
    assert (
        client.post("/login/", {"username": "ann@example.com", "password": "pw-for-tests-only"}).status_code
        == 302
    )
    mine = list(AuditEntry.objects.filter(workspace=workspace).order_by("seq").values_list("action", "actor"))
    assert mine == [("auth.sign_in_failed", "anonymous"), ("auth.signed_in", "user:ann@example.com")]
    # A name nobody has goes to the system chain, without the name typed (it may be a password).
    system = AuditEntry.objects.get(workspace__isnull=True, action="auth.sign_in_failed")
    assert system.object_id == ""
    assert "ghost" not in str(system.before) + str(system.after) + system.actor


def test_audit_verify_passes_then_names_an_edited_entry(
    api: APIClient, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("A", "B", "C"):
        api.post(
            "/api/v1/brands/",
            {"name": name, "colors": {"primary": "#112233", "secondary": "#445566", "text": "#ffffff"}},
            format="json",
        )
    call_command("audit_verify")
    assert "4 entries verified" in capsys.readouterr().out  # the fixture's key and the three brands

    entries = list(AuditEntry.objects.order_by("seq"))
    _sql_update_entry(entries[1].pk, actor="user:mallory@example.com")
    with pytest.raises(CommandError) as broken:
        call_command("audit_verify")
    assert f"entry {entries[1].pk}" in str(broken.value)
    assert "does not match its hash" in str(broken.value)
    # Run as a command, it exits non-zero with that message.
    from django.core.management import execute_from_command_line

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "audit_verify"])
    assert exited.value.code == 1
    assert f"entry {entries[1].pk}" in capsys.readouterr().err


def test_audit_verify_notices_a_removed_entry_and_a_cut_off_end(api: APIClient) -> None:
    brand = create_brand(api)
    for name in ("B", "C"):
        api.patch(f"/api/v1/brands/{brand['id']}/", {"name": name}, format="json")
    entries = list(AuditEntry.objects.order_by("seq"))[1:]  # after the fixture's key
    assert len(entries) == 3
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [entries[1].pk])  # noqa: S608
    count, broken = audit_verify()
    assert broken is not None
    assert broken.entry_id == entries[2].pk
    assert count == 2
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [entries[2].pk])  # noqa: S608
    count, broken = audit_verify()
    assert broken is not None
    assert broken.entry_id is None
    with pytest.raises(CommandError, match="end of the chain"):
        call_command("audit_verify")


@pytest.mark.skipif(not SERVICES, reason="concurrent writers need PostgreSQL (run with --services)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain() -> None:
    workspace = WorkspaceFactory.create()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                audit_record("test.written", workspace=workspace, object_type="thread", object_id=f"{n}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(
        AuditEntry.objects.filter(workspace=workspace).order_by("seq").values_list("seq", flat=True)
    ) == list(range(1, 41))
    assert audit_verify() == (40, None)
