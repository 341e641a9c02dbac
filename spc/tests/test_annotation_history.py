"""Notes are edited and deleted with their history kept: who, when, before and after; a deleted
note leaves the chart and stays in the record."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from plants.roles import Role
from plants.tests.factories import user_with_role
from spc.annotations import add_annotation, delete_annotation, edit_annotation
from spc.models import Annotation, AnnotationEdit, ChartType, Sample
from spc.tests.test_chart_page import T0, build

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_an_edit_and_a_deletion_are_kept_with_before_and_after(cast):
    ch = build(ChartType.IMR, plant=cast.plant, count=22)
    start = timezone.now() - timedelta(hours=2)
    note = add_annotation(ch, "Lot 4711", cast.operator, start=start, end=start + timedelta(hours=1))
    edit_annotation(note, "Lot 4712", cast.supervisor, end=start + timedelta(minutes=90))
    delete_annotation(note, cast.supervisor)
    assert not ch.annotations.exists() and not Annotation.objects.filter(pk=note.pk).exists()
    kept = Annotation.everything.get(pk=note.pk)
    assert kept.deleted_at is not None and kept.text == "Lot 4712"
    edited, deleted = AnnotationEdit.objects.filter(annotation=kept)
    assert edited.kind == "EDIT" and edited.edited_by == cast.supervisor
    assert (edited.before["text"], edited.after["text"]) == ("Lot 4711", "Lot 4712")
    assert edited.before["end"] != edited.after["end"]
    assert deleted.kind == "DELETE" and deleted.before["text"] == "Lot 4712"


def test_an_unchanged_edit_records_nothing_and_an_empty_one_is_refused(cast):
    ch = build(ChartType.IMR, plant=cast.plant, count=22)
    sample = Sample.objects.filter(characteristic=ch).first()
    note = add_annotation(ch, "Gauge swapped", cast.operator, sample=sample)
    edit_annotation(note, "Gauge swapped", cast.operator)
    assert not AnnotationEdit.objects.exists()
    with pytest.raises(ValueError, match="Write the note"):
        edit_annotation(note, "  ", cast.operator)


def test_authors_edit_their_notes_supervisors_anyones_other_plants_none(cast):
    ch = build(ChartType.IMR, plant=cast.plant, count=22)
    sample = Sample.objects.filter(characteristic=ch).first()
    note = add_annotation(ch, "Gauge swapped", cast.operator, sample=sample)
    url = f"/p/{cast.plant.code}/c/{ch.pk}/annotations/{note.pk}/edit/"
    other_operator = user_with_role(cast.plant, Role.OPERATOR, "second")
    assert client_for(other_operator).post(url, {"text": "x", "inspector": "1"},
                                           HTTP_HX_REQUEST="true").status_code == 403
    mine = client_for(cast.operator).post(url, {"text": "Gauge 7 swapped", "inspector": "1"},
                                          HTTP_HX_REQUEST="true")
    assert mine.status_code == 200 and "Gauge 7 swapped" in mine.content.decode()
    assert "Edited by operator" in mine.content.decode()  # the history under the note
    assert client_for(cast.supervisor).post(url, {"text": "Gauge 7 (calibrated) swapped"},
                                            HTTP_HX_REQUEST="true").status_code == 204
    assert client_for(cast.outsider).post(url, {"text": "x"}).status_code == 404
    assert Annotation.objects.get(pk=note.pk).text == "Gauge 7 (calibrated) swapped"


def test_a_period_note_opens_prefilled_and_saves_from_the_chart_page(cast):
    ch = build(ChartType.IMR, plant=cast.plant, count=22)
    start = T0 + timedelta(minutes=5)  # inside the chart's samples
    note = add_annotation(ch, "Maintenance", cast.operator, start=start,
                          end=start + timedelta(hours=1))
    c = client_for(cast.operator)
    page = c.get(f"/p/{cast.plant.code}/c/{ch.pk}/?last=all").content.decode()
    url = f"/p/{cast.plant.code}/c/{ch.pk}/annotations/{note.pk}/edit/"
    assert f'data-edit-note="{url}"' in page
    form = c.get(url).content.decode()
    assert "Change the note" in form and "Maintenance" in form
    local = timezone.localtime(start).strftime("%Y-%m-%dT%H:%M")
    assert local in form
    done = c.post(url, {"text": "Maintenance (spindle)", "start": local,
                        "end": timezone.localtime(start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")},
                  HTTP_HX_REQUEST="true")
    assert done.status_code == 204 and "chartChanged" in done["HX-Trigger"]
    note.refresh_from_db()
    assert note.text == "Maintenance (spindle)" and note.end - note.start >= timedelta(hours=2) - timedelta(minutes=1)
