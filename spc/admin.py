from django.contrib import admin

from spc import rejudge
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
            # the samples were taken for these
            fields += ["chart_type", "subgroup_size", "variable_subgroup_size"]
        return fields

    def save_model(self, request, obj, form, change):
        """As the API does: under the writer's lock, and a change of rules or chart parameters
        re-judges the current stage."""
        obj.plant = obj.node.plant
        if not change:
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            return
        with rejudge.writer_lock(obj) as (_, newest):
            stored = Characteristic.objects.get(pk=obj.pk)  # obj holds the form's values already
            before = {name: getattr(stored, name) for name in form.changed_data
                      if hasattr(stored, name)}
            super().save_model(request, obj, form, change)
            rejudge.configuration_changed(obj, before, newest)


@admin.register(SampleEdit)
class SampleEditAdmin(admin.ModelAdmin):
    list_display = ["sample", "kind", "reason", "edited_by", "edited_at"]
    list_filter = ["kind"]
    readonly_fields = ["sample", "kind", "reason", "before", "after", "edited_by", "edited_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
