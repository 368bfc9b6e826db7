"""URL routes of the accounts pages (site root)."""

from django.urls import path

from accounts import pages

urlpatterns = [
    path("invitations/<str:token>/", pages.invitation_page, name="invitation-page"),
    path("settings/members/invite", pages.member_invite, name="member-invite"),
    path("settings/members/<int:membership_id>/role", pages.member_role, name="member-role"),
    path("settings/members/<int:membership_id>/remove", pages.member_remove, name="member-remove"),
    path(
        "settings/invitations/<int:invitation_id>/revoke",
        pages.invitation_revoke,
        name="invitation-revoke",
    ),
]
