"""Who may open which staff page: the workspace's access matrix as data (issue #13).

Written like the API's matrix (tests/support/access_matrix.py on h/sec) so the two can be
folded together: plain tables here, one small runner in tests/workspace/test_access_matrix.py.

Targets: ``lyon`` (study "fatigue", participant LYON-0001), ``leeds`` (the same study's other
site, LEEDS-0001), ``other`` (study "other", OSLO-0001). Roles are the staff in
tests/workspace/world.py. A (role, target) pair not listed for a page must get 403 or 404.
"""

from __future__ import annotations

TARGETS = ("lyon", "leeds", "other")
ROLES = ("admin", "coord_lyon", "dm", "dm_lyon", "author", "other_admin")

_EVERYWHERE = {"lyon", "leeds"}
_LYON = {"lyon"}

# Pages about the study as a whole (no participant in the URL): the target picks the study.
STUDY_MEMBERS = {
    "admin": _EVERYWHERE,
    "coord_lyon": _EVERYWHERE,
    "dm": _EVERYWHERE,
    "dm_lyon": _EVERYWHERE,
    "author": _EVERYWHERE,
    "other_admin": {"other"},
}
SEES_PARTICIPANTS = {
    "admin": _EVERYWHERE,
    "coord_lyon": _EVERYWHERE,
    "dm": _EVERYWHERE,
    "dm_lyon": _EVERYWHERE,
    "other_admin": {"other"},
}
MANAGES_SOMEWHERE = {"admin": _EVERYWHERE, "coord_lyon": _EVERYWHERE, "other_admin": {"other"}}
SEES_ALERTS = {"admin": _EVERYWHERE, "coord_lyon": _EVERYWHERE, "other_admin": {"other"}}
HOLDS_KEY = {"admin": _EVERYWHERE, "dm": _EVERYWHERE, "other_admin": {"other"}}
POSTS_NEWS_SOMEWHERE = MANAGES_SOMEWHERE
MANAGES_STUDY = {"admin": _EVERYWHERE, "other_admin": {"other"}}
VIEWS_AUDIT = {"admin": _EVERYWHERE, "dm": _EVERYWHERE, "other_admin": {"other"}}

# Pages about one participant: the target is the participant, so site scope shows.
VIEWS_PARTICIPANT = {
    "admin": _EVERYWHERE,
    "coord_lyon": _LYON,
    "dm": _EVERYWHERE,
    "dm_lyon": _LYON,
    "other_admin": {"other"},
}
MANAGES_PARTICIPANT = {"admin": _EVERYWHERE, "coord_lyon": _LYON, "other_admin": {"other"}}
ACKNOWLEDGES_ALERT = {"admin": _EVERYWHERE, "coord_lyon": _LYON, "other_admin": {"other"}}
# News posted for one site (the target's): withdrawing needs news rights at that site.
WITHDRAWS_SITE_NEWS = ACKNOWLEDGES_ALERT

# Dataset exports (issue #14): whoever may export de-identified data at one site or more; one
# export's progress only for those who may export every site it holds (the target's export).
EXPORTS_SOMEWHERE = SEES_PARTICIPANTS
FOLLOWS_SITE_EXPORT = VIEWS_PARTICIPANT

