from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html

from plants import access, hierarchy, kiosk
from plants.models import KioskLink, Membership, Node, Plant
from plants.roles import Action


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


class KioskLinkForm(forms.ModelForm):
    class Meta:
        model = KioskLink
        fields = ["node", "label"]


@admin.register(KioskLink)
class KioskLinkAdmin(admin.ModelAdmin):
    """Kiosk links of the plants the user administers: issue (the link is shown once), list,
    revoke."""

    form = KioskLinkForm
    list_display = ["label", "node", "plant", "hint", "created_at", "created_by", "last_seen_at",
                    "revoked_at"]
    list_filter = ["plant", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["plant", "node", "created_by"]
    raw_id_fields = ["node"]
    actions = ["revoke_links"]

    def _plant_ids(self, request):
        return access.permitted_plant_ids(request.user, Action.ADMINISTER)

    def get_queryset(self, request):
        return access.scope(super().get_queryset(request), request.user, Action.ADMINISTER)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff and (
            request.user.is_superuser or bool(self._plant_ids(request)))

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (
            obj is None or access.may(request.user, obj.plant_id, Action.ADMINISTER))

    has_add_permission = has_module_permission

    def has_change_permission(self, request, obj=None):
        return obj is not None and obj.revoked_at is None and self.has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the list is the record of who had a screen

    def get_fields(self, request, obj=None):
        return ["node", "label"] if obj is None else ["label", "revoked_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "node":
            kwargs["queryset"] = access.scope(Node.objects.all(), request.user, Action.ADMINISTER)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        if not access.may(request.user, obj.node.plant_id, Action.ADMINISTER):
            raise PermissionDenied
        link, token = kiosk.issue(obj.node, obj.label, request.user)
        obj.pk = link.pk
        url = request.build_absolute_uri(kiosk.path_for(link, token))
        self.message_user(request, format_html(
            "Kiosk link for {}: <a href='{}'>{}</a> — copy it now; it is not shown again.",
            link.node, url, url), messages.SUCCESS)

    @admin.action(description="Revoke the selected kiosk links")
    def revoke_links(self, request, queryset):
        for link in queryset:
            kiosk.revoke(link)
        self.message_user(request, f"Revoked {queryset.count()} kiosk link(s).")
