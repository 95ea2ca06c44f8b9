from django.urls import path

from sustain.portal import views

app_name = "portal"
urlpatterns = [
    path("r/<str:token>/", views.questionnaire, name="questionnaire"),
    path("kiosk/", views.kiosk, name="kiosk"),
    path("v/<str:token>/", views.visit, name="visit"),
]
