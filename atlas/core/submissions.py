"""Submissions and their moderation: storing, editing, withdrawing, deciding, auditing.

Every change is one transaction with a condition on the record's state and version, so two
officers acting at once cannot both win and nothing is half-applied; each writes an audit entry.
"""

from __future__ import annotations

import hashlib
import secrets

from rapidfuzz import fuzz
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from atlas.core.placement import Placement, Problem, address_query, locate_point, place_address
from atlas.core.projects import slugify
from atlas.core.text import normalize, search_text
from atlas.geo.geocoding import Precision
from atlas.search import distances_km
from atlas.store import AuditEntry, OutboxMessage, Project, Status, Store, utcnow

#: Same name (fuzzy) within this distance counts as a likely duplicate.
DUPLICATE_RADIUS_KM = 5.0
DUPLICATE_SIMILARITY = 88
#: Fields a submitter or officer may change; everything else is derived.
EDITABLE = (
    "name",
    "organisation",
    "description",
    "fields",
    "street",
    "postcode",
    "city",
    "website",
    "contact_name",
    "contact_email",
    "publish_email",
)
PERSONAL = ("contact_name", "contact_email")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: What the forms say when an address or a point cannot be placed.
MESSAGES = {
    Problem.AMBIGUOUS: "Der Ort ist nicht eindeutig. Bitte wählen Sie aus.",
    Problem.NOT_FOUND: "Diese Adresse haben wir in Niedersachsen nicht gefunden. "
    "Bitte prüfen Sie Postleitzahl und Ort.",
    Problem.INVALID: "Die Koordinaten sind ungültig.",
    Problem.OUTSIDE: "Dieser Punkt liegt nicht in Niedersachsen. Der Atlas zeigt nur "
    "Projekte in Niedersachsen.",
}


def place(
    street: str | None, postcode: str | None, city: str | None, lat=None, lon=None, *, geocode
) -> Placement:
    """A corrected point wins over the address; either must lie in Lower Saxony. A point
    set by hand is taken as the address's own (precision "address")."""
    if lat not in (None, "") and lon not in (None, ""):
        found = locate_point(lat, lon, Precision.ADDRESS)
    else:
        found = place_address(address_query(street, postcode, city), geocode)
    if found.problem:
        # No point on the preview for what cannot be taken; the candidates to choose from.
        return Placement(
            candidates=found.candidates,
            suggestions=found.suggestions,
            problem=found.problem,
            error=MESSAGES[found.problem],
        )
    return found


def duplicates(
    store: Store, name: str, lat: float, lon: float, exclude: str | None = None
) -> list[Project]:
    """Published or pending projects with a similar name nearby."""
    key = normalize(name)
    dlat = DUPLICATE_RADIUS_KM / 110.0
    with store.session() as s:
        nearby = s.scalars(
            select(Project).where(
                Project.status.in_((Status.PUBLISHED, Status.PENDING)),
                Project.lat.between(lat - dlat, lat + dlat),
                Project.lon.between(lon - 2 * dlat, lon + 2 * dlat),
            )
        ).all()
    nearby = [
        p
        for p in nearby
        if p.id != exclude and fuzz.token_sort_ratio(key, normalize(p.name)) >= DUPLICATE_SIMILARITY
    ]
    if not nearby:
        return []
    dist = distances_km(lat, lon, [p.lat for p in nearby], [p.lon for p in nearby])
    return [p for p, d in zip(nearby, dist) if d <= DUPLICATE_RADIUS_KM]


def _audit(s, actor: str, action: str, project: Project | dict, changes: dict) -> None:
    get = project.get if isinstance(project, dict) else lambda k: getattr(project, k)
    s.add(
        AuditEntry(
            actor=actor, action=action, project_id=get("id"), region=get("region"), changes=changes
        )
    )


def _public_changes(old: dict, new: dict) -> dict:
    """What changed, without personal data (the audit log outlives a withdrawal)."""
    skip = PERSONAL + ("search_text", "decided_at", "decided_by")  # entry has who and when
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v and k not in skip}


def create(store: Store, values: dict, placement: Placement, compose=None) -> tuple[str, str, list]:
    """Store a pending submission; returns (project id, private token, queued messages).

    `compose(project_id, token)` gives the notifications as (recipients, subject, body); they
    enter the outbox in the same transaction, so a crash cannot keep a stored submission from
    its submitter's private link.
    """
    from atlas.core import outbox

    token = secrets.token_urlsafe(32)
    base = slugify(" ".join(filter(None, [values["name"], values.get("city")]))) or "projekt"
    record = {k: values.get(k) for k in EDITABLE}
    record.update(
        lat=placement.lat,
        lon=placement.lon,
        precision=placement.precision,
        district_code=placement.district_code,
        region=placement.region,
        status=Status.PENDING,
        token_hash=hash_token(token),
        source=["Einreichung"],
        tags=[],
        synthetic=False,
        version=1,
    )
    record["search_text"] = search_text(record)
    for attempt in range(12):
        suffix = (
            ""
            if attempt == 0
            else (f"-{attempt + 1}" if attempt < 10 else f"-{secrets.token_hex(3)}")
        )
        record["id"] = f"{base[:110]}{suffix}"
        try:
            with store.session.begin() as s:
                s.add(Project(**record))
                s.flush()
                _audit(s, "Einreichung", "submitted", record, {"region": [None, record["region"]]})
                messages = [
                    m
                    for recipients, subject, body in (
                        compose(record["id"], token) if compose else []
                    )
                    for m in outbox.queue(s, recipients, subject, body, record["id"])
                ]
            return record["id"], token, messages
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free id for the submission")


