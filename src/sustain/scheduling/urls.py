from django.urls import path

from sustain.scheduling import views

app_name = "scheduling"
urlpatterns = [
    path("schedule/", views.day_view, name="day"),
    path("schedule/week/", views.week_view, name="week"),
    path("patients/<int:patient_id>/series/", views.book_series, name="series"),
    path("patients/<int:patient_id>/visits/", views.visit_create, name="visit_create"),
]
