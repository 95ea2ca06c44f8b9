from django.urls import path

from sustain.ledger import count_views, report_views, views

app_name = "ledger"
urlpatterns = [
    path("", views.safe, name="safe"),
    path("containers/<int:container_id>/", views.container, name="container"),
    path("containers/<int:container_id>/open/", views.open_container, name="open"),
    path("containers/<int:container_id>/transfer/", views.transfer, name="transfer"),
    path("containers/<int:container_id>/adjust/", views.adjust, name="adjust"),
    path("containers/<int:container_id>/return/", views.return_container, name="return"),
    path("entries/<int:entry_id>/correct/", views.correct, name="correct"),
    path("stock/", views.stock, name="stock"),
    path("stock/receive/", views.receive, name="receive"),
    path("stock/destroy/", views.destroy, name="destroy"),
    path("setup/", views.setup_page, name="setup"),
    path("setup/registration/", views.registration, name="registration"),
    path("setup/suppliers/", views.supplier, name="supplier"),
    path("setup/products/", views.product, name="product"),
    path("setup/locations/", views.location, name="location"),
    path("report/", report_views.report_page, name="report"),
    path("report.csv", report_views.report_csv, name="report_csv"),
    path("report.pdf", report_views.report_pdf, name="report_pdf"),
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
