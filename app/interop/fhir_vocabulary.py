"""The FHIR R4 / SDC names the exporter writes and the importer reads, in one place.

Standard extensions come first (core R4 and the SDC implementation guide). What neither can hold
(per-respondent wording, scores, alerts, the instrument's own metadata, our expression source
text) travels in Chorus extensions under :data:`CHORUS_BASE`; other systems ignore them, and
they let a Chorus export come back as exactly the instrument it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

FHIR_R4_VERSION: Final = "4.0.1"

# -- core R4 and SDC extensions --------------------------------------------------------------
TRANSLATION: Final = "http://hl7.org/fhir/StructureDefinition/translation"
ORDINAL_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT: Final = "http://hl7.org/fhir/StructureDefinition/itemWeight"
OPTION_EXCLUSIVE: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
ITEM_CONTROL: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM: Final = "http://hl7.org/fhir/questionnaire-item-control"
MIN_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/maxValue"
MIN_OCCURS: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs"
MAX_OCCURS: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs"
MAX_DECIMAL_PLACES: Final = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
REGEX: Final = "http://hl7.org/fhir/StructureDefinition/regex"
UNIT: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
SLIDER_STEP: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue"
HIDDEN: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
VARIABLE: Final = "http://hl7.org/fhir/StructureDefinition/variable"
TARGET_CONSTRAINT: Final = "http://hl7.org/fhir/StructureDefinition/targetConstraint"
SDC: Final = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
ENABLE_WHEN_EXPRESSION: Final = SDC + "sdc-questionnaire-enableWhenExpression"
CALCULATED_EXPRESSION: Final = SDC + "sdc-questionnaire-calculatedExpression"
INITIAL_EXPRESSION: Final = SDC + "sdc-questionnaire-initialExpression"
FHIRPATH: Final = "text/fhirpath"

# -- Chorus extensions -----------------------------------------------------------------------
# `.invalid` is reserved (RFC 2606): these URLs name, they do not resolve. One constant, so a
# deployment that owns a domain can change it (old exports then import as foreign files).
CHORUS_BASE: Final = "http://chorus.invalid/fhir/"
CHORUS_QUESTIONNAIRE: Final = CHORUS_BASE + "Questionnaire/"
CHORUS_CONTENT_HASH_SYSTEM: Final = CHORUS_BASE + "content-hash"
CHORUS_EXTENSION: Final = CHORUS_BASE + "StructureDefinition/"
CHORUS_INSTRUMENT: Final = CHORUS_EXTENSION + "instrument"  # metadata FHIR has no field for
CHORUS_PAGE: Final = CHORUS_EXTENSION + "page"  # valueString: the page id of a top-level group
CHORUS_ITEM_TYPE: Final = CHORUS_EXTENSION + "item-type"  # valueCode: rating_0_10, vas_0_100
CHORUS_RESPONDENT_TEXT: Final = CHORUS_EXTENSION + "respondent-text"  # other respondents' words
CHORUS_SHOW_WHEN: Final = CHORUS_EXTENSION + "show-when"  # valueString: our expression source
CHORUS_CONSTRAINT: Final = CHORUS_EXTENSION + "constraint"  # condition source + message
CHORUS_TEXT_VALUE: Final = CHORUS_EXTENSION + "text-value"  # a choice code "7" that is text
CHORUS_SCORE: Final = CHORUS_EXTENSION + "score"
CHORUS_ALERT: Final = CHORUS_EXTENSION + "alert"


def extension(url: str, **value: Any) -> dict[str, Any]:
    """``{"url": url, "valueX": ...}``; ``extension(url, extension=[...])`` for a complex one."""
    return {"url": url, **value}


def translation_entry(language: str, text: str) -> dict[str, Any]:
    return extension(
        TRANSLATION,
        extension=[extension("lang", valueCode=language), extension("content", valueString=text)],
    )


def translations(text: Mapping[str, str], default_language: str) -> dict[str, Any] | None:
    """The ``_field`` element carrying every non-default language with the translation extension."""
    others = [
        translation_entry(language, value)
        for language, value in text.items()
        if language != default_language
    ]
    return {"extension": others} if others else None


def extensions_named(element: Mapping[str, Any] | None, url: str) -> list[dict[str, Any]]:
    if not isinstance(element, Mapping):
        return []
    found = element.get("extension")
    if not isinstance(found, list):
        return []
    return [entry for entry in found if isinstance(entry, dict) and entry.get("url") == url]


def extension_value(element: Mapping[str, Any] | None, url: str) -> Any:
    """The ``value[x]`` of the first extension with ``url`` (None if there is none)."""
    for entry in extensions_named(element, url):
        for key, value in entry.items():
            if key.startswith("value"):
                return value
    return None


def read_translations(element: Mapping[str, Any] | None) -> dict[str, str]:
    """language → text from the translation extensions on a ``_field`` element."""
    texts: dict[str, str] = {}
    for entry in extensions_named(element, TRANSLATION):
        language = extension_value(entry, "lang")
        content = extension_value(entry, "content")
        if isinstance(language, str) and isinstance(content, str) and content.strip():
            texts[language] = content
    return texts
