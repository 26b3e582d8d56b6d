"""References a request must get right before it can be screened at all.

An unknown party, purpose kind or data category is a typo, not a finding: the request is invalid
input, every unknown reference named at once with what the convention knows. (An intervention
field or legal basis outside the convention is a finding of pre-screening instead: the request
is well-formed but not allowed.)
"""

from __future__ import annotations

from ..domain.models import RequestContent
from ..errors import InvalidRequest
from .model import Policy
from .request_input import reference_problems


def check_references(policy: Policy, content: RequestContent) -> None:
    problems = list(reference_problems(content.model_dump(mode="json"), policy))
    if problems:
        raise InvalidRequest(problems)
