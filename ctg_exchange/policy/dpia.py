"""The EDPB's criteria for a DPIA (WP248 rev.01), as far as a request lets the tool derive them,
and the CNIL's list: two criteria or more, or a processing on the list, and a DPIA is required
(GDPR art. 35)."""

from __future__ import annotations

from collections.abc import Iterator

from ..domain.models import AutomatedDecision, Frequency
from ..i18n import _
from .model import Category
from .request_view import SENSITIVE, ScreenedRequest, identifiers


def concerns_minors(r: ScreenedRequest) -> bool:
    screening = r.policy.screening
    return bool(r.exchangeable) and (
        r.content.field in screening.minors_fields
        or any(c.id in screening.minors_categories for c in r.exchangeable)
    )


def matching_keys(r: ScreenedRequest) -> tuple[Category, ...]:
    """The direct identifiers that let the requester match; with all nine EDPB criteria, only
    when it declares it will combine the data with its own files."""
    if r.policy.screening.all_edpb_criteria and r.content.combines_with_own_files is False:
        return ()
    return identifiers(r)


_MONITORING_FREQUENCIES = {Frequency.DAILY, Frequency.WEEKLY, Frequency.MONTHLY}


def dpia_criteria(r: ScreenedRequest) -> tuple[list[str], bool]:
    """The EDPB criteria the request meets, and whether it is on the CNIL's list."""
    screening = r.policy.screening
    criteria: list[str] = []
    if screening.all_edpb_criteria and r.exchangeable:
        criteria += further_criteria(r)
    if any(c.sensitivity in SENSITIVE for c in r.exchangeable):
        criteria.append(_("sensitive or highly personal data"))
    if concerns_minors(r) or any(c.id in screening.vulnerable_categories for c in r.exchangeable):
        criteria.append(_("vulnerable data subjects"))
    if matching_keys(r):
        criteria.append(_("matching or combining datasets"))
    volume = r.content.volume
    if volume is not None and volume >= screening.large_scale_volume:
        criteria.append(_("large scale ({volume} persons)").format(volume=volume))
    on_list = bool(r.exchangeable) and r.content.purpose_kind in screening.cnil_list_purpose_kinds
    if on_list:
        criteria.append(_("social or medico-social support (CNIL list)"))
    return criteria, on_list


def further_criteria(r: ScreenedRequest) -> Iterator[str]:
    """EDPB WP248 rev.01 criteria 1, 2, 3, 8 and 9 (4 to 7 follow in :func:`_dpia_criteria`)."""
    content = r.content
    if content.profiling:
        yield _("evaluation or scoring")
    if r.automated is AutomatedDecision.SOLELY_AUTOMATED:
        yield _("automated decision with legal or similar effect")
    monitored = [c for c in r.exchangeable if c.id in r.policy.screening.monitoring_categories]
    if monitored and content.frequency in _MONITORING_FREQUENCIES:
        yield _("systematic monitoring")
    if content.new_technology:
        yield _("innovative use or new technology")
    if content.decides_access:
        yield _("prevents using a service or exercising a right")
