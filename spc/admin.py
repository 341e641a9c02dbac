from django.contrib import admin

from spc.models import Characteristic, ControlLimits, SampleEdit


class ControlLimitsInline(admin.TabularInline):
    model = ControlLimits
    extra = 0
    can_delete = False
    fields = ["version", "is_active", "center", "ucl", "lcl", "sigma", "source", "reason",
              "effective_from", "created_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # new versions come from recalculation or manual entry, with a reason


@admin.register(Characteristic)
class CharacteristicAdmin(admin.ModelAdmin):
    list_display = ["name", "chart_type", "subgroup_size", "node", "plant"]
    list_filter = ["plant", "chart_type", "provider"]
    search_fields = ["name"]
    list_select_related = ["node", "plant"]
    raw_id_fields = ["node"]
    readonly_fields = ["plant", "created_at", "created_by"]
    inlines = [ControlLimitsInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.samples.exists():
            fields += ["chart_type", "subgroup_size"]  # the samples were taken for these
        return fields

    def save_model(self, request, obj, form, change):
        obj.plant = obj.node.plant
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(SampleEdit)
class SampleEditAdmin(admin.ModelAdmin):
    list_display = ["sample", "kind", "reason", "edited_by", "edited_at"]
    list_filter = ["kind"]
    readonly_fields = ["sample", "kind", "reason", "before", "after", "edited_by", "edited_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
