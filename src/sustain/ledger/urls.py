from django.urls import path

from sustain.ledger import count_views

app_name = "ledger"
urlpatterns = [
    path("end-of-day/", count_views.end_of_day, name="end_of_day"),
    path("counts/new/", count_views.count_new, name="count_new"),
    path("counts/<int:count_id>/", count_views.count_detail, name="count_detail"),
    path("discrepancies/", count_views.discrepancy_list, name="discrepancies"),
    path(
        "discrepancies/<int:discrepancy_id>/resolve/",
        count_views.discrepancy_resolve,
        name="discrepancy_resolve",
    ),
    path("theft-loss/", count_views.theft_loss_list, name="theft_loss_list"),
    path("theft-loss/new/", count_views.theft_loss_new, name="theft_loss_new"),
    path("theft-loss/<int:report_id>/", count_views.theft_loss_detail, name="theft_loss_detail"),
    path(
        "theft-loss/<int:report_id>/<str:what>/",
        count_views.theft_loss_file,
        name="theft_loss_file",
    ),
    path("inventories/", count_views.inventory_list, name="inventories"),
    path("inventories/new/", count_views.inventory_new, name="inventory_new"),
]
