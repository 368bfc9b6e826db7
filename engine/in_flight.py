"""Engine services for users already in a journey when the builder changes it: move, exit, keep.

The builder decides (which blocks changed, what the marketer chose); only the engine
writes enrollments and steps. Every function is one or two set-based statements, run
inside the caller's transaction (publishing, stopping, deleting a journey).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import F

from engine.models import Enrollment, Step

__all__ = [
    "candidates_cancel",
    "candidates_switch",
    "enrollments_at",
    "enrollments_delete",
    "enrollments_exit",
    "enrollments_move",
    "enrollments_switch",
    "steps_leave",
]

ACTIVE = Enrollment.State.ACTIVE
CANDIDATE = Enrollment.State.CANDIDATE


def steps_leave(
    *,
    journey_id: int,
    outcome: str,
    detail: dict[str, Any],
    now: datetime,
    version_id: int | None = None,
    node: str | None = None,
) -> int:
    """One Step row per active enrollment (of ``version_id``, at ``node`` when given) for the
    block it is leaving, in ONE ``INSERT ... SELECT``. A Step the engine already opened for
    that visit is closed instead (upsert on enrollment, node, visit)."""
    db = router.db_for_write(Step)
    conn = connections[db]
    qn = conn.ops.quote_name
    step_meta, enr_meta = Step._meta, Enrollment._meta
    # The version's table through the enrollment's key (the engine names no builder table).
    ver_meta = enr_meta.get_field("version").related_model._meta  # type: ignore[union-attr]

    def prep(field: str, value: Any) -> Any:
        return step_meta.get_field(field).get_db_prep_save(value, conn)  # type: ignore[union-attr]

    known: dict[str, tuple[str, list[Any]]] = {
        "enrollment_id": (f"e.{qn('id')}", []),
        "journey_id": (f"e.{qn('journey_id')}", []),
        "version_number": (f"v.{qn('number')}", []),
        "profile_id": (f"e.{qn('profile_id')}", []),
        "node": (f"e.{qn('node')}", []),
        "visit": (f"e.{qn('visit')}", []),
        "entered_at": (
            f"COALESCE(e.{qn('node_entered_at')}, e.{qn('entered_at')}, %s)",
            [prep("entered_at", now)],
        ),
        "left_at": ("%s", [prep("left_at", now)]),
        "outcome": ("%s", [outcome]),
        "detail": ("%s", [prep("detail", detail)]),
    }
    columns: list[str] = []
    selects: list[str] = []
    params: list[Any] = []
    for field in step_meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(qn(field.column))
        if field.attname in known:
            sql, p = known[field.attname]
        else:  # a column added later: its default, so this statement keeps working
            sql, p = "%s", [field.get_db_prep_save(field.get_default(), conn)]
        selects.append(sql)
        params.extend(p)
    where = [f"e.{qn('journey_id')} = %s", f"e.{qn('state')} = %s"]
    params += [journey_id, ACTIVE]
    if version_id is not None:
        where.append(f"e.{qn('version_id')} = %s")
        params.append(version_id)
    if node is not None:
        where.append(f"e.{qn('node')} = %s")
        params.append(node)
    sql = (
        f"INSERT INTO {qn(step_meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(selects)} FROM {qn(enr_meta.db_table)} e "
        f"INNER JOIN {qn(ver_meta.db_table)} v ON v.{qn('id')} = e.{qn('version_id')} "
        f"WHERE {' AND '.join(where)} "
        f"ON CONFLICT ({qn('enrollment_id')}, {qn('node')}, {qn('visit')}) DO UPDATE SET "
        f"{qn('left_at')} = excluded.{qn('left_at')}, {qn('outcome')} = excluded.{qn('outcome')}, "
        f"{qn('detail')} = excluded.{qn('detail')}"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _active(journey_id: int, version_id: int | None, node: str | None) -> Any:
    qs = Enrollment.objects.filter(journey_id=journey_id, state=ACTIVE)
    if version_id is not None:
        qs = qs.filter(version_id=version_id)
    if node is not None:
        qs = qs.filter(node=node)
    return qs


def enrollments_move(
    *,
    journey_id: int,
    version_id: int,
    node: str,
    to_version_id: int,
    to_version_number: int,
    to: str,
    now: datetime,
) -> int:
    """Users at ``node`` of the old version move to block ``to`` of the new one (they
    arrive there: processed by the engine as soon as the new version is live)."""
    steps_leave(
        journey_id=journey_id,
        version_id=version_id,
        node=node,
        outcome=Step.Outcome.MOVED,
        detail={"to": to, "version": to_version_number},
        now=now,
    )
    return int(
        _active(journey_id, version_id, node).update(
            version_id=to_version_id,
            node=to,
            node_state=Enrollment.NodeState.PENDING,
            visit=F("visit") + 1,
            node_entered_at=now,
            wake_at=None,
            context={},
            revision=F("revision") + 1,
        )
    )


def enrollments_exit(
    *,
    journey_id: int,
    reason: str,
    now: datetime,
    version_id: int | None = None,
    node: str | None = None,
) -> int:
    """Users exit where they stand (of a version, at a block, or the whole journey),
    with the step of the block they leave."""
    steps_leave(
        journey_id=journey_id,
        version_id=version_id,
        node=node,
        outcome=Step.Outcome.EXIT,
        detail={"reason": reason},
        now=now,
    )
    return int(
        _active(journey_id, version_id, node).update(
            state=Enrollment.State.EXITED,
            exit_reason=reason,
            exit_node=F("node"),
            exited_at=now,
            wake_at=None,
            revision=F("revision") + 1,
        )
    )


def enrollments_switch(
    *, journey_id: int, version_id: int, to_version_id: int, nodes: Sequence[str]
) -> int:
    """Users at blocks the new version has unchanged follow the new version from there."""
    return int(
        _active(journey_id, version_id, None)
        .filter(node__in=list(nodes))
        .update(version_id=to_version_id, revision=F("revision") + 1)
    )


def enrollments_at(*, journey_id: int, version_id: int, node: str) -> int:
    """Users at a block (those the marketer keeps on the old version)."""
    return int(_active(journey_id, version_id, node).count())


def candidates_switch(*, journey_id: int, version_id: int, to_version_id: int) -> int:
    """Future entrants (Inaction, Date Time) of an unchanged entry enter the new version."""
    return int(
        Enrollment.objects.filter(
            journey_id=journey_id, version_id=version_id, state=CANDIDATE
        ).update(version_id=to_version_id, revision=F("revision") + 1)
    )


def candidates_cancel(*, journey_id: int, now: datetime, version_id: int | None = None) -> int:
    """Future entrants no longer enter (the entry changed, or the journey stopped)."""
    qs = Enrollment.objects.filter(journey_id=journey_id, state=CANDIDATE)
    if version_id is not None:
        qs = qs.filter(version_id=version_id)
    return int(
        qs.update(
            state=Enrollment.State.CANCELLED,
            wake_at=None,
            exited_at=now,
            revision=F("revision") + 1,
        )
    )


def enrollments_delete(*, journey_id: int) -> None:
    """A deleted journey's stays and their steps go with it."""
    Enrollment.objects.filter(journey_id=journey_id).delete()
