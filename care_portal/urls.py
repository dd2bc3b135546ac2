from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import views

# The admin speaks as the portal's, not as Django's.
admin.site.site_header = _("Portail CaRE – administration")
admin.site.site_title = _("Portail CaRE")
admin.site.index_title = _("Pilotage du programme")
# No navigation sidebar: at 1280 px it took a quarter of the width that the lists' key
# columns (status, amounts) need; the home page and the breadcrumbs lead everywhere.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", include("monitoring.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("accessibilite/", views.accessibility, name="accessibility"),
    path(".well-known/security.txt", views.security_txt, name="security-txt"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("annuaire/", include("establishments.urls")),
    path("volet1/", include("audits.urls")),
    path("candidatures/", include("applications.urls")),
    path("instruction/", include("applications.instruction_urls")),
    path("api/v1/", include("api.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "care_portal.views.page_not_found"
handler500 = "care_portal.views.server_error"
