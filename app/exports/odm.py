"""CDISC ODM 1.3.2: study metadata (forms, item groups, items, code lists in every language
of each instrument) and clinical data, streamed as XML and valid against the official XSD.

Mapping: an instrument version is a FormDef; each page an ItemGroupDef (plus one for the
response's metadata and one for scores); a multiple-choice item is one boolean ItemDef per
choice (ODM has no multi-select); a participant is a SubjectData, each response a repeat of
the one unscheduled StudyEvent "Responses".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TextIO
from xml.sax.saxutils import escape, quoteattr

from app.exports.model import ExportOptions, Profile, Progress, Record, VersionInfo, utc_iso
from app.instruments.model import Instrument, Item, LocalizedText

NS: Final = "http://www.cdisc.org/ns/odm/v1.3"
EVENT_OID: Final = "SE.RESPONSES"
_DATA_TYPES: Final = {
    "single_choice": "text",
    "rating_0_10": "integer",
    "vas_0_100": "integer",
    "integer": "integer",
    "decimal": "float",
    "yes_no": "boolean",
    "date": "date",
    "time": "time",
    "short_text": "text",
    "long_text": "text",
}
META_ITEMS: Final = (
    ("RESPONSE_ID", "Response id", "text"),
    ("SITE", "Site code", "text"),
    ("RESPONDENT_TYPE", "Who answered", "text"),
    ("LANGUAGE", "Language answered in", "text"),
    ("STARTED_UTC", "Started (UTC)", "datetime"),
    ("FINISHED_UTC", "Finished (UTC)", "datetime"),
)


def _a(value: object) -> str:
    return quoteattr(str(value))


def _translated(out: TextIO, tag: str, text: LocalizedText | str) -> None:
    out.write(f"<{tag}>")
    if isinstance(text, str):
        out.write(f'<TranslatedText xml:lang="en">{escape(text)}</TranslatedText>')
    else:
        for lang, value in text.items():
            out.write(f"<TranslatedText xml:lang={_a(lang)}>{escape(value)}</TranslatedText>")
    out.write(f"</{tag}>\n")


def form_oid(v: VersionInfo) -> str:
    return f"F.{v.stem}"


def _item_oid(v: VersionInfo, item_id: str) -> str:
    return f"I.{v.stem}.{item_id}"


def _exported_items(v: VersionInfo, dropped: set[str]) -> list[Item]:
    return [i for i in v.instrument.items if i.answerable and i.id not in dropped]


def write_header(
    out: TextIO,
    *,
    study_slug: str,
    study_name: str,
    versions: Sequence[VersionInfo],
    dropped: dict[str, list[str]],
    options: ExportOptions,
    created: dt.datetime,
    file_oid: str,
    chorus_version: str,
) -> None:
    moment_type = "partialDatetime" if options.profile is Profile.YEAR else "datetime"
    date_type = "partialDate" if options.profile is Profile.YEAR else "date"
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(
        f'<ODM xmlns="{NS}" ODMVersion="1.3.2" FileType="Snapshot" FileOID={_a(file_oid)} '
        f"CreationDateTime={_a(created.astimezone(dt.UTC).isoformat(timespec='seconds'))} "
        f'Originator="Chorus" SourceSystem="Chorus" SourceSystemVersion={_a(chorus_version)}>\n'
    )
    out.write(f"<Study OID={_a('ST.' + study_slug)}>\n<GlobalVariables>")
    out.write(f"<StudyName>{escape(study_name)}</StudyName>")
    out.write(f"<StudyDescription>{escape(study_name)}</StudyDescription>")
    out.write(f"<ProtocolName>{escape(study_slug)}</ProtocolName></GlobalVariables>\n")
    out.write('<MetaDataVersion OID="MDV.1" Name="Chorus export">\n')
    out.write(f'<Protocol><StudyEventRef StudyEventOID="{EVENT_OID}" Mandatory="No"/></Protocol>\n')
    out.write(
        f'<StudyEventDef OID="{EVENT_OID}" Name="Responses" Repeating="Yes" Type="Unscheduled">'
    )
    for v in versions:
        out.write(f'<FormRef FormOID={_a(form_oid(v))} Mandatory="No"/>')
    out.write("</StudyEventDef>\n")
    for v in versions:
        out.write(f'<FormDef OID={_a(form_oid(v))} Name={_a(v.reference)} Repeating="No">')
        out.write(f'<ItemGroupRef ItemGroupOID={_a(f"IG.{v.stem}.META")} Mandatory="Yes"/>')
        for page in v.instrument.pages:
            out.write(f'<ItemGroupRef ItemGroupOID={_a(f"IG.{v.stem}.{page.id}")} Mandatory="No"/>')
        if v.instrument.scores:
            out.write(f'<ItemGroupRef ItemGroupOID={_a(f"IG.{v.stem}.SCORES")} Mandatory="No"/>')
        out.write("</FormDef>\n")
    for v in versions:
        gone = set(dropped.get(v.stem, []))
        out.write(f'<ItemGroupDef OID={_a(f"IG.{v.stem}.META")} Name="Response" Repeating="No">')
        for oid, _label, _type in META_ITEMS:
            out.write(f'<ItemRef ItemOID={_a(_item_oid(v, oid))} Mandatory="Yes"/>')
        out.write("</ItemGroupDef>\n")
        for page in v.instrument.pages:
            out.write(
                f'<ItemGroupDef OID={_a(f"IG.{v.stem}.{page.id}")} Name={_a(page.id)} Repeating="No">'
            )
            for item in page.items:
                if not item.answerable or item.id in gone:
                    continue
                for oid in _item_oids(v, item):
                    out.write(
                        f"<ItemRef ItemOID={_a(oid)} Mandatory={_a('Yes' if item.required else 'No')}/>"
                    )
            out.write("</ItemGroupDef>\n")
        if v.instrument.scores:
            out.write(
                f'<ItemGroupDef OID={_a(f"IG.{v.stem}.SCORES")} Name="Scores" Repeating="No">'
            )
            for score in v.instrument.scores:
                out.write(
                    f'<ItemRef ItemOID={_a(_item_oid(v, "SCORE." + score.id))} Mandatory="No"/>'
                )
            out.write("</ItemGroupDef>\n")
    for v in versions:
        gone = set(dropped.get(v.stem, []))
        for oid, label, data_type in META_ITEMS:
            kind = moment_type if data_type == "datetime" else data_type
            out.write(f"<ItemDef OID={_a(_item_oid(v, oid))} Name={_a(oid)} DataType={_a(kind)}>")
            _translated(out, "Question", label)
            out.write("</ItemDef>\n")
        for item in _exported_items(v, gone):
            _item_defs(out, v, item, date_type)
        for score in v.instrument.scores:
            out.write(
                f'<ItemDef OID={_a(_item_oid(v, "SCORE." + score.id))} Name={_a(score.id)} DataType="float">'
            )
            _translated(out, "Question", score.label)
            out.write("</ItemDef>\n")
    for v in versions:
        gone = set(dropped.get(v.stem, []))
        for item in _exported_items(v, gone):
            if item.type == "single_choice":
                data_type = (
                    "integer" if all(isinstance(c.value, int) for c in item.choices) else "text"
                )
                out.write(
                    f"<CodeList OID={_a(f'CL.{v.stem}.{item.id}')} Name={_a(item.id)} DataType={_a(data_type)}>\n"
                )
                for choice in item.choices:
                    out.write(f"<CodeListItem CodedValue={_a(choice.value)}>")
                    _translated(out, "Decode", choice.label)
                    out.write("</CodeListItem>\n")
                out.write("</CodeList>\n")
    out.write("</MetaDataVersion>\n</Study>\n")
    out.write(f'<ClinicalData StudyOID={_a("ST." + study_slug)} MetaDataVersionOID="MDV.1">\n')


def _item_oids(v: VersionInfo, item: Item) -> list[str]:
    if item.type == "multiple_choice":
        return [_item_oid(v, f"{item.id}.{c.value}") for c in item.choices]
    return [_item_oid(v, item.id)]


def _question(item: Item) -> LocalizedText:
    return item.text.get("self") or item.text.get("proxy") or {}


def _item_defs(out: TextIO, v: VersionInfo, item: Item, date_type: str) -> None:
    if item.type == "multiple_choice":
        for choice in item.choices:
            out.write(
                f"<ItemDef OID={_a(_item_oid(v, f'{item.id}.{choice.value}'))} "
                f'Name={_a(f"{item.id}.{choice.value}")} DataType="boolean">'
            )
            question = _question(item)
            _translated(
                out,
                "Question",
                {lang: f"{text} [{choice.label.get(lang, '')}]" for lang, text in question.items()},
            )
            out.write("</ItemDef>\n")
        return
    data_type = _DATA_TYPES[item.type]
    if item.type == "date":
        data_type = date_type
    if item.type == "single_choice" and all(isinstance(c.value, int) for c in item.choices):
        data_type = "integer"
    out.write(
        f"<ItemDef OID={_a(_item_oid(v, item.id))} Name={_a(item.id)} DataType={_a(data_type)}>"
    )
    _translated(out, "Question", _question(item))
    if item.type == "single_choice":
        out.write(f"<CodeListRef CodeListOID={_a(f'CL.{v.stem}.{item.id}')}/>")
    out.write("</ItemDef>\n")


def _value(item: Item, value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if item.type == "time" and isinstance(value, str) and len(value) == 5:
        return value + ":00"
    return str(value)


def _moment(value: Any) -> str:
    return utc_iso(value) if isinstance(value, dt.datetime) else str(value)


def write_clinical_data(
    out: TextIO,
    records: Iterable[Record],
    dropped: dict[str, list[str]],
    progress: Progress,
) -> Iterator[None]:
    subject: str | None = None
    repeat = 0
    for record in records:
        if record.participant != subject:
            if subject is not None:
                out.write("</SubjectData>\n")
            subject, repeat = record.participant, 0
            out.write(f"<SubjectData SubjectKey={_a(subject)}>\n")
        repeat += 1
        v = record.version
        out.write(
            f'<StudyEventData StudyEventOID="{EVENT_OID}" StudyEventRepeatKey="{repeat}">'
            f"<FormData FormOID={_a(form_oid(v))}>"
        )
        meta = {
            "RESPONSE_ID": record.response_id,
            "SITE": record.site,
            "RESPONDENT_TYPE": record.respondent_type,
            "LANGUAGE": record.language,
            "STARTED_UTC": _moment(record.started_at),
            "FINISHED_UTC": _moment(record.finished_at),
        }
        out.write(f"<ItemGroupData ItemGroupOID={_a(f'IG.{v.stem}.META')}>")
        for oid, value in meta.items():
            out.write(f"<ItemData ItemOID={_a(_item_oid(v, oid))} Value={_a(value)}/>")
        out.write("</ItemGroupData>")
        gone = set(dropped.get(v.stem, []))
        for page in v.instrument.pages:
            parts = []
            for item in page.items:
                if not item.answerable or item.id in gone or record.answers.get(item.id) is None:
                    continue
                answer = record.answers[item.id]
                if item.type == "multiple_choice":
                    for c in item.choices:
                        oid = _item_oid(v, f"{item.id}.{c.value}")
                        parts.append(
                            f"<ItemData ItemOID={_a(oid)} Value={_a(int(c.value in answer))}/>"
                        )
                else:
                    oid = _item_oid(v, item.id)
                    parts.append(f"<ItemData ItemOID={_a(oid)} Value={_a(_value(item, answer))}/>")
            if parts:
                out.write(f"<ItemGroupData ItemGroupOID={_a(f'IG.{v.stem}.{page.id}')}>")
                out.write("".join(parts))
                out.write("</ItemGroupData>")
        values = [(s.id, (record.scores.get(s.id) or {}).get("value")) for s in v.instrument.scores]
        scored = [(sid, value) for sid, value in values if value is not None]
        if scored:
            out.write(f"<ItemGroupData ItemGroupOID={_a(f'IG.{v.stem}.SCORES')}>")
            for sid, value in scored:
                out.write(
                    f"<ItemData ItemOID={_a(_item_oid(v, 'SCORE.' + sid))} Value={_a(value)}/>"
                )
            out.write("</ItemGroupData>")
        out.write("</FormData></StudyEventData>\n")
        progress.step()
        yield
    if subject is not None:
        out.write("</SubjectData>\n")


def write_footer(out: TextIO) -> None:
    out.write("</ClinicalData>\n</ODM>\n")


__all__ = ["Instrument", "write_clinical_data", "write_footer", "write_header"]
