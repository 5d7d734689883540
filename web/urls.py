from django.contrib.auth import views as auth_views
from django.urls import include, path

from web import explorer, label, licensee, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.SignInView.as_view(), name="sign-in"),
    path("sign-out/", views.SignOutView.as_view(), name="sign-out"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="web/password_reset_sent.html"),
        name="password-reset-sent",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="web/password_reset_done.html"),
        name="password-reset-done",
    ),
    path("switch/", views.switch, name="switch"),
    path("verify/", views.verify, name="verify"),
    *explorer.urlpatterns,
    path("p/<uuid:party_id>/", views.party_home, name="party"),
    path("p/<uuid:party_id>/consent/", views.consent, name="consent"),
    path("p/<uuid:party_id>/reviews/", views.reviews, name="reviews"),
    path("p/<uuid:party_id>/reviews/dispute/", views.dispute_answer, name="dispute-answer"),
    path(
        "p/<uuid:party_id>/reviews/<uuid:review_id>/",
        views.review_answer,
        name="review-answer",
    ),
    path("p/<uuid:party_id>/catalog/", label.catalog, name="catalog"),
    path("p/<uuid:party_id>/catalog/<uuid:work_id>/", label.work, name="work"),
    path(
        "p/<uuid:party_id>/catalog/<uuid:work_id>/decisions/<uuid:decision_id>/receipt/",
        label.decision_receipt,
        name="work-decision-receipt",
    ),
    path("p/<uuid:party_id>/imports/", label.imports, name="imports"),
    path("p/<uuid:party_id>/imports/<uuid:job_id>/", label.import_job, name="import-job"),
    path(
        "p/<uuid:party_id>/imports/<uuid:job_id>/rejected.csv",
        label.import_rejected_csv,
        name="import-rejected",
    ),
    path("p/<uuid:party_id>/", include(licensee.urlpatterns)),  # the licensee's pages
]
