"""Permissions that follow from roles, so that the admin needs no group bookkeeping."""

from typing import Any

from django.contrib.auth.backends import ModelBackend

# Ministry instructors work in the admin on the programme's data; they may view, add
# and change it, never delete (superusers, the programme administrators, may).
MINISTRY_APPS = {"establishments", "audits", "applications", "monitoring"}
MINISTRY_ACTIONS = {"view", "add", "change"}


class RoleBackend(ModelBackend):
    def _is_ministry(self, user_obj: Any) -> bool:
        if not getattr(user_obj, "is_active", False) or not user_obj.is_staff:
            return False
        return bool(user_obj.scope.national)

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if self._is_ministry(user_obj):
            app_label, _, codename = perm.partition(".")
            if app_label in MINISTRY_APPS and codename.split("_", 1)[0] in MINISTRY_ACTIONS:
                return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        if self._is_ministry(user_obj) and app_label in MINISTRY_APPS:
            return True
        return super().has_module_perms(user_obj, app_label)
