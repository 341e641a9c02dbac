from django.contrib import admin

from spc.models import ReasonCode


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["name", "plant", "active"]
    list_filter = ["plant", "active"]
    search_fields = ["name"]
