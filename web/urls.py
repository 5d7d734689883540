from django.urls import path

from web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.SignInView.as_view(), name="sign-in"),
    path("sign-out/", views.SignOutView.as_view(), name="sign-out"),
    path("switch/", views.switch, name="switch"),
    path("verify/", views.verify, name="verify"),
    path("p/<uuid:party_id>/", views.party_home, name="party"),
    path("p/<uuid:party_id>/consent/", views.consent, name="consent"),
]
