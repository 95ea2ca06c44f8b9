from django.urls import path

from sustain.ledger import report_views, views

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
]
