from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from plants import hierarchy
from plants.models import Membership, Node, Plant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["plant"]
    verbose_name = "role at a plant"
    verbose_name_plural = "roles at plants"


class PlantMembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    verbose_name = "user role"
    verbose_name_plural = "user roles"


@admin.register(Plant)
class PlantAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "created_at"]
    search_fields = ["name", "code"]
    inlines = [PlantMembershipInline]


class NodeAdminForm(forms.ModelForm):
    class Meta:
        model = Node
        fields = ["plant", "parent", "name", "level"]

    def clean(self):
        cleaned = super().clean()
        node, parent = self.instance, cleaned.get("parent")
        if node.pk and cleaned.get("plant") and cleaned["plant"].pk != node.plant_id:
            self.add_error("plant", "A node cannot move to another plant.")
        elif node.pk and parent and node.pk in hierarchy.ancestor_ids(parent):
            self.add_error("parent", "That parent is this node or below it: a cycle.")
        return cleaned


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    form = NodeAdminForm
    list_display = ["name", "level", "parent", "plant"]
    list_filter = ["plant", "level"]
    search_fields = ["name"]
    list_select_related = ["plant", "parent"]
    raw_id_fields = ["parent"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class OpenSPCUserAdmin(UserAdmin):
    inlines = [MembershipInline]


admin.site.site_header = "OpenSPC administration"
admin.site.site_title = "OpenSPC"
