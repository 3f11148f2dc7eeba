"""One streamed ZIP from records: the formats in order, then manifest.json.

``stream_export`` is a generator of bytes: rows are pulled from the record source (a database
cursor through the decrypt function, in the service), written into the ZIP entry being
produced, and handed on in chunks as soon as they exist. ``zipfile`` writes to a non-seekable
stream with data descriptors, so nothing is ever rewound and memory stays flat; only .sav and
.dta files are held whole (in a memory-backed file) for one instrument version at a time.

ZIP entries are sequential, but each response is opened once for every format that takes rows
(wide and long CSV, .sav/.dta, FHIR): what must wait for its ZIP entry waits in a
``crypto.EphemeralSpill`` (ciphertext on disk under a key only this export holds). ODM, ordered
by participant, reads the responses a second time. Every pass reports to one ``Progress``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, cast

from app import crypto
from app.exports import codebook, csv_format, fhir, native, odm, syntax
from app.exports.columns import Column, wide_columns
from app.exports.deid import dropped_items
from app.exports.model import ExportOptions, Progress, RecordSource, VersionInfo

CHUNK: Final = 1 << 16
# Deflate level 3: on CSV a third of level 6's CPU time (the default, which took about as long
# as formatting the wide rows) for a ZIP about 15 % larger.
DEFLATE_LEVEL: Final = 3
SYNTAX: Final = {
    "spss": ("sps", syntax.spss),
    "stata": ("do", syntax.stata),
    "r": ("R", syntax.r),
    "sas": ("sas", syntax.sas),
}
PROFILE_TEXT: Final = {
    "none": "Identified: participant codes, exact dates and free text as stored.",
    "shifted": "Participant and caregiver references are keyed pseudonyms; each participant's "
    "dates are moved back by a stable 0-364 days (intervals within a participant preserved); "
    "free-text answers dropped.",
    "year": "Participant and caregiver references are keyed pseudonyms; dates coarsened to "
    "the year; free-text answers dropped.",
}


class _Sink:
    """The non-seekable stream zipfile writes to; the engine drains it into the output."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return out


