"""Retention: what the atlas no longer needs is deleted (`atlas purge`, also run when
`atlas serve` starts; ATLAS_RETENTION_DAYS, 90 by default).

- Rejected submissions decided more than that many days ago lose their contact data (name,
  e-mail) and their mails in the outbox; the project text and the decision stay, so the
  submitter's private link still shows the decision.
- Mails in the outbox sent more than that many days ago are deleted (unsent ones stay: without
  a mail server the outbox is how administrators deliver them).
- Login sessions that have ended are deleted.
- E-mail alerts not confirmed within 7 days are deleted (atlas.core.alerts).

A withdrawal deletes a submission's personal data at once (atlas.core.submissions.withdraw);
`erase` (`atlas erase ID`) does the same for an administrator answering a request for erasure
(DSGVO Art. 17), in any state of the submission.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from atlas.core.alerts import purge_unconfirmed
from atlas.core.submissions import DUPLICATE_WINDOW, _erase_traces, _pseudonym
from atlas.store import AuditEntry, LoginSession, OutboxMessage, Project, Status, Store, utcnow
from atlas.store.models import SubmissionFingerprint


def erase(store: Store, project_id: str, actor: str) -> bool:
    """Delete a project or submission with its mails and the texts of its audit entries, as a
    withdrawal does; the audit log records that `actor` erased it. False if there is none."""
    with store.session.begin() as s:
        project = s.get(Project, project_id)
        if project is None:
            return False
        s.delete(project)
        _erase_traces(s, project, None)
        s.add(
            AuditEntry(
                actor=actor,
                action="erased",
                project_id=_pseudonym(s, project_id),
                region=project.region,
                changes={},
            )
        )
    store.after_erasure()
    return True


def purge(store: Store, days: int, now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than `days`; returns how many of each kind went."""
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    rejected = (Project.status == Status.REJECTED) & (Project.decided_at < cutoff)
    with store.session.begin() as s:
        expired = select(Project.id).where(rejected)
        mails = s.execute(
            delete(OutboxMessage).where(
                or_(
                    OutboxMessage.sent_at < cutoff,
                    OutboxMessage.gave_up_at < cutoff,
                    OutboxMessage.project_id.in_(expired),
                )
            )
        ).rowcount
        contacts = s.execute(
            update(Project)
            .where(
                rejected,
                or_(Project.contact_email.is_not(None), Project.contact_name.is_not(None)),
            )
            .values(contact_name=None, contact_email=None, publish_email=False)
        ).rowcount
        sessions = s.execute(delete(LoginSession).where(LoginSession.expires_at <= now)).rowcount
        # Fingerprints of submissions only matter within the double-click window (issue 20).
        s.execute(
            delete(SubmissionFingerprint).where(
                SubmissionFingerprint.created_at < now - DUPLICATE_WINDOW
            )
        )
    alerts = purge_unconfirmed(store, now)
    if mails or contacts or alerts:
        store.after_erasure()
    return {"contacts": contacts, "mails": mails, "sessions": sessions, "alerts": alerts}
