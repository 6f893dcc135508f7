"""Admin for support staff: workspaces, members, API keys, brands, and billing (its models belong to core).

Read-only: rows are written by services through the API, where their rules live. The one change support makes
here is revoking API keys, and that action calls the service. Pages stay fast on large tables: lists name their
joins (list_select_related) and skip the unfiltered COUNT(*), filters offer fixed choices, and detail pages
build no form (so no foreign key loads its table into a <select>; no raw_id_fields needed).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.billing.models import BillingAccount, CreditEntry
from core.billing.selectors import ledger_balance
from core.models import ApiKey, AuditEntry, Brand, BrandAsset, Consent, Membership, Workspace
from core.services import api_key_revoke


class ReadOnlyAdminMixin:
    """View-only pages: no add, change or delete (the superuser still sees every field)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The unfiltered count is a second COUNT(*) over the whole table on every page; the filtered one is enough.
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Every column but the excluded (secret) ones, shown as text: the page builds no form, so no field
        # widget loads a foreign key's whole table into a <select>, and non-editable columns (ids,
        # created_at) are shown too.
        hidden = set(self.exclude or ())
        shown = [field.name for field in self.model._meta.concrete_fields if field.name not in hidden]
        return (*shown, *(name for name in self.readonly_fields if name not in shown))


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    show_change_link = True
    # Foreign keys shown in the rows, joined in the one query (a read-only row prints each one's str()).
    select_related: tuple[str, ...] = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Every shown field, even non-editable ones (created_at), which a form could not name.
        return tuple(name for name in self.fields or () if isinstance(name, str))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        # select_related() with no names would follow every foreign key.
        return queryset.select_related(*self.select_related) if self.select_related else queryset


# --- Workspaces, members, API keys ---------------------------------------------------------------------------


class MembershipInline(ReadOnlyTabularInline):
    model = Membership
    fields = ("user", "role", "created_at")
    select_related = ("user",)


@admin.register(Workspace)
class WorkspaceAdmin(ReadOnlyAdmin):
    list_display = ("name", "id", "created_at")
    search_fields = ("name", "=id")
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("user", "workspace")
    search_fields = ("user__username", "user__email", "workspace__name")


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("name", "prefix", "workspace", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("workspace",)
    search_fields = ("=prefix", "name", "workspace__name")
    exclude = ("key_hash",)
    actions = ("revoke_selected",)

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        # The page is read-only, but revoking is a change to the key: it takes the model's change permission.
        return request.user.has_perm("core.change_apikey")


# --- Brands --------------------------------------------------------------------------------------------------


class BrandAssetInline(ReadOnlyTabularInline):
    model = BrandAsset
    fields = (
        "kind",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "storage_key",
        "consent",
        "created_at",
    )
    ordering = ("-created_at",)
    show_change_link = False


@admin.register(Brand)
class BrandAdmin(ReadOnlyAdmin):
    list_display = ("name", "workspace", "color_primary", "color_secondary", "color_text", "created_at")
    list_select_related = ("workspace",)
    search_fields = ("name", "=id", "workspace__name")
    inlines = (BrandAssetInline,)


# --- Trust: consents and the audit log (docs/trust.md) -------------------------------------------------------


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("person_name", "workspace", "uses", "valid_until", "granted_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("workspace",)
    search_fields = ("=id", "workspace__name")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only like every page here, and the model refuses changes besides (append-only)."""

    list_display = ("created_at", "workspace", "actor", "action", "object_type", "object_id")
    list_filter = ("action",)
    list_select_related = ("workspace",)
    search_fields = ("=actor", "=object_id", "workspace__name")


# --- Billing: accounts and the credit ledger -----------------------------------------------------------------


@admin.register(BillingAccount)
class BillingAccountAdmin(ReadOnlyAdmin):
    list_display = ("workspace", "plan", "subscription_status", "current_period_end", "past_due_since")
    list_filter = ("plan", "subscription_status")
    list_select_related = ("workspace",)
    search_fields = ("workspace__name", "=stripe_customer_id", "=stripe_subscription_id")
    readonly_fields = ("balance",)

    @admin.display(description="balance (credits)")
    def balance(self, obj: BillingAccount) -> int:
        # Detail page only: a per-row sum would be one query per row on the list.
        return ledger_balance(account=obj)


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account__workspace__name", "kind", "delta", "reference", "note")
    list_filter = ("kind",)
    list_select_related = ("account__workspace",)
    search_fields = ("=reference", "account__workspace__name")