class _Hashing(io.RawIOBase):
    """Passes bytes into a ZIP entry, counting and hashing them for the manifest."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.length = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self.sha256.update(raw)
        self.length += len(raw)
        self._target.write(raw)
        return len(raw)


@dataclass(frozen=True)
class StudyInfo:
    id: int
    slug: str
    name: str


@dataclass
class ExportResult:
    """Filled in as the ZIP is written; complete when the generator is exhausted."""

    files: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    manifest_sha256: str = ""
    zip_bytes: int = 0


class _Bundle:
    def __init__(self, when: dt.datetime, result: ExportResult) -> None:
        self.sink = _Sink()
        self.zip = zipfile.ZipFile(
            cast(Any, self.sink),
            "w",
            compression=zipfile.ZIP_DEFLATED,
            compresslevel=DEFLATE_LEVEL,
        )
        self._stamp = when.astimezone(dt.UTC).timetuple()[:6]
        self.result = result

    @contextmanager
    def binary(self, name: str) -> Iterator[_Hashing]:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = DEFLATE_LEVEL  # type: ignore[attr-defined]  # zipfile's own field
        info.external_attr = 0o644 << 16
        with self.zip.open(info, "w", force_zip64=True) as entry:
            hashing = _Hashing(entry)
            yield hashing
        self.result.files.append(
            {"path": name, "bytes": hashing.length, "sha256": hashing.sha256.hexdigest()}
        )

    @contextmanager
    def text(self, name: str, bom: bool = False) -> Iterator[io.TextIOWrapper]:
        with self.binary(name) as raw:
            text = io.TextIOWrapper(
                io.BufferedWriter(raw, CHUNK), encoding="utf-8-sig" if bom else "utf-8", newline=""
            )
            yield text
            text.flush()
            text.detach()

    def ready(self) -> bytes | None:
        return self.sink.drain() if self.sink.size >= CHUNK else None

    def close(self) -> bytes:
        self.zip.close()
        return self.sink.drain()


def passes(options: ExportOptions, versions: Sequence[VersionInfo]) -> int:
    """How many times the records are read: progress counts each response once per pass.
    CSV, native files and FHIR share one pass; ODM (ordered by participant) has its own."""
    formats = options.effective_formats
    shared = bool(formats & {"csv", "spss", "stata", "fhir"})
    return int(shared) + int("odm" in formats)


def _spill_text(spill: crypto.EphemeralSpill, bom: bool) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.BufferedWriter(_Hashing(spill), CHUNK),
        encoding="utf-8-sig" if bom else "utf-8",
        newline="",
    )


def _copy(chunks: Iterator[bytes], entry: Any) -> Iterator[None]:
    for chunk in chunks:
        entry.write(chunk)
        yield


def stream_export(**arguments: Any) -> Iterator[bytes]:
    """The ZIP of :func:`_stream`; its spills are closed however it ends (an error, or a
    receiver that stopped reading), not left to the garbage collector."""
    spills: list[crypto.EphemeralSpill] = []
    try:
        yield from _stream(spills=spills, **arguments)
    finally:
        for spill in spills:
            spill.close()


def _stream(
    *,
    spills: list[crypto.EphemeralSpill],
    study: StudyInfo,
    versions: Sequence[VersionInfo],
    options: ExportOptions,
    source: RecordSource,
    counts: dict[str, int],
    parameters: dict[str, Any],
    progress: Progress,
    result: ExportResult,
    now: dt.datetime,
    chorus_version: str,
    export_id: str,
) -> Iterator[bytes]:
    bundle = _Bundle(now, result)
    formats = options.effective_formats
    total = sum(counts.values())
    progress.total = total * passes(options, versions)
    dropped = {v.stem: dropped_items(v.instrument, options.profile) for v in versions}
    tables: list[tuple[VersionInfo, str, list[Column]]] = [
        (v, f"data/{v.stem}.csv", wide_columns(v, options)) for v in versions
    ]

    def drained() -> Iterator[bytes]:
        chunk = bundle.ready()
        if chunk:
            yield chunk

    def run(steps: Iterator[None]) -> Iterator[bytes]:
        for _ in steps:
            yield from drained()

    # One pass per instrument version feeds every format that takes rows: the wide CSV is
    # written straight into the ZIP; long.csv rows and FHIR resources wait in encrypted
    # spills (their ZIP entries come later); .sav/.dta rows collect in memory per version.
    csv_on = "csv" in formats
    native_on = bool(formats & {"spss", "stata"})
    long_spill = crypto.EphemeralSpill() if csv_on else None
    fhir_spill = crypto.EphemeralSpill() if "fhir" in formats else None
    spills.extend(spill for spill in (long_spill, fhir_spill) if spill is not None)
    long_out = _spill_text(long_spill, options.bom) if long_spill else None
    fhir_out = _spill_text(fhir_spill, False) if fhir_spill else None
    long_csv = csv_format.writer(long_out, options) if long_out else None
    if long_csv is not None:
        long_csv.writerow(csv_format.LONG_HEADER)
    fhir_count = 0
    if csv_on or native_on or fhir_out is not None:
        for version, path, columns in tables:
            table = (
                native.NativeTable(columns, f"{study.slug} {version.reference}")
                if native_on
                else None
            )
            wide_row = csv_format.wide_row_function(columns, options)
            long_rows = csv_format.long_rows_function(version, options)
            with ExitStack() as stack:
                wide = None
                if csv_on:
                    wide = csv_format.writer(
                        stack.enter_context(bundle.text(path, options.bom)), options
                    )
                    wide.writerow([c.name for c in columns])
                for record in source([version.stem], "time"):
                    if wide is not None and long_csv is not None:
                        wide.writerow(wide_row(record))
                        long_csv.writerows(long_rows(record))
                    if table is not None:
                        table.add(record)
                    if fhir_out is not None:
                        fhir_out.write(fhir.response_line(record, study.slug))
                        fhir_count += 1
                    progress.step()
                    yield from drained()
            if table is not None:
                for fmt, extension, write in (
                    ("spss", "sav", table.write_sav),
                    ("stata", "dta", table.write_dta),
                ):
                    if fmt not in formats:
                        continue
                    with native.memory_file() as (fd, memory_path):
                        write(memory_path)
                        with bundle.binary(f"native/{version.stem}.{extension}") as entry:
                            yield from run(native.copy_fd(fd, entry))
                del table
    if long_spill is not None and long_out is not None:
        long_out.flush()
        with bundle.binary("data/long.csv") as entry:
            yield from run(_copy(long_spill.chunks(), entry))

    codebook_rows = codebook.rows(tables, include_long=csv_on)
    with bundle.text("codebook.csv", options.bom) as out:
        codebook.write_csv(out, codebook_rows, options)
    with bundle.text("codebook.html") as out:
        codebook.write_html(
            out,
            codebook_rows,
            study.name,
            {
                "Study": study.slug,
                "Exported at (UTC)": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
                "De-identification": PROFILE_TEXT[options.profile.value],
                "Values": "codes" if options.labels == "codes" else "labels",
            },
        )
    yield from drained()

    for fmt, (extension, make) in SYNTAX.items():
        if fmt in formats:
            for version, path, columns in tables:
                with bundle.text(f"syntax/{version.stem}.{extension}") as out:
                    out.write(make(version, path, columns, options))
    yield from drained()

    if fhir_spill is not None and fhir_out is not None:
        fhir_out.flush()
        outputs = []
        with bundle.text("fhir/Questionnaire.ndjson") as out:
            outputs.append(
                ("Questionnaire", "Questionnaire.ndjson", fhir.write_questionnaires(out, versions))
            )
        with bundle.binary("fhir/QuestionnaireResponse.ndjson") as entry:
            yield from run(_copy(fhir_spill.chunks(), entry))
        outputs.append(("QuestionnaireResponse", "QuestionnaireResponse.ndjson", fhir_count))
        with bundle.text("fhir/manifest.json") as out:
            json.dump(fhir.bulk_manifest(now, f"chorus export {export_id}", outputs), out, indent=2)

    if "odm" in formats:
        with bundle.text("odm/study.xml") as out:
            odm.write_header(
                out,
                study_slug=study.slug,
                study_name=study.name,
                versions=versions,
                dropped=dropped,
                options=options,
                created=now,
                file_oid=f"chorus.{study.slug}.{export_id}",
                chorus_version=chorus_version,
            )
            yield from run(
                odm.write_clinical_data(out, source(None, "participant"), dropped, progress)
            )
            odm.write_footer(out)

    manifest = {
        "export_id": export_id,
        "chorus_version": chorus_version,
        "exported_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "study": {"slug": study.slug, "name": study.name},
        "parameters": parameters,
        "deidentification": {
            "profile": options.profile.value,
            "description": PROFILE_TEXT[options.profile.value],
            "dropped_items": {stem: items for stem, items in dropped.items() if items},
        },
        "instruments": [
            {
                "instrument": v.key,
                "version": v.version,
                "content_hash": v.content_hash,
                "responses": counts.get(v.stem, 0),
            }
            for v in versions
        ],
        "counts": {"responses": total},
        "files": list(result.files),
    }
    raw = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    with bundle.binary("manifest.json") as entry:
        entry.write(raw)
    result.manifest = manifest
    result.manifest_sha256 = hashlib.sha256(raw).hexdigest()
    tail = bundle.close()
    progress.finished = True
    if tail:
        yield tail