def by_token(store: Store, token: str) -> Project | None:
    if not token or len(token) > 100:
        return None
    with store.session() as s:
        return s.scalar(select(Project).where(Project.token_hash == hash_token(token)))


def get(store: Store, project_id: str) -> Project | None:
    return store.get(project_id)


def _apply(
    store: Store,
    project_id: str,
    version: int | None,
    actor: str,
    action: str,
    values: dict,
    *,
    from_status: str = Status.PENDING,
) -> Project | None:
    """Change a record only if it is still in `from_status` at `version`; None if it was not."""
    with store.session.begin() as s:
        current = s.get(Project, project_id)
        if (
            current is None
            or current.status != from_status
            or (version is not None and current.version != version)
        ):
            return None
        old = {k: getattr(current, k) for k in values}
        new = dict(values)
        if any(k in new for k in ("name", "organisation", "description", "city", "postcode")):
            merged = {
                k: new.get(k, getattr(current, k))
                for k in ("name", "organisation", "description", "city", "postcode", "tags")
            }
            new["search_text"] = search_text(merged)
        done = s.execute(
            update(Project)
            .where(
                Project.id == project_id,
                Project.status == from_status,
                Project.version == current.version,
            )
            .values(**new, version=current.version + 1, updated_at=utcnow())
        )
        if done.rowcount != 1:
            return None
        _audit(
            s,
            actor,
            action,
            {"id": project_id, "region": new.get("region", current.region)},
            _public_changes(old, new),
        )
    return store.get(project_id)


def update_pending(
    store: Store,
    project_id: str,
    values: dict,
    placement: Placement,
    actor: str,
    version: int | None = None,
    approve: bool = False,
) -> Project | None:
    """Change a pending submission; with approve=True publish it in the same transaction."""
    changes = {k: values[k] for k in EDITABLE if k in values}
    changes.update(
        lat=placement.lat,
        lon=placement.lon,
        precision=placement.precision,
        district_code=placement.district_code,
        region=placement.region,
    )
    if approve:
        changes.update(_decision(actor, True, None))
    return _apply(
        store, project_id, version, actor, "edited and approved" if approve else "edited", changes
    )


def _decision(actor: str, approve: bool, reason: str | None) -> dict:
    return {
        "status": Status.PUBLISHED if approve else Status.REJECTED,
        "decided_at": utcnow(),
        "decided_by": actor,
        "decision_note": reason,
    }


def decide(
    store: Store,
    project_id: str,
    version: int,
    actor: str,
    approve: bool,
    reason: str | None = None,
) -> Project | None:
    return _apply(
        store,
        project_id,
        version,
        actor,
        "approved" if approve else "rejected",
        _decision(actor, approve, reason),
    )


def move(store: Store, project_id: str, version: int, actor: str, region: str) -> Project | None:
    return _apply(store, project_id, version, actor, "moved", {"region": region})


def withdraw(store: Store, token: str) -> bool:
    """Delete a pending submission with its personal data; the audit keeps only that it went."""
    project = by_token(store, token)
    if project is None or project.status != Status.PENDING:
        return False
    with store.session.begin() as s:
        gone = s.execute(
            delete(Project).where(Project.id == project.id, Project.status == Status.PENDING)
        )
        if gone.rowcount != 1:
            return False
        _erase_traces(s, project, token)
        _audit(
            s,
            "Einreichung",
            "withdrawn",
            {"id": _pseudonym(s, project.id), "region": project.region},
            {},
        )
    store.after_erasure()
    return True


# --- erasure ------------------------------------------------------------------------------------


def _pseudonym(s, project_id: str) -> str:
    """What the audit log calls a deleted submission: random, the same for all its entries
    (the id is made from the project's name, which may name a person)."""
    return s.info.setdefault(("pseudonym", project_id), f"geloescht-{secrets.token_hex(6)}")


def _erase_traces(s, project: Project, token: str | None) -> None:
    """Within the deleting transaction: the submission's mails in the outbox (linked to it;
    mails queued before migration 0007 by its private link, or by its contact address and
    name), and everything but the bare events in its audit entries: their changes (old and new
    texts) go, the project id is replaced by a pseudonym; when, who on the office side, what
    kind of event and the region stay."""
    mails = OutboxMessage.project_id == project.id
    if token:
        mails |= OutboxMessage.project_id.is_(None) & OutboxMessage.body.contains(
            token, autoescape=True
        )
    if project.contact_email:
        mails |= (
            OutboxMessage.project_id.is_(None)
            & (OutboxMessage.recipient == project.contact_email)
            & OutboxMessage.subject.contains(project.name, autoescape=True)
        )
    s.execute(delete(OutboxMessage).where(mails))
    s.execute(
        update(AuditEntry)
        .where(AuditEntry.project_id == project.id)
        .values(project_id=_pseudonym(s, project.id), changes={})
    )


def queue(store: Store, region: str | None) -> list[Project]:
    """Pending submissions, oldest first; all regions when region is None."""
    stmt = (
        select(Project)
        .where(Project.status == Status.PENDING)
        .order_by(Project.created_at, Project.id)
    )
    if region:
        stmt = stmt.where(Project.region == region)
    with store.session() as s:
        return list(s.scalars(stmt))


def audit_log(store: Store, limit: int = 500) -> list[AuditEntry]:
    with store.session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
