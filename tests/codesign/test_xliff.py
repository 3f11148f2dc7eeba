"""Translations as XLIFF 2.0 for translation tools: a valid XLIFF 2.0 document out, a
translator's file in with its translations recorded against the source they were made from,
and a bad file refused with the line of each problem, changing nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa

from app.codesign import service as codesign
from app.codesign import xliff
from app.codesign.document import INSTRUMENT_PART
from app.codesign.models import DraftPart
from app.errors import Invalid

NS = {"x": xliff.NAMESPACE}
# XML name tokens: what XLIFF 2.0 allows as a unit id.
NMTOKEN = re.compile(r"[\w.:-]+")


@pytest.fixture
def draft(session, world):
    created = codesign.create_draft_from_published(
        session, world.author, world.study, world.diary.id
    )
    session.commit()
    return created


def _revisions(session, draft_id):
    return session.scalars(
        sa.select(DraftPart.revision).where(DraftPart.draft_id == draft_id).order_by(DraftPart.id)
    ).all()


def _fill(data: bytes, targets: dict[str, str]) -> bytes:
    """A translator's tool at work: targets written into the units named."""
    root = ET.fromstring(data)  # noqa: S314 - our own export, parsed in a test
    for unit in root.iter(f"{{{xliff.NAMESPACE}}}unit"):
        if unit.get("id") in targets:
            segment = unit.find("x:segment", NS)
            assert segment is not None
            target = segment.find("x:target", NS)
            if target is None:
                target = ET.SubElement(segment, f"{{{xliff.NAMESPACE}}}target")
            target.text = targets[unit.get("id", "")]
            segment.set("state", "translated")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def test_the_export_is_xliff_2_with_one_unit_per_text(session, world, draft):
    name, data = codesign.export_translations_xliff(session, world.author, draft.id, "fr")
    assert name == "daily_symptom_diary-1.1.0-fr.xlf"
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(data)  # noqa: S314 - our own export, parsed in a test
    assert root.tag == f"{{{xliff.NAMESPACE}}}xliff"
    assert (root.get("version"), root.get("srcLang"), root.get("trgLang")) == ("2.0", "en", "fr")
    units = root.findall("x:file/x:unit", NS)
    ids = [unit.get("id") for unit in units]
    assert len(ids) == len(set(ids)) and all(NMTOKEN.fullmatch(i or "") for i in ids)
    fatigue = next(u for u in units if u.get("id") == "item.fatigue.text.self")
    assert fatigue.findtext("x:segment/x:source", namespaces=NS) == "How tired did you feel today?"
    assert fatigue.findtext("x:segment/x:target", namespaces=NS).startswith("À quel point")
    assert fatigue.find("x:segment", NS).get("state") == "translated"
    assert re.fullmatch(
        r"[0-9a-f]{32}", fatigue.findtext("x:notes/x:note[@category='source_hash']", namespaces=NS)
    )
    assert "instrument.title" in ids
    assert xliff.parse_unit_id("instrument.title") == (INSTRUMENT_PART, "title")
    assert xliff.parse_unit_id("item.pain.choices.0.label") == ("pain", "choices.0.label")
    assert xliff.parse_unit_id("nothing.title") is None


def test_an_xliff_round_trip_applies_and_tracks_the_source(session, world, draft):
    _name, data = codesign.export_translations_xliff(session, world.author, draft.id, "fr")
    codesign.edit(
        session,
        world.author,
        draft.id,
        "fatigue",
        {"text.self.en": "How tired were you today?"},
        next(
            p.revision
            for p in codesign.get_draft(session, world.author, draft.id).items
            if p.key == "fatigue"
        ),
    )
    session.commit()
    filled = _fill(
        data,
        {
            "item.fatigue.text.self": "Quelle était votre fatigue aujourd'hui ?",
            "item.pain.text.self": "Avez-vous eu mal aujourd'hui ?",
        },
    )
    result = codesign.import_translations_xliff(session, world.author, draft.id, filled)
    session.commit()
    assert (result.applied, result.stale, result.parts) == (2, 1, ("fatigue", "pain"))
    french = next(
        s
        for s in codesign.translation_status(session, world.author, draft.id).languages
        if s.language == "fr"
    )
    assert [(e.part, e.field) for e in french.entries if e.stale] == [("fatigue", "text.self.fr")]
    # The stale one goes out again as needing work.
    again = codesign.export_translations_xliff(session, world.author, draft.id, "fr")[1]
    root = ET.fromstring(again)  # noqa: S314 - our own export, parsed in a test
    unit = next(
        u
        for u in root.iter(f"{{{xliff.NAMESPACE}}}unit")
        if u.get("id") == "item.fatigue.text.self"
    )
    assert unit.find("x:segment", NS).get("state") == "initial"


@pytest.mark.parametrize(
    ("change", "line_of", "words"),
    [
        (lambda t: t.replace("</file>", "</fil>", 1), "</fil>", "not well-formed XML"),
        (
            lambda t: t.replace('id="item.pain.text.self"', 'id="item.nothing.text.self"', 1),
            'id="item.nothing.text.self"',
            "no text 'item.nothing.text.self'",
        ),
        (
            lambda t: t.replace(
                "<target>Tête</target>", "<target>Tê<pc id='1'>te</pc></target>", 1
            ),
            "<pc id='1'>",
            "holds markup",
        ),
        (lambda t: t.replace('trgLang="fr"', 'trgLang="en"', 1), "trgLang", "source language"),
    ],
)
def test_a_bad_file_names_the_line_and_changes_nothing(
    session, world, draft, change, line_of, words
):
    _name, data = codesign.export_translations_xliff(session, world.author, draft.id, "fr")
    text = change(_fill(data, {"item.fatigue.text.self": "Fatigue ?"}).decode("utf-8"))
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if line_of in row)
    before = _revisions(session, draft.id)
    with pytest.raises(Invalid) as refused:
        codesign.import_translations_xliff(session, world.author, draft.id, text.encode())
    session.rollback()
    errors = refused.value.errors
    assert f"line {line}" in errors, errors
    assert any(words in message for message in errors[f"line {line}"])
    assert _revisions(session, draft.id) == before


def test_entities_and_dtds_are_refused(session, world, draft):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" '
        b'trgLang="fr"><file id="f1"><unit id="instrument.title"><segment><source>x</source>'
        b"<target>&b;</target></segment></unit></file></xliff>"
    )
    with pytest.raises(Invalid) as refused:
        codesign.import_translations_xliff(session, world.author, draft.id, bomb)
    session.rollback()
    assert "DTD" in str(refused.value.errors)
