from django import forms

from plants.models import Level, Node


class NodeCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    level = forms.TypedChoiceField(choices=Level.choices, coerce=int)
    parent = forms.ModelChoiceField(queryset=Node.objects.none(), required=False,
                                    empty_label="— top of the hierarchy —")

    def __init__(self, *args, plant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Node.objects.filter(plant=plant)


class NodeRenameForm(forms.Form):
    name = forms.CharField(max_length=120)


class NodeMoveForm(forms.Form):
    parent = forms.ModelChoiceField(queryset=Node.objects.none(), required=False,
                                    empty_label="— top of the hierarchy —")

    def __init__(self, *args, node, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Node.objects.filter(plant_id=node.plant_id).exclude(
            pk=node.pk
        )
