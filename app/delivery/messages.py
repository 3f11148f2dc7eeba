"""Reminder and alert wording, kind and plain, in the person's language.

No health information ever: no answers, scores, diagnoses, condition or medicine names. A
caregiver's message names the child only by the nickname the family chose; a staff notice
says only that a response in a study at a site needs attention (and, if asked, the
pseudonymous participant code), so a lock screen or a forwarded e-mail reveals nothing.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from app.delivery._net import is_loopback_host

__all__ = [
    "DEFAULT_LANGUAGE",
    "SUPPORTED_LANGUAGES",
    "Notice",
    "NoticeKind",
    "caregiver_reminder",
    "participant_reminder",
    "push_payload",
    "resolve_language",
    "staff_alert_notice",
]

NoticeKind = Literal["reminder", "alert"]
DEFAULT_LANGUAGE: Final = "en"
_MAX_LABEL = 40


@dataclass(frozen=True)
class _Wording:
    greeting: str
    waiting: str  # participant, about themselves
    waiting_for: str  # caregiver, about {name}
    subject: str
    subject_for: str
    open: str
    settings: str
    alert: str  # {study}, {site}
    sign_in: str
    alert_subject: str
    code: str  # {code}


# Each sentence was written for its language, not word-for-word; keep them short and warm.
_WORDING: Final[dict[str, _Wording]] = {
    "en": _Wording(
        greeting="Hello,",
        waiting="You have a short questionnaire waiting in Chorus.",
        waiting_for="You have a short questionnaire waiting in Chorus for {name}.",
        subject="A short questionnaire is waiting for you",
        subject_for="A short questionnaire for {name}",
        open="Open",
        settings="Thank you for taking part. You can choose when reminders come in the app's settings.",
        alert="A response in study {study} at site {site} needs your attention.",
        sign_in="Sign in to see it",
        alert_subject="A response needs your attention",
        code="Participant code: {code}",
    ),
    "fr": _Wording(
        greeting="Bonjour,",
        waiting="Un court questionnaire vous attend dans Chorus.",
        waiting_for="Un court questionnaire pour {name} vous attend dans Chorus.",
        subject="Un court questionnaire vous attend",
        subject_for="Un court questionnaire pour {name}",
        open="Ouvrir",
        settings="Merci de votre participation. Vous pouvez choisir quand recevoir les rappels dans les réglages de l'application.",
        alert="Une réponse dans l'étude {study} sur le site {site} demande votre attention.",
        sign_in="Connectez-vous pour la voir",
        alert_subject="Une réponse demande votre attention",
        code="Code participant : {code}",
    ),
    "es": _Wording(
        greeting="Hola:",
        waiting="Tiene un breve cuestionario esperándole en Chorus.",
        waiting_for="Tiene un breve cuestionario para {name} esperándole en Chorus.",
        subject="Tiene un breve cuestionario pendiente",
        subject_for="Un breve cuestionario para {name}",
        open="Abrir",
        settings="Gracias por participar. Puede elegir cuándo recibir los recordatorios en los ajustes de la aplicación.",
        alert="Una respuesta en el estudio {study} del centro {site} requiere su atención.",
        sign_in="Inicie sesión para verla",
        alert_subject="Una respuesta requiere su atención",
        code="Código de participante: {code}",
    ),
    "de": _Wording(
        greeting="Hallo,",
        waiting="In Chorus wartet ein kurzer Fragebogen auf Sie.",
        waiting_for="In Chorus wartet ein kurzer Fragebogen für {name} auf Sie.",
        subject="Ein kurzer Fragebogen wartet auf Sie",
        subject_for="Ein kurzer Fragebogen für {name}",
        open="Öffnen",
        settings="Vielen Dank für Ihre Teilnahme. In den Einstellungen der App legen Sie fest, wann Erinnerungen kommen.",
        alert="Eine Antwort in der Studie {study} am Standort {site} braucht Ihre Aufmerksamkeit.",
        sign_in="Melden Sie sich an, um sie zu sehen",
        alert_subject="Eine Antwort braucht Ihre Aufmerksamkeit",
        code="Teilnehmercode: {code}",
    ),
    "it": _Wording(
        greeting="Buongiorno,",
        waiting="Un breve questionario la aspetta in Chorus.",
        waiting_for="Un breve questionario per {name} la aspetta in Chorus.",
        subject="Un breve questionario la aspetta",
        subject_for="Un breve questionario per {name}",
        open="Apri",
        settings="Grazie per la sua partecipazione. Può scegliere quando ricevere i promemoria nelle impostazioni dell'app.",
        alert="Una risposta nello studio {study} presso il centro {site} richiede la sua attenzione.",
        sign_in="Acceda per vederla",
        alert_subject="Una risposta richiede la sua attenzione",
        code="Codice partecipante: {code}",
    ),
    "pt": _Wording(
        greeting="Olá,",
        waiting="Tem um breve questionário à sua espera no Chorus.",
        waiting_for="Tem um breve questionário para {name} à sua espera no Chorus.",
        subject="Um breve questionário está à sua espera",
        subject_for="Um breve questionário para {name}",
        open="Abrir",
        settings="Obrigado por participar. Pode escolher quando recebe lembretes nas definições da aplicação.",
        alert="Uma resposta no estudo {study} no centro {site} precisa da sua atenção.",
        sign_in="Inicie sessão para a ver",
        alert_subject="Uma resposta precisa da sua atenção",
        code="Código do participante: {code}",
    ),
    # Modern Standard Arabic, addressing the reader in the masculine-default polite form that
    # health services use; the HTML e-mail is marked right to left.
    "ar": _Wording(
        greeting="مرحبًا،",
        waiting="لديك استبيان قصير في انتظارك في تطبيق Chorus.",
        waiting_for="لديك استبيان قصير عن {name} في انتظارك في تطبيق Chorus.",
        subject="استبيان قصير في انتظارك",
        subject_for="استبيان قصير عن {name}",
        open="افتح",
        settings="شكرًا لمشاركتك. يمكنك اختيار أوقات وصول التذكيرات من إعدادات التطبيق.",
        alert="إجابة في الدراسة {study} في الموقع {site} تحتاج إلى اهتمامك.",
        sign_in="سجّل الدخول لرؤيتها",
        alert_subject="إجابة تحتاج إلى اهتمامك",
        code="رمز المشارك: {code}",
    ),
}
SUPPORTED_LANGUAGES: Final = frozenset(_WORDING)
_RIGHT_TO_LEFT: Final = frozenset({"ar"})


@dataclass(frozen=True)
class Notice:
    """One rendered message: e-mail subject/text/html and the short push title/body."""

    kind: NoticeKind
    language: str
    link: str
    subject: str
    title: str
    body: str
    text: str
    html: str


def resolve_language(tag: str | None) -> str:
    """``"fr-CA"`` → ``"fr"``; anything unsupported or empty → English."""
    primary = (tag or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in _WORDING else DEFAULT_LANGUAGE


def _label(value: str, what: str) -> str:
    """A short single-line label (nickname, study or site code) safe in a subject line."""
    # Control and format characters (newlines, bidi overrides) are refused, not cleaned:
    # they have no place in a name and would let a label rewrite the text around it.
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError(f"{what} contains control characters")
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise ValueError(f"{what} is empty")
    if len(text) > _MAX_LABEL:
        raise ValueError(f"{what} is longer than {_MAX_LABEL} characters")
    return text


def _check_link(link: str) -> str:
    parts = urlsplit(link)
    ok_scheme = parts.scheme == "https" or (
        parts.scheme == "http" and is_loopback_host(parts.hostname or "")
    )
    if not ok_scheme or not parts.hostname or re.search(r"\s", link):
        raise ValueError("link must be an absolute https URL (http only for localhost)")
    return link


def _render(
    kind: NoticeKind,
    language: str,
    link: str,
    *,
    subject: str,
    lead: str,
    action: str,
    closing: str | None,
    greeting: str,
) -> Notice:
    lines = [greeting, "", f"{lead} {action}: {link}"]
    if closing:
        lines += ["", closing]
    text = "\n".join(lines) + "\n"
    e = html.escape
    direction = ' dir="rtl"' if language in _RIGHT_TO_LEFT else ""
    closing_html = f"<p>{e(closing)}</p>" if closing else ""
    body_html = (
        f'<!doctype html><html lang="{e(language)}"{direction}><body>'
        f"<p>{e(greeting)}</p>"
        f'<p>{e(lead)} <a href="{e(link, quote=True)}">{e(action)}</a></p>'
        f"{closing_html}</body></html>\n"
    )
    return Notice(
        kind=kind,
        language=language,
        link=link,
        subject=subject,
        title="Chorus",
        body=lead,
        text=text,
        html=body_html,
    )


# The same few notices (one per language and link) for every participant: a scheduler tick
# renders each once instead of once per reminder. Notices are immutable.
@functools.lru_cache(maxsize=256)
def participant_reminder(language: str | None, link: str) -> Notice:
    """ "You have a short questionnaire waiting in Chorus. Open: <link>"."""
    lang = resolve_language(language)
    w = _WORDING[lang]
    return _render(
        "reminder",
        lang,
        _check_link(link),
        subject=w.subject,
        lead=w.waiting,
        action=w.open,
        closing=w.settings,
        greeting=w.greeting,
    )


def caregiver_reminder(language: str | None, link: str, *, nickname: str) -> Notice:
    """The caregiver's reminder, naming the child by the nickname the family chose.

    Pass the nickname only — never a diagnosis, full name or anything the family did not pick
    for this purpose.
    """
    lang = resolve_language(language)
    w = _WORDING[lang]
    name = _label(nickname, "nickname")
    return _render(
        "reminder",
        lang,
        _check_link(link),
        subject=w.subject_for.format(name=name),
        lead=w.waiting_for.format(name=name),
        action=w.open,
        closing=w.settings,
        greeting=w.greeting,
    )


def staff_alert_notice(
    language: str | None,
    link: str,
    *,
    study: str,
    site: str,
    participant_code: str | None = None,
) -> Notice:
    """Tell site staff that a response needs attention, and nothing about what it says.

    ``study`` and ``site`` should be short codes (slug, site code), not descriptive titles
    that may name a condition. ``participant_code`` is the pseudonymous code, if wanted.
    """
    lang = resolve_language(language)
    w = _WORDING[lang]
    lead = w.alert.format(study=_label(study, "study"), site=_label(site, "site"))
    closing = (
        w.code.format(code=_label(participant_code, "participant code"))
        if participant_code is not None
        else None
    )
    return _render(
        "alert",
        lang,
        _check_link(link),
        subject=w.alert_subject,
        lead=lead,
        action=w.sign_in,
        closing=closing,
        greeting=w.greeting,
    )


def push_payload(notice: Notice, *, tag: str) -> dict[str, str]:
    """The JSON object the service worker shows: title, body, link to open, and a ``tag`` so
    a newer notice for the same thing (e.g. one occurrence) replaces the older one."""
    return {
        "v": "1",
        "kind": notice.kind,
        "lang": notice.language,
        "title": notice.title,
        "body": notice.body,
        "url": notice.link,
        "tag": _label(tag, "tag"),
    }
