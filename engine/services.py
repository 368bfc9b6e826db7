"""Writes of the engine's data: projects, event ingest, profile upsert and identify-merge.

Retry semantics, per write:
- ``events_ingest``: events with a client ``id`` are stored once per project (a
  database constraint, no check-then-insert); a retried request reports them as
  duplicates. Events without an id are stored each time they are sent.
- ``profiles_upsert``: idempotent; sending the same batch twice leaves the same state.
- ``profile_identify``: idempotent; a second merge of the same anonymous id is a no-op.
Each runs in one transaction: all of a request is stored, or none of it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from engine import consent, event_store, limits, signals
from engine.ingest import (
    EventRecord,
    IdentifyRecord,
    IngestError,
    ProfileRecord,
    merge_properties,
)
from engine.ingest import error as ingest_error
from engine.models import Event, EventInbox, Membership, Profile, ProfileAlias, Project
from engine.sql import dt_param, insert_returning, json_param


class ProjectError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def project_create(*, name: str, timezone_name: str, owner: User) -> Project:
    from engine.ingest import is_timezone

    if not name or not name.strip():
        raise ProjectError("name", "A project needs a name.")
    if not is_timezone(timezone_name):
        raise ProjectError(
            "timezone", f"{timezone_name!r} is not an IANA time zone (like Europe/Paris)."
        )
    with transaction.atomic():
        project = Project.objects.create(name=name.strip(), timezone=timezone_name)
        Membership.objects.create(project=project, user=owner, role=Membership.Role.ADMIN)
    return project


def _resolve_profiles(
    project: Project, external_ids: Iterable[str], *, via_sdk: bool = False
) -> tuple[dict[str, int], list[int]]:
    """Map external ids (following aliases) to profile ids, creating missing profiles.

    Profiles created through the public SDK key are ``anonymous`` (identify may merge
    them); a profile the server key names is not, from then on. Returns the mapping and
    the ids of the profiles created now.
    """
    wanted = set(external_ids)
    mapping: dict[str, int] = dict(
        ProfileAlias.objects.filter(project=project, alias__in=wanted).values_list(
            "alias", "profile_id"
        )
    )
    missing = wanted - mapping.keys()
    # Profiles whose anonymous flag is not known to be off (aliases' targets, found ones
    # still anonymous): the only ones a server-key write may need to update.
    maybe_anonymous = set(mapping.values())
    if missing:
        # Most named profiles exist: look them up first, so only new ones are inserted.
        for external_id, profile_id, anonymous in Profile.objects.filter(
            project=project, external_id__in=missing
        ).values_list("external_id", "id", "anonymous"):
            mapping[external_id] = profile_id
            if anonymous:
                maybe_anonymous.add(profile_id)
        missing -= mapping.keys()
    created: list[int] = []
    if missing:
        now = dt_param(timezone.now())
        empty_obj, empty_list = json_param({}), json_param([])
        rows = [
            (project.pk, ext, "", "", "", empty_obj, empty_list, via_sdk, now, now)
            for ext in sorted(missing)
        ]
        created = [
            row[0]
            for row in insert_returning(
                Profile._meta.db_table,
                [
                    "project_id",
                    "external_id",
                    "email",
                    "phone",
                    "timezone",
                    "properties",
                    "push_tokens",
                    "anonymous",
                    "created_at",
                    "updated_at",
                ],
                rows,
                conflict="(project_id, external_id) DO NOTHING",
                returning="id",
                types=[
                    "bigint",
                    "text",
                    "text",
                    "text",
                    "text",
                    "jsonb",
                    "jsonb",
                    "boolean",
                    "timestamptz",
                    "timestamptz",
                ],
            )
        ]
        raced = dict(
            Profile.objects.filter(project=project, external_id__in=missing).values_list(
                "external_id", "id"
            )
        )
        mapping.update(raced)
        maybe_anonymous.update(raced.values())
    if not via_sdk:
        named = maybe_anonymous.difference(created)
        if named:
            Profile.objects.filter(pk__in=named, anonymous=True).update(anonymous=False)
    return mapping, created


# --- the public SDK key ------------------------------------------------------------

# What the SDK key may never set on an identified profile (CONTRACT.md "Keys and identity").
SDK_RESTRICTED_FIELDS = ("email", "phone", "push_tokens")


@dataclass(frozen=True)
class SdkWrite:
    """One item of an SDK-key request that names a profile."""

    index: int | None
    external_id: str
    user_hash: str | None
    restricted_fields: tuple[str, ...] = ()


def _guard_sdk_writes(
    project: Project, mapping: dict[str, int], created: Sequence[int], writes: Sequence[SdkWrite]
) -> None:
    """Refuse (403, nothing stored: the caller's transaction rolls back) an SDK-key write
    that changes an identified profile's contact fields, or that names an identified
    profile without its ``user_hash`` while identity verification is on.

    An identified profile is any existing profile that is not ``anonymous``; the hash is
    checked against its own id, so an old anonymous id (an alias) does not get around it.
    """
    existing = set(mapping.values()).difference(created)
    if not existing:
        return
    identified = dict(
        Profile.objects.filter(pk__in=existing, anonymous=False).values_list("id", "external_id")
    )
    errors: list[dict[str, object]] = []
    for write in writes:
        external_id = identified.get(mapping[write.external_id])
        if external_id is None:
            continue
        if write.restricted_fields:
            errors.append(
                ingest_error(
                    write.index,
                    write.restricted_fields[0],
                    f"The public SDK key cannot change {', '.join(write.restricted_fields)} of "
                    f"the identified profile {external_id!r}; send them from your server with "
                    "the ingest key.",
                )
            )
        if project.identity_verification and not identity_verified(
            project, external_id, write.user_hash
        ):
            errors.append(
                ingest_error(
                    write.index,
                    "user_hash",
                    f"Identity verification is on: calls with the SDK key that name the "
                    f"identified profile {external_id!r} need user_hash = hex "
                    "HMAC-SHA256(project secret, profile id).",
                )
            )
    if errors:
        raise IngestError(errors, status=403)


# --- events ----------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    event_ids: list[int]


def events_ingest(
    *, project: Project, records: Sequence[EventRecord], via_sdk: bool = False
) -> IngestResult:
    """Store a validated batch; the engine is told after commit.

    ``via_sdk``: sent with the public SDK key (identity verification applies). The events
    go through COPY on PostgreSQL (engine/event_store.py); if a concurrent request stores
    one of the same client ids meanwhile, the whole batch runs once more through
    ``INSERT ... ON CONFLICT DO NOTHING`` (the same answer: that event is a duplicate).
    """
    try:
        return _events_ingest(project, records, via_sdk=via_sdk, copy=True)
    except event_store.CopyConflict:
        return _events_ingest(project, records, via_sdk=via_sdk, copy=False)


def _events_ingest(
    project: Project, records: Sequence[EventRecord], *, via_sdk: bool, copy: bool
) -> IngestResult:
    with transaction.atomic():
        profiles, created = _resolve_profiles(
            project, (r.profile_id for r in records), via_sdk=via_sdk
        )
        if via_sdk and project.identity_verification:
            _guard_sdk_writes(
                project,
                profiles,
                created,
                [SdkWrite(i, r.profile_id, r.user_hash) for i, r in enumerate(records)],
            )
        event_ids = event_store.store(
            project.pk,
            [(profiles[r.profile_id], r.name, r.ts, r.properties, r.client_id) for r in records],
            timezone.now(),
            copy=copy,
        )
        if event_ids:
            # The engine's to-do, committed with the events (engine/inbox.py).
            EventInbox.objects.create(
                project=project, event_ids=event_ids, created_at=timezone.now()
            )
            transaction.on_commit(
                partial(
                    signals.events_stored.send,
                    sender=Event,
                    project_id=project.pk,
                    event_ids=event_ids,
                )
            )
        if created:
            transaction.on_commit(
                partial(
                    signals.profiles_changed.send,
                    sender=Profile,
                    project_id=project.pk,
                    profile_ids=created,
                )
            )
    return IngestResult(len(event_ids), len(records) - len(event_ids), event_ids)


# --- profiles --------------------------------------------------------------------


@dataclass(frozen=True)
class UpsertResult:
    created: int
    updated: int
    ids: dict[str, int]  # external id sent -> profile id (after aliases)


def _apply(profile: Profile, record: ProfileRecord) -> bool:
    changed = False
    for key, value in record.fields.items():
        if getattr(profile, key) != value:
            setattr(profile, key, value)
            changed = True
    if record.properties is not None:
        merged = merge_properties(profile.properties or {}, record.properties)
        if merged != profile.properties:
            profile.properties = merged
            changed = True
    return changed


def profiles_upsert(
    *,
    project: Project,
    records: Sequence[ProfileRecord],
    via_sdk: bool = False,
) -> UpsertResult:
    """Create missing profiles and merge the sent fields into the stored ones.

    ``via_sdk``: sent with the public SDK key, which may set only properties (and the
    time zone) of an identified profile.
    """
    with transaction.atomic():
        mapping, created = _resolve_profiles(
            project, (r.external_id for r in records), via_sdk=via_sdk
        )
        if via_sdk:
            _guard_sdk_writes(
                project,
                mapping,
                created,
                [
                    SdkWrite(
                        i,
                        r.external_id,
                        r.user_hash,
                        tuple(f for f in SDK_RESTRICTED_FIELDS if f in r.fields)
                        + (("subscriptions",) if r.subscriptions is not None else ()),
                    )
                    for i, r in enumerate(records)
                ],
            )
        # Lock the rows so two concurrent merges into one profile do not lose keys. NO KEY
        # UPDATE (what an UPDATE takes anyway) lets a worker's foreign key check on the
        # profile (KEY SHARE: a new frequency counter) go on: with FOR UPDATE an identify
        # and workers sending to the same people deadlocked.
        locked = {
            p.pk: p
            for p in Profile.objects.select_for_update(no_key=True)
            .filter(pk__in=set(mapping.values()))
            .order_by("pk")
        }
        changed: list[Profile] = []
        for record in records:
            profile = locked[mapping[record.external_id]]
            if _apply(profile, record):
                profile.updated_at = timezone.now()
                changed.append(profile)
        if changed:
            Profile.objects.bulk_update(
                changed,
                ["email", "phone", "timezone", "properties", "push_tokens", "updated_at"],
                batch_size=500,
            )
        for record in records:
            for channel, subscribed in (record.subscriptions or {}).items():
                consent.subscription_set(
                    profile_id=mapping[record.external_id],
                    channel=channel,
                    subscribed=subscribed,
                    source=consent.SOURCE_API,
                )
        touched = sorted({p.pk for p in changed} | set(created))
        if touched:
            transaction.on_commit(
                partial(
                    signals.profiles_changed.send,
                    sender=Profile,
                    project_id=project.pk,
                    profile_ids=touched,
                )
            )
    created_set = set(created)
    return UpsertResult(
        created=len(created_set),
        updated=len(records) - len(created_set),
        ids=mapping,
    )


def _move_journey_history(source: Profile, target: Profile) -> None:
    """The anonymous visitor's journeys become the identified profile's.

    Where both are in the same journey at once, the identified profile's stay wins and
    the visitor's is exited as "merged" (a user is never in one journey twice at once).
    """
    from django.db.models import F

    from engine.models import Enrollment, Message, Step

    now = timezone.now()
    for state in (Enrollment.State.ACTIVE, Enrollment.State.CANDIDATE):
        clash = Enrollment.objects.filter(profile=target, state=state).values("journey_id")
        Enrollment.objects.filter(profile=source, state=state, journey_id__in=clash).update(
            state=Enrollment.State.EXITED
            if state == Enrollment.State.ACTIVE
            else Enrollment.State.CANCELLED,
            exit_reason=Enrollment.ExitReason.MERGED if state == Enrollment.State.ACTIVE else "",
            exit_node=F("node") if state == Enrollment.State.ACTIVE else "",
            exited_at=now if state == Enrollment.State.ACTIVE else None,
            wake_at=None,
            revision=F("revision") + 1,
        )
    stays = list(Enrollment.objects.filter(profile=source).values_list("id", flat=True))
    Enrollment.objects.filter(id__in=stays).update(profile=target)
    Step.objects.filter(enrollment_id__in=stays).update(profile=target)
    Message.objects.filter(profile=source).update(profile=target)


def identity_hash(project: Project, profile_id: str) -> str:
    return hmac.new(
        project.identity_secret.encode(), profile_id.encode(), hashlib.sha256
    ).hexdigest()


def identity_verified(project: Project, profile_id: str, user_hash: str | None) -> bool:
    """Constant-time check of the web SDK's user_hash (any text, never an exception)."""
    if not user_hash:
        return False
    expected = identity_hash(project, profile_id).encode()
    return hmac.compare_digest(expected, user_hash.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class IdentifyResult:
    profile: Profile
    created: bool
    merged: bool


def _mergeable(anon: Profile, *, via_sdk: bool) -> bool:
    """Identify folds only an anonymous visitor into a profile: never one that was
    identified or has an email or phone; through the SDK key, only one the SDK made."""
    if anon.identified_at is not None or anon.email or anon.phone:
        return False
    return anon.anonymous or not via_sdk


def push_tokens_merged(kept: Any, added: Any) -> list[Any]:
    """The identified profile's push tokens with the visitor's joined: one entry per token
    (the more recently subscribed one when both have it; the identified profile's on a
    tie), mobile tokens first, then web push subscriptions oldest first, at most
    ``MAX_SUBSCRIPTIONS`` of them (the newest browsers win, as when a browser subscribes).
    The same lists give the same answer, so a repeated merge changes nothing."""
    from engine.channels.web_push import MAX_SUBSCRIPTIONS

    def since(entry: Any) -> str:
        return str(entry.get("subscribed_at") or "") if isinstance(entry, dict) else ""

    by_token: dict[Any, Any] = {}
    for entry in [*(kept or []), *(added or [])]:
        if not isinstance(entry, dict) or not entry.get("token"):
            continue
        token = entry["token"]
        if token not in by_token or since(entry) > since(by_token[token]):
            by_token[token] = entry
    entries = list(by_token.values())
    mobile = [e for e in entries if e.get("platform") != "web"]
    web = sorted((e for e in entries if e.get("platform") == "web"), key=since)
    return [*mobile, *web[-MAX_SUBSCRIPTIONS:]]


def profile_identify(
    *, project: Project, record: IdentifyRecord, via_sdk: bool = False
) -> IdentifyResult:
    """Upsert the identified profile and fold the anonymous profile into it.

    The anonymous profile's events move to the identified one, its properties fill
    keys the identified profile does not have, its subscription statuses move too (the
    more recently changed wins per channel), its push tokens and web push subscriptions
    join the identified profile's, its frequency-cap counts are added to the identified
    profile's (so caps hold across the merge), and its external id becomes an alias
    so that late events sent under it land on the identified profile. A profile that
    is not anonymous (``_mergeable``) is left alone: the call identifies without merging.
    """
    target_ext = record.profile.external_id
    anon_ext = record.anonymous_id if record.anonymous_id != target_ext else None
    with transaction.atomic():
        try:
            upsert = profiles_upsert(project=project, records=[record.profile], via_sdk=via_sdk)
        except IngestError as exc:
            for item in exc.errors:
                item["index"] = None
            raise
        target = Profile.objects.select_for_update(no_key=True).get(pk=upsert.ids[target_ext])
        if target.identified_at is None or target.anonymous:
            target.identified_at = target.identified_at or timezone.now()
            target.anonymous = False
            target.save(update_fields=["identified_at", "anonymous", "updated_at"])
        merged = False
        if anon_ext:
            anon = (
                Profile.objects.select_for_update()
                .filter(project=project, external_id=anon_ext)
                .exclude(pk=target.pk)
                .first()
            )
            if anon is not None and _mergeable(anon, via_sdk=via_sdk):
                Event.objects.filter(profile=anon).update(profile=target)
                target.properties = {**(anon.properties or {}), **(target.properties or {})}
                for key in ("email", "phone", "timezone"):
                    if not getattr(target, key) and getattr(anon, key):
                        setattr(target, key, getattr(anon, key))
                target.push_tokens = push_tokens_merged(target.push_tokens, anon.push_tokens)
                target.save()
                ProfileAlias.objects.filter(profile=anon).update(profile=target)
                # Before the messages move: a sending worker locks a counter, then its message.
                limits.counts_merge(source_id=anon.pk, target_id=target.pk)
                _move_journey_history(anon, target)
                consent.subscriptions_merge(source_id=anon.pk, target_id=target.pk)
                anon.delete()
                ProfileAlias.objects.get_or_create(
                    project=project, alias=anon_ext, defaults={"profile": target}
                )
                merged = True
    return IdentifyResult(profile=target, created=upsert.created == 1, merged=merged)


def project_rotate_key(*, project: Project, kind: str) -> Project:
    """Give the project a new ``ingest`` (server) or ``sdk`` (public) key; the old one
    answers 401 from the moment this commits. Retrying rotates again (a newer key)."""
    from engine.models import new_ingest_key, new_sdk_key

    if kind == "ingest":
        project.ingest_key = new_ingest_key()
        project.ingest_key_seen_in_browser_at = None
        project.save(update_fields=["ingest_key", "ingest_key_seen_in_browser_at"])
    elif kind == "sdk":
        project.sdk_key = new_sdk_key()
        project.save(update_fields=["sdk_key"])
    else:
        raise ProjectError("key", f"Unknown key {kind!r}: rotate 'ingest' or 'sdk'.")
    return project