# (method, rule) -> who gets the page. Every /staff/studies/ route needs an entry: a new page
# without one fails tests/workspace/test_access_matrix.py.
ALLOWED: dict[tuple[str, str], dict[str, set[str]]] = {
    ("GET", "/staff/studies/<slug>/"): STUDY_MEMBERS,
    ("GET", "/staff/studies/<slug>/participants/"): SEES_PARTICIPANTS,
    ("GET", "/staff/studies/<slug>/adherence/"): SEES_PARTICIPANTS,
    ("GET", "/staff/studies/<slug>/adherence.csv"): SEES_PARTICIPANTS,
    ("GET", "/staff/studies/<slug>/adherence/weekly"): SEES_PARTICIPANTS,
    ("GET", "/staff/studies/<slug>/alerts/"): SEES_ALERTS,
    ("GET", "/staff/studies/<slug>/alerts/count.json"): SEES_ALERTS,
    ("GET", "/staff/studies/<slug>/keys/"): HOLDS_KEY,
    ("POST", "/staff/studies/<slug>/keys/"): HOLDS_KEY,
    ("GET", "/staff/studies/<slug>/participants/new"): MANAGES_SOMEWHERE,
    ("POST", "/staff/studies/<slug>/participants/new"): MANAGES_SOMEWHERE,
    ("GET", "/staff/studies/<slug>/participants/<code>"): VIEWS_PARTICIPANT,
    ("POST", "/staff/studies/<slug>/alerts/<int:alert_id>/acknowledge"): ACKNOWLEDGES_ALERT,
    ("GET", "/staff/studies/<slug>/schedules/"): STUDY_MEMBERS,
    ("GET", "/staff/studies/<slug>/schedules/<int:schedule_id>/retire"): MANAGES_STUDY,
    ("POST", "/staff/studies/<slug>/schedules/<int:schedule_id>/retire"): MANAGES_STUDY,
    ("GET", "/staff/studies/<slug>/news/"): STUDY_MEMBERS,
    ("POST", "/staff/studies/<slug>/news/"): POSTS_NEWS_SOMEWHERE,
    ("POST", "/staff/studies/<slug>/news/<int:post_id>/withdraw"): WITHDRAWS_SITE_NEWS,
    ("GET", "/staff/studies/<slug>/audit/"): VIEWS_AUDIT,
    ("POST", "/staff/studies/<slug>/keys/holders"): HOLDS_KEY,
    ("POST", "/staff/studies/<slug>/keys/holders/<int:holder_id>/remove"): HOLDS_KEY,
    ("GET", "/staff/studies/<slug>/staff/"): MANAGES_STUDY,
    ("POST", "/staff/studies/<slug>/staff/"): MANAGES_STUDY,
    ("POST", "/staff/studies/<slug>/staff/<int:membership_id>/end"): MANAGES_STUDY,
    ("GET", "/staff/studies/<slug>/exports/"): EXPORTS_SOMEWHERE,
    ("POST", "/staff/studies/<slug>/exports/"): EXPORTS_SOMEWHERE,
    ("GET", "/staff/studies/<slug>/exports/history"): EXPORTS_SOMEWHERE,
    ("GET", "/staff/studies/<slug>/exports/<export_id>/progress.json"): FOLLOWS_SITE_EXPORT,
}
for _rule in (
    "/staff/studies/<slug>/participants/<code>/invite",
    "/staff/studies/<slug>/participants/<code>/pause",
    "/staff/studies/<slug>/participants/<code>/withdraw",
    "/staff/studies/<slug>/participants/<code>/caregivers/new",
    "/staff/studies/<slug>/participants/<code>/caregivers/<int:caregiver_id>/invite",
):
    ALLOWED[("GET", _rule)] = MANAGES_PARTICIPANT
    ALLOWED[("POST", _rule)] = MANAGES_PARTICIPANT
for _rule in (
    "/staff/studies/<slug>/participants/<code>/invitations/revoke",
    "/staff/studies/<slug>/participants/<code>/resume",
    "/staff/studies/<slug>/participants/<code>/caregivers/<int:caregiver_id>/unlink",
    "/staff/studies/<slug>/participants/<code>/devices/<int:device_id>/revoke",
    "/staff/studies/<slug>/participants/<code>/timetable/pauses/<int:pause_id>/cancel",
    "/staff/studies/<slug>/participants/<code>/timetable/pauses",
    "/staff/studies/<slug>/participants/<code>/timetable/quiet-hours",
):
    ALLOWED[("POST", _rule)] = MANAGES_PARTICIPANT

# Alerts resolved with an outcome and a note; a schedule added from a participant's page (it
# applies at every site: study-wide managers only); their reminder windows (#13).
for _method in ("GET", "POST"):
    ALLOWED[(_method, "/staff/studies/<slug>/alerts/<int:alert_id>/resolve")] = ACKNOWLEDGES_ALERT
    ALLOWED[(_method, "/staff/studies/<slug>/participants/<code>/schedules/new")] = MANAGES_STUDY
    ALLOWED[(_method, "/staff/studies/<slug>/participants/<code>/timetable/windows")] = (
        MANAGES_PARTICIPANT
    )

# Staff routes outside a study, and why they are not in the matrix.
OUTSIDE_A_STUDY = {
    "/staff/login": "the sign-in form, open to everyone",
    "/staff/logout": "ends the caller's own session",
    "/staff/": "lists only the caller's own studies",
    "/staff/go": "redirects to a study the caller belongs to (404 otherwise; tested apart)",
    "/staff/language": "sets the caller's display language",
    "/staff/account/authenticator": "the caller's own second factor",
    "/staff/account/": "the caller's own language and time zone",
    "/staff/account/password": "the caller's own password",
    "/staff/account/welcome/<token>": "an invitation link, opened signed out",
}

# What each target fills into a URL.
TARGET_VALUES = {
    "lyon": {"slug": "fatigue", "code": "LYON-0001"},
    "leeds": {"slug": "fatigue", "code": "LEEDS-0001"},
    "other": {"slug": "other", "code": "OSLO-0001"},
}


