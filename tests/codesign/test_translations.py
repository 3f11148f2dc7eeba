"""Translation completeness, staleness by source fingerprint, and the translators' CSV."""

from __future__ import annotations

from pathlib import Path

from app.codesign import document as doc
from app.codesign import translations as tr

DIARY = Path(__file__).resolve().parents[2] / "instruments" / "daily_symptom_diary.yaml"


def slots():
    instrument, items = doc.split(doc.from_yaml(DIARY.read_text("utf-8")))
    return doc.text_slots(instrument, items)


def test_completeness_counts_translated_and_missing_texts_per_language():
    all_slots = slots()
    report = tr.status(all_slots, ["en", "fr", "es", "de"], "en", {})
    assert [s.language for s in report] == ["fr", "es", "de"]
    assert all(s.total == len(all_slots) and s.missing == 0 and s.stale == 0 for s in report)
    trimmed = [
        doc.TextSlot(s.part, s.path, {k: v for k, v in s.texts.items() if k != "de"})
        for s in all_slots[:3]
    ]
    german = tr.status([*trimmed, *all_slots[3:]], ["en", "de"], "en", {})[0]
    assert german.missing == 3 and german.complete_percent < 100


def test_a_translation_is_stale_when_its_source_text_changed():
    slot = doc.TextSlot("q", "text", {"en": "How tired were you?", "fr": "Fatigué ?"})
    recorded = {("q", "text.fr"): doc.source_hash("How tired are you?")}
    assert tr.is_stale(slot, "fr", "en", recorded)
    assert not tr.is_stale(
        slot, "fr", "en", {("q", "text.fr"): doc.source_hash("How tired were you?")}
    )


def test_csv_round_trip_keeps_accents_line_breaks_and_defuses_formulas():
    slot = doc.TextSlot("q", "text", {"en": "=1+1 is two?\nSay yes", "fr": "-5 degrés, éé"})
    [french] = tr.status([slot], ["en", "fr"], "en", {})
    text = tr.export_csv(french.entries)
    assert text.startswith("\ufeffpart,field,language")
    assert "'=1+1" in text and "'-5" in text
    rows, errors = tr.parse_csv(text, [slot], ["en", "fr"], "en")
    assert errors == {}
    [row] = rows
    assert (row.part, row.field, row.text) == ("q", "text.fr", "-5 degrés, éé")
    assert row.source_hash == doc.source_hash("=1+1 is two?\nSay yes")


def test_csv_errors_name_the_row_and_what_is_wrong():
    slot = doc.TextSlot("q", "text", {"en": "Hello there", "fr": "Bonjour"})
    good_hash = doc.source_hash("Hello there")
    text = "\n".join(
        [
            ",".join(tr.CSV_COLUMNS),
            f"q,text,fr,Hello there,{good_hash},Salut",
            f"nope,text,fr,Hello,{good_hash},Salut",
            f"q,text,en,Hello,{good_hash},Hi",
            "q,text,fr,Hello,not-a-hash,Salut",
            f"q,text,fr,Hello there,{good_hash},Encore",
            f"q,text,xx,Hello there,{good_hash},Encore",
        ]
    )
    rows, errors = tr.parse_csv(text, [slot], ["en", "fr"], "en")
    assert [r.row for r in rows] == [2]
    assert "no text 'text' in 'nope'" in errors["row 3"][0]
    assert "source language" in errors["row 4"][0]
    assert "source_hash" in errors["row 5"][0]
    assert "same text and language as row 2" in errors["row 6"][0]
    assert "not one of the draft's languages" in errors["row 7"][0]
    _rows, header_errors = tr.parse_csv("a,b\n", [slot], ["en", "fr"], "en")
    assert "expected the columns" in header_errors["row 1"][0]
