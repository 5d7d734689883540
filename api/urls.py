from django.urls import path

from api.views import catalog, claims, consent, exports, imports, parties, tokens

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
    path(
        "shares/<uuid:share_id>/transfer/",
        catalog.ShareTransferView.as_view(),
        name="share-transfer",
    ),
    path("claims/", claims.ClaimListView.as_view(), name="claim-list"),
    path("claims/<uuid:claim_id>/", claims.ClaimDetailView.as_view(), name="claim-detail"),
    path("claims/<uuid:claim_id>/accept/", claims.ClaimAcceptView.as_view(), name="claim-accept"),
    path("claims/<uuid:claim_id>/reject/", claims.ClaimRejectView.as_view(), name="claim-reject"),
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

from api.views import openings  # noqa: E402 - grouped with its routes
from api.views import requests as request_views  # noqa: E402 - grouped with its routes

urlpatterns += [
    path("use-requests/", request_views.UseRequestListView.as_view(), name="use-request-list"),
    path(
        "use-requests/<uuid:request_id>/",
        request_views.UseRequestDetailView.as_view(),
        name="use-request-detail",
    ),
    path(
        "use-requests/<uuid:request_id>/results/",
        request_views.UseRequestResultsView.as_view(),
        name="use-request-results",
    ),
    path("checks/", request_views.CheckView.as_view(), name="checks"),
    path(
        "decisions/<uuid:decision_id>/",
        request_views.DecisionDetailView.as_view(),
        name="decision-detail",
    ),
    path(
        "decisions/<uuid:decision_id>/explanation/",
        request_views.DecisionExplanationView.as_view(),
        name="decision-explanation",
    ),
    path(
        "decisions/<uuid:decision_id>/receipt/",
        request_views.DecisionReceiptView.as_view(),
        name="decision-receipt",
    ),
    path("reviews/", request_views.ReviewListView.as_view(), name="review-list"),
    path(
        "reviews/<uuid:review_id>/approve/",
        request_views.ReviewApproveView.as_view(),
        name="review-approve",
    ),
    path(
        "reviews/<uuid:review_id>/deny/", request_views.ReviewDenyView.as_view(), name="review-deny"
    ),
    path("insights/", request_views.InsightsView.as_view(), name="insights"),
    path("callback-secret/", request_views.CallbackSecretView.as_view(), name="callback-secret"),
    path("embedding-spaces/", request_views.SpaceListView.as_view(), name="space-list"),
    path(
        "works/<uuid:work_id>/embeddings/",
        request_views.WorkEmbeddingsView.as_view(),
        name="work-embeddings",
    ),
    path("ledger/openings/", openings.OpeningsView.as_view(), name="ledger-openings"),
]
