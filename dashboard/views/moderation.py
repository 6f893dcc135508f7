"""A workspace's moderation lists (docs/trust.md "Moderation"): editors read them, owners change them, through
the same service as `PUT /api/v1/moderation/`."""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from core.errors import ApplicationError
from dashboard.access import EDITOR, OWNER, DashboardRequest, member_view
from dashboard.forms import ModerationForm, errors_to_form
from templates.selectors import moderation_lists_get
from templates.services import moderation_lists_replace

# `block[3]` → the textarea `block`, "Line 4: ..." (a person counts lines from 1).
_ENTRY = re.compile(r"(block|allow)\[(\d+)\]")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@member_view(read=EDITOR, write=OWNER)
def moderation(request: DashboardRequest) -> HttpResponse:
    workspace = request.member.workspace
    current = moderation_lists_get(workspace=workspace)
    initial = {
        "languages": current.languages,
        "block": "\n".join(current.block),
        "allow": "\n".join(current.allow),
    }
    form = ModerationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        block, allow = _lines(form.cleaned_data["block"]), _lines(form.cleaned_data["allow"])
        try:
            moderation_lists_replace(
                workspace=workspace, languages=form.cleaned_data["languages"], block=block, allow=allow
            )
        except ApplicationError as exc:
            for path, found in list(exc.fields.items()):
                match = _ENTRY.fullmatch(path)
                if match:  # name the line, not the list index
                    exc.fields.pop(path)
                    exc.fields.setdefault(match[1], []).extend(
                        f"Line {int(match[2]) + 1}: {message}" for message in found
                    )
            errors_to_form(form, exc)
        else:
            messages.success(request, "Moderation lists saved.")
            return redirect("dashboard:moderation")
    context = {"form": form, "current": current, "editable": request.member.is_owner}
    return render(request, "dashboard/moderation.html", context, status=400 if form.errors else 200)
