from django.urls import path

from api.views import catalog, consent, exports, imports, parties, tokens

app_name = "api"
urlpatterns = [
    path("me/", parties.MeView.as_view(), name="me"),
    path("parties/", parties.PartyListView.as_view(), name="party-list"),
    path("parties/<uuid:party_id>/", parties.PartyDetailView.as_view(), name="party-detail"),
    path("parties/<uuid:party_id>/likeness/", catalog.LikenessView.as_view(), name="likeness"),
    path(
        "parties/<uuid:party_id>/consent/export/",
        exports.PartyConsentExportView.as_view(),
        name="party-consent-export",
    ),
    path("tokens/", tokens.TokenListView.as_view(), name="token-list"),
    path("tokens/<str:token_id>/revoke/", tokens.TokenRevokeView.as_view(), name="token-revoke"),
    path("works/", catalog.WorkListView.as_view(), name="work-list"),
    path("works/<uuid:work_id>/", catalog.WorkDetailView.as_view(), name="work-detail"),
    path(
        "works/<uuid:work_id>/consent/export/",
        exports.WorkConsentExportView.as_view(),
        name="work-consent-export",
    ),
    path("releases/", catalog.ReleaseListView.as_view(), name="release-list"),
    path("releases/<uuid:release_id>/", catalog.ReleaseDetailView.as_view(), name="release-detail"),
    path("shares/", catalog.ShareListView.as_view(), name="share-list"),
    path("shares/<uuid:share_id>/", catalog.ShareDetailView.as_view(), name="share-detail"),
    path("consent/rules/", consent.RuleListView.as_view(), name="rule-list"),
    path("consent/rules/<uuid:rule_id>/", consent.RuleDetailView.as_view(), name="rule-detail"),
    path(
        "consent/rules/<uuid:rule_id>/versions/",
        consent.RuleVersionsView.as_view(),
        name="rule-versions",
    ),
    path(
        "consent/rules/<uuid:rule_id>/withdraw/",
        consent.RuleWithdrawView.as_view(),
        name="rule-withdraw",
    ),
    path("consent/posture/", consent.PostureView.as_view(), name="posture"),
    path("consent/matrix/", consent.MatrixView.as_view(), name="matrix"),
    path("imports/", imports.ImportListView.as_view(), name="import-list"),
    path("imports/<uuid:job_id>/", imports.ImportDetailView.as_view(), name="import-detail"),
]
