"""An avenant (Article 11): a new version of the convention's policy, proposed by one party's
admin and in effect once the other party's admin countersigns it
(:func:`ctg_exchange.services.convention.countersign`); earlier versions are kept."""

from __future__ import annotations

import hashlib

from ..audit.canonical import text_digest
from ..domain import payloads
from ..domain.actions import Action
from ..domain.models import Member
from ..errors import InvalidInput, cut
from ..i18n import _
from ..policy import LoadedPolicy, parse_policy
from ..store.base import PolicyRecord, Tx
from .convention import Outcome, avenant_refused, proposal_state, record_change
from .remoting import remotable, said
from .requests import required_text
from .session import Recorder, Session, perform


def _avenant_said(args: dict[str, object]) -> dict[str, object]:
    digest = hashlib.sha256(str(args["text"]).encode("utf-8")).hexdigest()
    return {
        "reference_sha256": said(str(args["reference"])),
        "policy": lambda policy: isinstance(policy, dict) and policy.get("sha256") == digest,
    }


@remotable(Action.AMENDMENT, expect=_avenant_said)
def amend_from_text(session: Session, text: str, source: str, reference: str) -> Outcome:
    """Propose an avenant whose policy file, named ``source``, holds ``text`` (read on the
    member's machine; on a hosted workspace the server parses and checks it again)."""
    return amend(session, parse_policy(text, source.rsplit("/", 1)[-1][:200]), reference)


def amend(session: Session, loaded: LoadedPolicy, reference: str) -> Outcome:
    """Propose an avenant (Article 11): a new policy version, in effect when an admin of the
    other party countersigns it (in a 0.1.0 workspace, at once); earlier versions are kept."""
    reference = required_text(reference, "--reference")
    today = session.clock.today()
    bilateral = session.workspace.rules >= 2

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Outcome:
        state = proposal_state(session, tx, actor)
        avenant_refused(state, today)
        current = session.workspace.current_policy(tx)
        new = loaded.policy
        if new.id != current.policy.id:
            raise InvalidInput(
                _("an avenant amends {current}; this policy is {id!r}").format(
                    current=current.policy.id, id=cut(new.id)
                )
            )
        if new.party_ids != current.policy.party_ids:
            raise InvalidInput(
                _("an avenant keeps the parties ({parties}); this policy has {found}").format(
                    parties=", ".join(current.policy.party_ids), found=", ".join(new.party_ids)
                )
            )
        if loaded.sha256 == current.record.sha256:
            raise InvalidInput(
                _("this policy is already version {version}").format(version=current.version)
            )
        # a version proposed and withdrawn keeps its number: the next one follows it
        version = max(record.version for record in tx.policies()) + 1
        tx.add_policy(
            PolicyRecord(
                version,
                new.id,
                loaded.sha256,
                loaded.source.rsplit("/", 1)[-1],
                loaded.text,
                recorder.now,
            )
        )
        amendment = payloads.Amendment(
            kind="amendment",
            effective=today,
            reference_sha256=text_digest(reference),
            policy=payloads.PolicyRef(id=new.id, version=version, sha256=loaded.sha256),
            previous_version=current.version,
        )
        change = record_change(
            tx, recorder, actor, amendment, reference, in_effect=not bilateral, version=version
        )
        return Outcome(session.workspace.convention(tx), change)

    return perform(session, operation)
