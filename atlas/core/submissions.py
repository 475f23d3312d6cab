"""Submissions and their moderation: storing, editing, withdrawing, deciding, auditing.

Every change is one transaction with a condition on the record's state and version, so two
officers acting at once cannot both win and nothing is half-applied; each writes an audit entry.

The life of a submission: pending → published or rejected (`decide`, `update_pending`). Its
private link keeps working: the submitter may change it at any time (`request_change` sends a
change of what the atlas shows back to the queue as pending; a change of unpublished contact
data is saved at once) and withdraw it in any state (`withdraw`). An office may edit a published
project (`edit` with from_status published), take it off the atlas (`unpublish`, with a
reason) and publish it again (`republish`). Taken off, a project is `rejected` like a submission
the office turned down: the audit log's "unpublished" tells the two apart (`taken_off`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from types import SimpleNamespace

from rapidfuzz import fuzz
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from atlas.core.placement import Placement, Problem, address_query, locate_point, place_address
from atlas.core.projects import public_properties, slugify
from atlas.core.text import normalize, search_text
from atlas.geo.geocoding import Precision
from atlas.search import distances_km
from atlas.store import (
    AuditEntry,
    OutboxMessage,
    Project,
    Status,
    Store,
    SubmissionFingerprint,
    utcnow,
)

#: Same name (fuzzy) within this distance counts as a likely duplicate.
DUPLICATE_RADIUS_KM = 5.0
DUPLICATE_SIMILARITY = 88
#: Fields a submitter or officer may change; everything else is derived.
EDITABLE = (
    "name",
    "organisation",
    "description",
    "fields",
    "languages",
    "street",
    "postcode",
    "city",
    "website",
    "contact_name",
    "contact_email",
    "publish_email",
    "ask_consent",  # issue 21: may we ask whether it still runs?
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
    street: str | None,
    postcode: str | None,
    city: str | None,
    lat=None,
    lon=None,
    *,
    geocode,
    precision: Precision | str | None = Precision.MANUAL,
) -> Placement:
    """A given point wins over the address; either must lie in Lower Saxony.

    A given point is stored with the `precision` the caller knows for it: the geocoder's, a
    chosen candidate's or the stored one when the point is still where they put it (None where
    that was not known), else `manual` (placed by hand). Never "address" for a point that no
    geocoder put at an address."""
    if lat not in (None, "") and lon not in (None, ""):
        try:
            known = Precision(precision) if precision else None
        except ValueError:
            known = Precision.MANUAL
        found = locate_point(lat, lon, known)
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


def postcode_for_choice(postcode: str | None, candidate: dict) -> tuple[str | None, str | None]:
    """A chosen candidate and the typed postcode: (the postcode to use, what to tell the user).

    A place with one postcode corrects a postcode that is not its own; a place with several
    cannot be corrected, and the message names them; where nothing is known, nothing is said."""
    from atlas.geo import geocoding

    label = candidate.get("label") or "diesen Ort"
    own = _postcodes_of(candidate)
    if not postcode or postcode in own:
        return postcode, None
    if len(own) == 1:
        return own[0], (
            f"Die Postleitzahl {postcode} gehört nicht zu {label}. Wir haben sie auf "
            f"{own[0]} geändert; bitte prüfen Sie das."
        )
    if own:
        shown = ", ".join(own[:8]) + (" …" if len(own) > 8 else "")
        return postcode, (
            f"Die Postleitzahl {postcode} gehört nicht zu {label} (dort: {shown}). "
            "Bitte tragen Sie die richtige Postleitzahl ein."
        )
    record = geocoding.gazetteer().postcodes.get(postcode)
    codes = {p.get("district_code") for p in record["places"]} if record else set()
    if record and candidate.get("district_code") and candidate["district_code"] not in codes:
        return postcode, (
            f"Die Postleitzahl {postcode} gehört nicht zu {label}. "
            "Bitte tragen Sie die richtige Postleitzahl ein."
        )
    return postcode, None


def _postcodes_of(candidate: dict) -> list[str]:
    """The postcodes of a candidate's place: its own, or its gazetteer entry's."""
    from atlas.geo import geocoding

    if candidate.get("postcode"):
        return [candidate["postcode"]]
    try:
        lat, lon = float(candidate["lat"]), float(candidate["lon"])
    except (KeyError, TypeError, ValueError):
        return []
    for e in geocoding.gazetteer().entities:
        if round(e.lat, 6) == round(lat, 6) and round(e.lon, 6) == round(lon, 6):
            return sorted(e.postcodes)
    return []


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
    # The entry has who and when; a private link's hash is no public change.
    skip = PERSONAL + ("search_text", "decided_at", "decided_by", "confirmed_at", "ended_at")
    skip += ("token_hash",)
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v and k not in skip}


#: Identical submissions (name, place, contact address) within this time are one submission.
DUPLICATE_WINDOW = timedelta(minutes=10)


class AlreadySubmitted(Exception):
    """The same submission (name, place, contact address) arrived moments ago and is stored."""


def fingerprint(values: dict) -> str:
    """What makes two submissions the same one sent twice: the name, the place (postcode and
    town) and the contact address, normalised as people retype them; hashed, so the key holds
    no personal data in the clear."""
    parts = [
        normalize(values.get("name") or ""),
        normalize(values.get("postcode") or ""),
        normalize(values.get("city") or ""),
        (values.get("contact_email") or "").strip().lower(),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _claim_fingerprint(s, key: str, project_id: str) -> bool:
    """Within the storing transaction, before the project: take the submission's fingerprint,
    unless an identical one took it within DUPLICATE_WINDOW. The database decides: an INSERT
    that on conflict updates only an older row; a concurrent identical INSERT waits for the
    first transaction (PostgreSQL's unique index; SQLite's single writer) and then finds its
    row recent, so it changes nothing. True when this submission may be stored."""
    now = utcnow()
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(SubmissionFingerprint).values(
        fingerprint=key, project_id=project_id, created_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["fingerprint"],
        set_={"project_id": project_id, "created_at": now},
        where=SubmissionFingerprint.created_at < now - DUPLICATE_WINDOW,
    )
    # RETURNING, not rowcount: through the ORM session the driver's count is not always given.
    return s.execute(stmt.returning(SubmissionFingerprint.fingerprint)).first() is not None


def create(store: Store, values: dict, placement: Placement, compose=None) -> tuple[str, str, list]:
    """Store a pending submission; returns (project id, private token, queued messages).

    `compose(project_id, token)` gives the notifications as (recipients, subject, body); they
    enter the outbox in the same transaction, so a crash cannot keep a stored submission from
    its submitter's private link. Raises AlreadySubmitted when the same submission was stored
    within DUPLICATE_WINDOW (a double click, or a second tab), on any instance.
    """
    from atlas.core import outbox

    key = fingerprint(values)

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
        language=values.get("language"),
        descriptions=values.get("descriptions") or None,
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
                if not _claim_fingerprint(s, key, record["id"]):
                    raise AlreadySubmitted(record["id"])
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
    from_status: str | tuple[str, ...] = Status.PENDING,
    erase_mails: bool = False,
) -> Project | None:
    """Change a record only if it is still in `from_status` (one or several) at `version`; None
    if it was not. With erase_mails its mails in the outbox go in the same transaction."""
    allowed = (from_status,) if isinstance(from_status, str) else tuple(from_status)
    with store.session.begin() as s:
        current = s.get(Project, project_id)
        if (
            current is None
            or current.status not in allowed
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
                Project.status == current.status,
                Project.version == current.version,
            )
            .values(**new, version=current.version + 1, updated_at=utcnow())
        )
        if done.rowcount != 1:
            return None
        if erase_mails:
            before = SimpleNamespace(
                id=project_id, name=current.name, contact_email=old.get("contact_email")
            )
            _erase_mails(s, before, None)
        _audit(
            s,
            actor,
            action,
            {"id": project_id, "region": new.get("region", current.region)},
            _public_changes(old, new),
        )
    return store.get(project_id)


def _edited(values: dict, placement: Placement) -> dict:
    """The columns an edit writes: the editable fields given, and the point with what it gives."""
    changes = {k: values[k] for k in EDITABLE if k in values}
    changes.update(
        lat=placement.lat,
        lon=placement.lon,
        precision=placement.precision,
        district_code=placement.district_code,
        region=placement.region,
    )
    return changes


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
    changes = _edited(values, placement)
    if approve:
        changes.update(_decision(actor, True, None))
    return _apply(
        store, project_id, version, actor, "edited and approved" if approve else "edited", changes
    )


def edit(
    store: Store,
    project_id: str,
    values: dict,
    placement: Placement,
    actor: str,
    *,
    from_status: str | tuple[str, ...],
    version: int | None = None,
    publish: bool = False,
    note: str | None = None,
) -> Project | None:
    """Edit a record in `from_status` and keep its state; with publish=True publish it in the
    same transaction ("edited and republished"). `note` is the office's word to the submitter
    (kept as the decision note, so the private page shows it)."""
    changes = _edited(values, placement)
    if publish:
        changes.update(_decision(actor, True, note))
        action = "edited and republished"
    else:
        action = "edited"
        if note is not None:
            changes["decision_note"] = note
    return _apply(store, project_id, version, actor, action, changes, from_status=from_status)


def public_change(project: Project, values: dict, placement: Placement) -> bool:
    """Would this edit change what the atlas shows of the project (or whether it shows the
    e-mail address)? A change of contact data that is not published is not one."""
    keys = (*EDITABLE, "lat", "lon", "precision", "district_code", "region")
    old = {k: getattr(project, k) for k in keys}
    new = {**old, **_edited(values, placement)}

    def shown(record: dict) -> tuple:
        return public_properties(record), round(record["lat"], 6), round(record["lon"], 6)

    return shown(old) != shown(new)


#: The states from which a submitter's change goes back to the queue.
DECIDED = (Status.PUBLISHED, Status.REJECTED)


def request_change(
    store: Store, project_id: str, values: dict, placement: Placement
) -> Project | None:
    """The submitter changes a decided project: it goes back to the office's queue as pending
    (and so, if it was published, leaves the atlas until the office has checked it)."""
    changes = _edited(values, placement)
    changes["status"] = Status.PENDING
    return _apply(
        store, project_id, None, "Einreichung", "change requested", changes, from_status=DECIDED
    )


def _decision(actor: str, approve: bool, reason: str | None) -> dict:
    decision = {
        "status": Status.PUBLISHED if approve else Status.REJECTED,
        "decided_at": utcnow(),
        "decided_by": actor,
        "decision_note": reason,
    }
    if approve:  # an office's approval confirms the project runs (issue 21)
        decision["confirmed_at"] = decision["decided_at"]
    return decision


def decide(
    store: Store,
    project_id: str,
    version: int,
    actor: str,
    approve: bool,
    reason: str | None = None,
    *,
    from_status: str = Status.PENDING,
    action: str | None = None,
) -> Project | None:
    """Publish or reject a project in `from_status`; the reason (or note) is the office's word
    to the submitter."""
    return _apply(
        store,
        project_id,
        version,
        actor,
        action or ("approved" if approve else "rejected"),
        _decision(actor, approve, reason),
        from_status=from_status,
    )


def unpublish(
    store: Store, project_id: str, version: int, actor: str, reason: str
) -> Project | None:
    """The office takes a published project off the atlas, saying why: it is `rejected` again
    (audited as "unpublished"), and the submitter may revise it and send it again."""
    return decide(
        store,
        project_id,
        version,
        actor,
        False,
        reason,
        from_status=Status.PUBLISHED,
        action="unpublished",
    )


def republish(
    store: Store, project_id: str, version: int, actor: str, note: str | None = None
) -> Project | None:
    """The office publishes a project it had taken off (or had rejected) after all."""
    return decide(
        store,
        project_id,
        version,
        actor,
        True,
        note,
        from_status=Status.REJECTED,
        action="republished",
    )


def confirm(
    store: Store, project_id: str, actor: str, version: int | None = None
) -> Project | None:
    """The contact or an office says the published project still runs (issue 21)."""
    return _apply(
        store,
        project_id,
        version,
        actor,
        "confirmed",
        {"confirmed_at": utcnow()},
        from_status=Status.PUBLISHED,
    )


def end(store: Store, project_id: str, actor: str, version: int | None = None) -> Project | None:
    """The project does not exist any more: off the atlas at once, kept for the office's
    statistics with its end date. Its personal data goes as in a withdrawal: contact name and
    address, the private link, its mails in the outbox (the audit entries never held them)."""
    personal = {k: None for k in PERSONAL}
    ended = _apply(
        store,
        project_id,
        version,
        actor,
        "ended",
        {
            "status": Status.ENDED,
            "ended_at": utcnow(),
            **personal,
            "publish_email": False,
            "token_hash": None,
            "ask_consent": None,
        },
        from_status=(Status.PUBLISHED, Status.PENDING, Status.REJECTED),
        erase_mails=True,
    )
    if ended is not None:
        store.after_erasure()
    return ended


def new_private_link(store: Store, project_id: str) -> str | None:
    """A fresh private link for a published project (whose contact came by a reminder's link):
    the token, or None. An earlier private link stops working."""
    token = secrets.token_urlsafe(32)
    with store.session.begin() as s:
        done = s.execute(
            update(Project)
            .where(Project.id == project_id, Project.status == Status.PUBLISHED)
            .values(token_hash=hash_token(token))
        )
    return token if done.rowcount == 1 else None


def move(store: Store, project_id: str, version: int, actor: str, region: str) -> Project | None:
    return _apply(store, project_id, version, actor, "moved", {"region": region})


def withdraw(store: Store, token: str) -> bool:
    """Delete a submission, in any state, with its personal data; the audit keeps only that it went."""
    project = by_token(store, token)
    if project is None:
        return False
    with store.session.begin() as s:
        gone = s.execute(
            delete(Project).where(Project.id == project.id, Project.token_hash.is_not(None))
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
    _erase_mails(s, project, token)
    s.execute(delete(SubmissionFingerprint).where(SubmissionFingerprint.project_id == project.id))
    s.execute(
        update(AuditEntry)
        .where(AuditEntry.project_id == project.id)
        .values(project_id=_pseudonym(s, project.id), changes={})
    )


def _erase_mails(s, project: Project, token: str | None) -> None:
    """Delete a project's mails from the outbox (see `_erase_traces`)."""
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


def projects_of(
    store: Store, region: str | None, status: str, q: str = "", limit: int = 100
) -> tuple[list[Project], int]:
    """An office's projects in one state, by name (all regions when region is None), with
    how many there are; `q` narrows by name."""
    where = [Project.status == status]
    if region:
        where.append(Project.region == region)
    if q.strip():
        where.append(func.lower(Project.name).contains(q.strip().lower(), autoescape=True))
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(Project).where(*where))
        rows = s.scalars(
            select(Project)
            .where(*where)
            .order_by(func.lower(Project.name), Project.id)
            .limit(limit)
        )
        return list(rows), total


def audit_log(store: Store, limit: int = 500) -> list[AuditEntry]:
    with store.session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


def history(store: Store, project_id: str) -> list[AuditEntry]:
    """A project's audit entries, oldest first."""
    with store.session() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.project_id == project_id)
                .order_by(AuditEntry.id)
            )
        )


#: The audit actions that decide whether a project is public.
DECISIONS = (
    "approved",
    "rejected",
    "edited and approved",
    "unpublished",
    "republished",
    "edited and republished",
)


def taken_off(store: Store, project: Project) -> bool:
    """Was this rejected project published before, and then taken off by its office?"""
    if project.status != Status.REJECTED:
        return False
    with store.session() as s:
        last = s.scalar(
            select(AuditEntry.action)
            .where(AuditEntry.project_id == project.id, AuditEntry.action.in_(DECISIONS))
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    return last == "unpublished"


def names(store: Store, project_ids) -> dict[str, str]:
    """Project names by id, for the ids that still exist."""
    ids = list(set(project_ids))
    if not ids:
        return {}
    with store.session() as s:
        return dict(s.execute(select(Project.id, Project.name).where(Project.id.in_(ids))).all())
