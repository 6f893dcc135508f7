"""Signing in and out, password resets, picking a workspace, and the members page (owners)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from core.selectors import member_get_for_workspace, member_list, membership_for_user
from core.services import member_invite, member_password_set_path, member_remove, member_role_change
from dashboard.access import OWNER, WORKSPACE_SESSION_KEY, DashboardRequest, member_view, paginate
from dashboard.forms import EmailAuthenticationForm, MemberInviteForm, MemberRoleForm, errors_to_form

login = auth_views.LoginView.as_view(
    template_name="dashboard/login.html",
    authentication_form=EmailAuthenticationForm,
    redirect_authenticated_user=True,
)
logout = auth_views.LogoutView.as_view()
password_reset = auth_views.PasswordResetView.as_view(
    template_name="dashboard/password_reset.html",
    email_template_name="dashboard/email/password_reset.txt",
    subject_template_name="dashboard/email/password_reset_subject.txt",
    success_url=reverse_lazy("dashboard:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="dashboard/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="dashboard/password_reset_confirm.html",
    success_url=reverse_lazy("dashboard:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="dashboard/password_reset_complete.html"
)


@require_POST
@member_view(write="viewer")
def workspace_switch(request: DashboardRequest) -> HttpResponse:
    membership = membership_for_user(user=request.user, workspace_id=request.POST.get("workspace"))
    if membership is not None:
        request.session[WORKSPACE_SESSION_KEY] = str(membership.workspace_id)
    return redirect("dashboard:home")


def _members_page(
    request: DashboardRequest, form: MemberInviteForm, invited: dict[str, str] | None = None
) -> HttpResponse:
    page = paginate(request, member_list(workspace=request.member.workspace))
    return render(
        request,
        "dashboard/members.html",
        {"page": page, "form": form, "invited": invited, "role_form": MemberRoleForm()},
        status=400 if form.errors else 200,
    )


@member_view(read=OWNER, write=OWNER)
def members(request: DashboardRequest) -> HttpResponse:
    form = MemberInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = member_invite(
                workspace=request.member.workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ApplicationError as exc:
            errors_to_form(form, exc)
        else:
            link = request.build_absolute_uri(member_password_set_path(member=member))
            invited = {"email": str(member.user.get_username()), "link": link}
            return _members_page(request, MemberInviteForm(), invited)
    return _members_page(request, form)


@require_POST
@member_view(read=OWNER, write=OWNER)
def member_role(request: DashboardRequest, member_id: str) -> HttpResponse:
    member = member_get_for_workspace(workspace=request.member.workspace, member_id=member_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            member_role_change(member=member, role=form.cleaned_data["role"])
            messages.success(request, f"{member.user.get_username()} is now {member.role}.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Choose owner, editor or viewer.")
    return redirect("dashboard:members")


@require_POST
@member_view(read=OWNER, write=OWNER)
def member_delete(request: DashboardRequest, member_id: str) -> HttpResponse:
    member = member_get_for_workspace(workspace=request.member.workspace, member_id=member_id)
    try:
        member_remove(member=member)
        messages.success(request, f"{member.user.get_username()} was removed.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:members")