def allowed(method: str, rule: str, role: str, target: str) -> bool:
    return target in ALLOWED[(method, rule)].get(role, set())


# -- co-design pages (issue #15) --------------------------------------------------------------
# Co-designers hold AUTHOR_INSTRUMENTS or APPROVE_INSTRUMENTS (patient-group authors, site
# coordinators, admins); data managers take no part. Authors write; the draft's owner (the
# world's patient-group author; the other study's admin) decides on suggestions.
CO_DESIGNERS = {
    "admin": _EVERYWHERE,
    "coord_lyon": _EVERYWHERE,
    "author": _EVERYWHERE,
    "other_admin": {"other"},
}
AUTHORS = {"admin": _EVERYWHERE, "author": _EVERYWHERE, "other_admin": {"other"}}
DRAFT_OWNER = {"author": _EVERYWHERE, "other_admin": {"other"}}
_INSTRUMENTS = "/staff/studies/<slug>/instruments"
_DRAFT = _INSTRUMENTS + "/drafts/<int:draft_id>"
for _rule in (
    _INSTRUMENTS + "/",
    _INSTRUMENTS + "/diff",
    _INSTRUMENTS + "/feedback",
    _INSTRUMENTS + "/preview-app/",
    _INSTRUMENTS + "/versions/<int:version_id>/download",
    _DRAFT + "/",
    _DRAFT + "/items/<part>",
    _DRAFT + "/check.json",
    _DRAFT + "/translations",
    _DRAFT + "/translations.csv",
    _DRAFT + "/readability",
    _DRAFT + "/preview",
    _DRAFT + "/preview.json",
    _DRAFT + "/publish",
    _DRAFT + "/download",
):
    ALLOWED[("GET", _rule)] = CO_DESIGNERS
for _rule in (
    _DRAFT + "/comments",
    _DRAFT + "/comments/<int:comment_id>/resolve",
    _DRAFT + "/items/<part>/suggestions",
    _DRAFT + "/approve",
    _DRAFT + "/request-changes",
    _DRAFT + "/publish",
):
    ALLOWED[("POST", _rule)] = CO_DESIGNERS
for _rule in (
    _INSTRUMENTS + "/new",
    _INSTRUMENTS + "/from-published",
    _INSTRUMENTS + "/upload",
    _DRAFT + "/items",
    _DRAFT + "/items/<part>",
    _DRAFT + "/submit",
    _DRAFT + "/translations",
    _DRAFT + "/translations/confirm",
):
    ALLOWED[("POST", _rule)] = AUTHORS
ALLOWED[("POST", _DRAFT + "/suggestions/<int:suggestion_id>")] = DRAFT_OWNER
for _values in TARGET_VALUES.values():
    _values["part"] = "fatigue"  # an item of the world's diary drafts
ALLOWED[("GET", _DRAFT + "/settings")] = CO_DESIGNERS
ALLOWED[("POST", _DRAFT + "/settings")] = AUTHORS
# The study team (APPROVE_INSTRUMENTS) sets the readability target.
ALLOWED[("POST", _DRAFT + "/readability")] = {
    "admin": _EVERYWHERE,
    "coord_lyon": _EVERYWHERE,
    "other_admin": {"other"},
}
ALLOWED[("GET", _DRAFT + "/items/<part>/remove")] = AUTHORS
ALLOWED[("POST", _DRAFT + "/items/<part>/remove")] = AUTHORS
# Moving questions, answer options and shared answer lists, XLIFF for translators.
for _values in TARGET_VALUES.values():
    _values["name"] = "sleep"  # the diary's shared answer list
ALLOWED[("GET", _DRAFT + "/items/<part>/move")] = AUTHORS
ALLOWED[("POST", _DRAFT + "/items/<part>/move")] = AUTHORS
ALLOWED[("POST", _DRAFT + "/items/<part>/options")] = AUTHORS
ALLOWED[("GET", _DRAFT + "/choice-sets/<name>")] = CO_DESIGNERS
ALLOWED[("POST", _DRAFT + "/choice-sets/<name>")] = AUTHORS
ALLOWED[("POST", _DRAFT + "/choice-sets/<name>/options")] = AUTHORS
# Reordering and removing answer options.
for _values in TARGET_VALUES.values():
    _values["index"] = "0"
    _values["action"] = "remove"
ALLOWED[("POST", _DRAFT + "/items/<part>/options/<int:index>/<action>")] = AUTHORS
ALLOWED[("POST", _DRAFT + "/choice-sets/<name>/options/<int:index>/<action>")] = AUTHORS
ALLOWED[("GET", _DRAFT + "/translations.xlf")] = CO_DESIGNERS
