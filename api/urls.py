from django.urls import path

from api.views import (
    callbacks,
    catalog,
    checks,
    claims,
    consent,
    content,
    decisions,
    disputes,
    exports,
    imports,
    insights,
    openings,
    parties,
    party_claims,
    requests,
    results,
    reviews,
    shares,
    spaces,
    tokens,
    usage,
    voices,
)

app_name = "api"
urlpatterns = [
    # First: the hot path resolves in one try (its place does not change the sorted schema).
    # The lean view answers the common check; DRF's CheckView everything else (api/views/checks.py).
    path("checks/", checks.check_view, name="checks"),
    path("me/", parties.MeView.as_view(), name="me"),
    path("parties/", parties.PartyListView.as_view(), name="party-list"),
    path("parties/<uuid:party_id>/", parties.PartyDetailView.as_view(), name="party-detail"),
    path("parties/<uuid:party_id>/likeness/", shares.LikenessView.as_view(), name="likeness"),
    path(
        "parties/<uuid:party_id>/likeness/voice/",
        voices.LikenessVoiceView.as_view(),
        name="likeness-voice",
    ),
    path(
        "parties/<uuid:party_id>/likeness/voice/<uuid:enrolment_id>/",
        voices.LikenessVoiceDetailView.as_view(),
        name="likeness-voice-detail",
    ),
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
    path(
        "works/<uuid:work_id>/content/",
        content.WorkContentListView.as_view(),
        name="work-content-list",
    ),
    path(
        "works/<uuid:work_id>/content/<uuid:content_id>/",
        content.WorkContentDetailView.as_view(),
        name="work-content-detail",
    ),
    path("releases/", catalog.ReleaseListView.as_view(), name="release-list"),
    path("releases/<uuid:release_id>/", catalog.ReleaseDetailView.as_view(), name="release-detail"),
    path("shares/", shares.ShareListView.as_view(), name="share-list"),
    path("shares/<uuid:share_id>/", shares.ShareDetailView.as_view(), name="share-detail"),
    path(
        "shares/<uuid:share_id>/transfer/",
        shares.ShareTransferView.as_view(),
        name="share-transfer",
    ),
    path("claims/", claims.ClaimListView.as_view(), name="claim-list"),
    path("claims/<uuid:claim_id>/", claims.ClaimDetailView.as_view(), name="claim-detail"),
    path("claims/<uuid:claim_id>/accept/", claims.ClaimAcceptView.as_view(), name="claim-accept"),
    path("claims/<uuid:claim_id>/reject/", claims.ClaimRejectView.as_view(), name="claim-reject"),
    path("party-claims/", party_claims.PartyClaimListView.as_view(), name="party-claim-list"),
    path(
        "party-claims/candidates/",
        party_claims.PartyClaimCandidatesView.as_view(),
        name="party-claim-candidates",
    ),
    path(
        "party-claims/<uuid:claim_id>/",
        party_claims.PartyClaimDetailView.as_view(),
        name="party-claim-detail",
    ),
    path(
        "party-claims/<uuid:claim_id>/accept/",
        party_claims.PartyClaimAcceptView.as_view(),
        name="party-claim-accept",
    ),
    path(
        "party-claims/<uuid:claim_id>/reject/",
        party_claims.PartyClaimRejectView.as_view(),
        name="party-claim-reject",
    ),
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
    path("use-requests/", requests.UseRequestListView.as_view(), name="use-request-list"),
    path("usage-reports/", usage.UsageReportListView.as_view(), name="usage-report-list"),
    path("statements/", usage.StatementView.as_view(), name="statement"),
    path(
        "use-requests/<uuid:request_id>/",
        results.UseRequestDetailView.as_view(),
        name="use-request-detail",
    ),
    path(
        "use-requests/<uuid:request_id>/results/",
        results.UseRequestResultsView.as_view(),
        name="use-request-results",
    ),
    path(
        "decisions/<uuid:decision_id>/",
        decisions.DecisionDetailView.as_view(),
        name="decision-detail",
    ),
    path(
        "decisions/<uuid:decision_id>/explanation/",
        decisions.DecisionExplanationView.as_view(),
        name="decision-explanation",
    ),
    path(
        "decisions/<uuid:decision_id>/receipt/",
        decisions.DecisionReceiptView.as_view(),
        name="decision-receipt",
    ),
    path(
        "decisions/<uuid:decision_id>/token/",
        decisions.DecisionTokenView.as_view(),
        name="decision-token",
    ),
    path(
        "decisions/<uuid:decision_id>/disputes/",
        disputes.DecisionDisputeView.as_view(),
        name="decision-disputes",
    ),
    path("disputes/", disputes.DisputeListView.as_view(), name="dispute-list"),
    path(
        "disputes/<uuid:dispute_id>/", disputes.DisputeDetailView.as_view(), name="dispute-detail"
    ),
    path(
        "disputes/<uuid:dispute_id>/uphold/",
        disputes.DisputeUpholdView.as_view(),
        name="dispute-uphold",
    ),
    path(
        "disputes/<uuid:dispute_id>/release/",
        disputes.DisputeReleaseView.as_view(),
        name="dispute-release",
    ),
    path(
        "disputes/<uuid:dispute_id>/appeal/",
        disputes.DisputeAppealView.as_view(),
        name="dispute-appeal",
    ),
    path(
        "disputes/<uuid:dispute_id>/rule/", disputes.DisputeRuleView.as_view(), name="dispute-rule"
    ),
    path("reviews/", reviews.ReviewListView.as_view(), name="review-list"),
    path(
        "reviews/<uuid:review_id>/approve/",
        reviews.ReviewApproveView.as_view(),
        name="review-approve",
    ),
    path("reviews/<uuid:review_id>/deny/", reviews.ReviewDenyView.as_view(), name="review-deny"),
    path("insights/", insights.InsightsView.as_view(), name="insights"),
    path("callback-secret/", callbacks.CallbackSecretView.as_view(), name="callback-secret"),
    path(
        "callback-secret/rotate/",
        callbacks.CallbackSecretRotateView.as_view(),
        name="callback-secret-rotate",
    ),
    path("embedding-spaces/", spaces.SpaceListView.as_view(), name="space-list"),
    path(
        "works/<uuid:work_id>/embeddings/",
        spaces.WorkEmbeddingsView.as_view(),
        name="work-embeddings",
    ),
    path("ledger/openings/", openings.OpeningsView.as_view(), name="ledger-openings"),
]
