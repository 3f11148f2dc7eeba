"""The participants service, one import for its callers: enrol, pause and withdraw
(`enrolment.py`), link caregivers and the reach of their phones (`caregivers.py`), invite onto
a phone and authenticate devices (`invitations.py`), and the people rules they share
(`people.py`: checks, staff reach, who a device answers for, assigned instruments). Plain
functions over a SQLAlchemy session: no Flask; callers commit.

Modules inside `app.participants` and the reminders planner import the concern modules
directly; this module only gathers their public names.
"""

from __future__ import annotations

from app.participants.caregivers import (
    add_caregiver as add_caregiver,
)
from app.participants.caregivers import (
    link_caregiver as link_caregiver,
)
from app.participants.caregivers import (
    unlink_caregiver as unlink_caregiver,
)
from app.participants.enrolment import (
    enroll as enroll,
)
from app.participants.enrolment import (
    pause as pause,
)
from app.participants.enrolment import (
    resume as resume,
)
from app.participants.enrolment import (
    withdraw as withdraw,
)
from app.participants.invitations import (
    CODE_ALPHABET as CODE_ALPHABET,
)
from app.participants.invitations import (
    CODE_LENGTH as CODE_LENGTH,
)
from app.participants.invitations import (
    DEFAULT_INVITATION_DAYS as DEFAULT_INVITATION_DAYS,
)
from app.participants.invitations import (
    LAST_SEEN_RESOLUTION as LAST_SEEN_RESOLUTION,
)
from app.participants.invitations import (
    MAX_INVITATION_DAYS as MAX_INVITATION_DAYS,
)
from app.participants.invitations import (
    InvitationRefused as InvitationRefused,
)
from app.participants.invitations import (
    IssuedInvitation as IssuedInvitation,
)
from app.participants.invitations import (
    RedeemThrottle as RedeemThrottle,
)
from app.participants.invitations import (
    authenticate_device as authenticate_device,
)
from app.participants.invitations import (
    create_invitation as create_invitation,
)
from app.participants.invitations import (
    devices_of_participant as devices_of_participant,
)
from app.participants.invitations import (
    hash_invitation_code as hash_invitation_code,
)
from app.participants.invitations import (
    invitation_link as invitation_link,
)
from app.participants.invitations import (
    new_invitation_code as new_invitation_code,
)
from app.participants.invitations import (
    normalize_code as normalize_code,
)
from app.participants.invitations import (
    outstanding_invitation_by_token as outstanding_invitation_by_token,
)
from app.participants.invitations import (
    redeem as redeem,
)
from app.participants.invitations import (
    revoke_by_holder as revoke_by_holder,
)
from app.participants.invitations import (
    revoke_device as revoke_device,
)
from app.participants.invitations import (
    token_from_link as token_from_link,
)
from app.participants.people import (
    CAREGIVER_ROLES as CAREGIVER_ROLES,
)
from app.participants.people import (
    RESPONDENTS as RESPONDENTS,
)
from app.participants.people import (
    Person as Person,
)
from app.participants.people import (
    Respondent as Respondent,
)
from app.participants.people import (
    active_links as active_links,
)
from app.participants.people import (
    age_band_on as age_band_on,
)
from app.participants.people import (
    assign_instrument as assign_instrument,
)
from app.participants.people import (
    available_instruments as available_instruments,
)
from app.participants.people import (
    caregivers_of as caregivers_of,
)
from app.participants.people import (
    check_language as check_language,
)
from app.participants.people import (
    check_time_zone as check_time_zone,
)
from app.participants.people import (
    holder_language as holder_language,
)
from app.participants.people import (
    is_paused as is_paused,
)
from app.participants.people import (
    linked_children as linked_children,
)
from app.participants.people import (
    may_manage as may_manage,
)
from app.participants.people import (
    people_for_device as people_for_device,
)
from app.participants.people import (
    person_for_device as person_for_device,
)
from app.participants.people import (
    require_may_manage as require_may_manage,
)
from app.participants.people import (
    unmanaged_children as unmanaged_children,
)
