from django.urls import path

from sustain.scheduling import calendar_views, site_views, views

app_name = "scheduling"
urlpatterns = [
    path("schedule/", views.day_view, name="day"),
    path("schedule/week/", views.week_view, name="week"),
    path("schedule/visits.csv", views.visits_export, name="visits_export"),
    path("schedule/waitlist/", views.waitlist, name="waitlist"),
    path("schedule/staff/", views.staff_view, name="staff"),
    path("schedule/staff/shifts/", views.shift_add, name="shift_add"),
    path("schedule/staff/shifts/<int:shift_id>/remove/", views.shift_remove, name="shift_remove"),
    path("schedule/staff/rules/", views.staff_rules, name="staff_rules"),
    path("schedule/staff/medical-directors/", views.medical_director, name="medical_director"),
    path(
        "schedule/staff/chairs/<int:chair_id>/",
        views.chair_capabilities,
        name="chair_capabilities",
    ),
    path("schedule/site/", site_views.site_details, name="site_details"),
    path("schedule/calendar/", views.site_calendar, name="site_calendar"),
    path("schedule/calendar/hours/", views.calendar_hours, name="calendar_hours"),
    path("schedule/calendar/closures/", views.closure_add, name="closure_add"),
    path(
        "schedule/calendar/closures/<int:closure_id>/remove/",
        views.closure_remove,
        name="closure_remove",
    ),
    path("schedule/calendar/holidays/country/", views.holiday_country, name="holiday_country"),
    path("schedule/calendar/holidays/", views.holidays_add, name="holidays_add"),
    path("patients/<int:patient_id>/series/", views.book_series, name="series"),
    path("patients/<int:patient_id>/visits/", views.visit_create, name="visit_create"),
    path("visits/<int:appointment_id>/cancel/", views.visit_cancel, name="visit_cancel"),
    path("visits/<int:appointment_id>/move/", views.visit_move, name="visit_move"),
    path("visits/<int:appointment_id>/rebook/", views.visit_rebook, name="visit_rebook"),
    path(
        "patients/<int:patient_id>/boosters/<int:number>/book/",
        views.booster_book,
        name="booster_book",
    ),
    path("visits/<int:appointment_id>/no-show/", views.visit_no_show, name="visit_no_show"),
    path("visits/<int:appointment_id>/keep-time/", views.visit_keep_time, name="visit_keep_time"),
    # Patient calendars. The feed is public: its secret token is the credential (a wrong or
    # revoked token is a 404), like the patients' self-report links.
    path("calendar/<slug:token>.ics", calendar_views.calendar_feed, name="calendar_feed"),
    path("visits/<int:appointment_id>/visit.ics", calendar_views.visit_ics, name="visit_ics"),
    path(
        "patients/<int:patient_id>/calendar/",
        calendar_views.patient_calendar,
        name="patient_calendar",
    ),
    path(
        "patients/<int:patient_id>/calendar/revoke/",
        calendar_views.patient_calendar_revoke,
        name="patient_calendar_revoke",
    ),
]
