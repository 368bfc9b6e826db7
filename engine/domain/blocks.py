"""Block dataclasses of journey definitions and the parse function of each block type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .fields import ID_PATTERN, BlockContext, Comparison, Reader, SumComparison, join
from .filters import Filter, ValueFilter

__all__ = [
    "DEFAULT_IN_APP_EXPIRY",
    "MESSAGE_FIELDS",
    "WEBHOOK_METHODS",
    "ActionBlock",
    "ActionGoal",
    "Block",
    "BlockHeader",
    "Condition",
    "DateTimeBlock",
    "DelayBlock",
    "DidCondition",
    "DidNotCondition",
    "Goal",
    "InactionBlock",
    "JourneyTriggerBlock",
    "MessageBlock",
    "PageCountBlock",
    "PageVisitBlock",
    "PastBehaviourBlock",
    "PastBehaviourGoal",
    "ProfileCondition",
    "ReferrerEntryBlock",
    "parse_conditions",
]

DEFAULT_IN_APP_EXPIRY = 86400
WEBHOOK_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
MATCH_CHOICES: tuple[str, ...] = ("all", "any")
EVALUATE_CHOICES: tuple[str, ...] = ("midnight", "on_arrival")
SCOPE_CHOICES: tuple[str, ...] = ("session", "total")
MAX_WINDOW_DAYS = 3650
_ONLY_INSIDE = "'{key}' can be set only inside a journey, not on the entry"
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")


# -- blocks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """Common to every block: its id, type string and optional display name."""

    id: str
    type: str
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class BlockHeader:
    """The already-checked common fields handed to a block type's parse function."""

    id: str
    type: str
    name: str | None


@dataclass(frozen=True)
class ActionBlock(Block):
    """Did ``event`` (matching ``where``); inside, waits up to ``within`` (None = no limit)."""

    event: str
    where: tuple[Filter, ...] = ()
    within: int | None = None


@dataclass(frozen=True)
class InactionBlock(Block):
    """Did NOT do ``not_event`` within ``within``; at entry, counted from doing ``event``."""

    event: str | None
    where: tuple[Filter, ...]
    not_event: str
    not_where: tuple[Filter, ...]
    within: int


@dataclass(frozen=True)
class DidCondition:
    """Did ``event`` (matching ``where``); ``count`` None and ``sum`` None mean at least once.

    With both ``count`` and ``sum`` set, both must hold.
    """

    kind: ClassVar[str] = "did"
    event: str
    where: tuple[Filter, ...] = ()
    count: Comparison | None = None
    sum: SumComparison | None = None

    @property
    def effective_count(self) -> Comparison | None:
        """The count to check: ``count``, or ``>= 1`` when neither count nor sum is given."""
        if self.count is None and self.sum is None:
            return Comparison("gte", 1)
        return self.count


@dataclass(frozen=True)
class DidNotCondition:
    """Did not do ``event`` (matching ``where``) in the window."""

    kind: ClassVar[str] = "did_not"
    event: str
    where: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class ProfileCondition:
    """A profile property filter."""

    kind: ClassVar[str] = "profile"
    filter: Filter


Condition = DidCondition | DidNotCondition | ProfileCondition


@dataclass(frozen=True)
class PastBehaviourBlock(Block):
    """Conditions over the last ``window_days`` days; ``evaluate`` is None at entry."""

    window_days: int
    match: str
    conditions: tuple[Condition, ...]
    evaluate: str | None = None


@dataclass(frozen=True)
class DateTimeBlock(Block):
    """Qualifies at profile property ``property`` (a date-time) + ``offset`` seconds."""

    property: str
    offset: int = 0


@dataclass(frozen=True)
class JourneyTriggerBlock(Block):
    """Entry only: qualified for block ``node`` of journey ``journey`` (ids as strings)."""

    journey: str
    node: str


@dataclass(frozen=True)
class PageVisitBlock(Block):
    """Viewed a page whose URL matches ``url``."""

    url: ValueFilter
    within: int | None = None


@dataclass(frozen=True)
class ReferrerEntryBlock(Block):
    """Viewed a page with a referrer matching ``referrer``."""

    referrer: ValueFilter
    within: int | None = None


@dataclass(frozen=True)
class PageCountBlock(Block):
    """Viewed a number of pages matching ``count``, in the session or in total (``scope``)."""

    count: Comparison
    scope: str = "session"
    within: int | None = None


@dataclass(frozen=True)
class MessageBlock(Block):
    """A message on ``channel`` (= type); ``content`` has every field of the channel (None if unset)."""

    channel: str
    content: Mapping[str, Any]


@dataclass(frozen=True)
class DelayBlock(Block):
    """Wait ``duration`` seconds (> 0)."""

    duration: int


@dataclass(frozen=True)
class ActionGoal:
    """Goal met as soon as the user does ``event`` (matching ``where``)."""

    type: ClassVar[str] = "action"
    id: str
    event: str
    where: tuple[Filter, ...] = ()
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class PastBehaviourGoal:
    """Goal checked daily at 12:00 am project time over the last ``window_days`` days."""

    type: ClassVar[str] = "past_behaviour"
    id: str
    window_days: int
    match: str
    conditions: tuple[Condition, ...]
    name: str | None = field(default=None, kw_only=True)


Goal = ActionGoal | PastBehaviourGoal


# -- parse functions (registered in registry.py) ------------------------------------------


def _within(raw: Mapping[str, Any], ctx: BlockContext) -> int | None:
    if ctx.at_entry:
        ctx.reader.forbid(raw, ctx.path, "within", _ONLY_INSIDE.format(key="within"))
        return None
    return ctx.reader.get_duration(raw, ctx.path, "within", required=False)


def parse_action(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    event = r.get_event(raw, ctx.path, "event", required=True)
    where = r.where(raw, ctx.path)
    within = _within(raw, ctx)
    if event is None or where is None:
        return None
    return ActionBlock(head.id, head.type, event, where, within, name=head.name)


def parse_inaction(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    event: str | None = None
    where: tuple[Filter, ...] | None = ()
    if ctx.at_entry:
        event = r.get_event(raw, ctx.path, "event", required=True)
        where = r.where(raw, ctx.path)
    else:
        message = "Inside a journey, inaction counts from the user's arrival; remove '{key}'"
        r.forbid(raw, ctx.path, "event", message.format(key="event"))
        if raw.get("where"):
            r.error(ctx.at("where"), message.format(key="where"))
    not_event = r.get_event(raw, ctx.path, "not_event", required=True)
    not_where = r.where(raw, ctx.path, "not_where")
    within = r.get_duration(raw, ctx.path, "within", required=True)
    if (ctx.at_entry and event is None) or where is None:
        return None
    if not_event is None or not_where is None or within is None:
        return None
    return InactionBlock(
        head.id, head.type, event, where, not_event, not_where, within, name=head.name
    )


def _condition(r: Reader, raw: Any, path: str) -> Condition | None:
    if not isinstance(raw, Mapping):
        r.error(path, "A condition must be an object with a 'kind' (did, did_not or profile)")
        return None
    kind = r.get_choice(raw, path, "kind", ("did", "did_not", "profile"), default=None)
    if kind is None:
        return None
    if kind == "profile":
        f = r.filter(raw, path)
        return ProfileCondition(f) if f is not None else None
    event = r.get_event(raw, path, "event", required=True)
    where = r.where(raw, path)
    if kind == "did_not":
        for key in ("count", "sum"):
            r.forbid(raw, path, key, f"'{key}' applies only to 'did' conditions")
        if event is None or where is None:
            return None
        return DidNotCondition(event, where)
    before = len(r.errors)
    count = r.comparison(raw, path, "count", minimum=0, required=False)
    total = r.sum_comparison(raw, path, "sum")
    if event is None or where is None or len(r.errors) > before:
        return None
    return DidCondition(event, where, count, total)


def parse_conditions(r: Reader, raw: Mapping[str, Any], path: str) -> tuple[Condition, ...] | None:
    """The ``conditions`` list of a past-behaviour block or goal."""
    items = raw.get("conditions")
    at = join(path, "conditions")
    if not isinstance(items, list | tuple) or not items:
        r.error(at, "Add at least one condition (did, did_not or profile)")
        return None
    if len(items) > 50:
        r.error(at, "At most 50 conditions")
        return None
    parsed = [_condition(r, item, join(at, i)) for i, item in enumerate(items)]
    if any(c is None for c in parsed):
        return None
    return tuple(c for c in parsed if c is not None)


def parse_window(r: Reader, raw: Mapping[str, Any], path: str) -> tuple[int | None, str | None]:
    window = r.get_int(raw, path, "window_days", minimum=1, maximum=MAX_WINDOW_DAYS)
    match = r.get_choice(raw, path, "match", MATCH_CHOICES, default="all")
    return window, match


def parse_past_behaviour(
    raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader
) -> Block | None:
    r = ctx.reader
    window, match = parse_window(r, raw, ctx.path)
    conditions = parse_conditions(r, raw, ctx.path)
    evaluate: str | None = None
    if ctx.at_entry:
        r.forbid(raw, ctx.path, "evaluate", _ONLY_INSIDE.format(key="evaluate"))
    else:
        evaluate = r.get_choice(raw, ctx.path, "evaluate", EVALUATE_CHOICES, default="midnight")
        if evaluate is None:
            return None
    if window is None or match is None or conditions is None:
        return None
    return PastBehaviourBlock(
        head.id, head.type, window, match, conditions, evaluate, name=head.name
    )


def parse_date_time(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    prop = r.property_name(raw.get("property"), ctx.at("property"))
    offset = r.get_duration(
        raw, ctx.path, "offset", required=False, positive=False, allow_negative=True
    )
    if prop is None or (offset is None and raw.get("offset") is not None):
        return None
    return DateTimeBlock(head.id, head.type, prop, offset or 0, name=head.name)


def parse_journey_trigger(
    raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader
) -> Block | None:
    journey_raw = raw.get("journey")
    journey: str | None = None
    if journey_raw is None:
        ctx.error("journey", "'journey' is required (the id of another journey of this project)")
    elif isinstance(journey_raw, bool) or not isinstance(journey_raw, str | int):
        ctx.error("journey", "'journey' must be a journey id")
    elif isinstance(journey_raw, int):
        if journey_raw < 1 or journey_raw > 2**63:
            ctx.error("journey", "'journey' must be a journey id")
        else:
            journey = str(journey_raw)
    elif not journey_raw.strip() or len(journey_raw) > 64:
        ctx.error("journey", "'journey' must be a journey id")
    else:
        journey = journey_raw
    node = raw.get("node")

    if node is None:
        ctx.error("node", "'node' is required (a block id of that journey)")
        node = None
    elif not isinstance(node, str) or not ID_PATTERN.match(node):
        ctx.error("node", "'node' must be a block id")
        node = None
    if journey is None or node is None:
        return None
    validation = ctx.validation
    if validation is not None:
        if validation.this_journey is not None and str(validation.this_journey) == journey:
            ctx.error(
                "journey", "A journey cannot be triggered by its own blocks; choose another journey"
            )
            return None
        blocks = validation.journey_blocks(journey)
        if blocks is None:
            ctx.error("journey", f"Journey '{journey}' does not exist in this project")
            return None
        if node not in blocks:
            ctx.error("node", f"Journey '{journey}' has no block '{node}'")
            return None
    return JourneyTriggerBlock(head.id, head.type, journey, node, name=head.name)


def parse_page_visit(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    url = ctx.reader.value_filter(raw, ctx.path, "url")
    within = _within(raw, ctx)
    if url is None:
        return None
    return PageVisitBlock(head.id, head.type, url, within, name=head.name)


def parse_referrer_entry(
    raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader
) -> Block | None:
    referrer = ctx.reader.value_filter(raw, ctx.path, "referrer")
    within = _within(raw, ctx)
    if referrer is None:
        return None
    return ReferrerEntryBlock(head.id, head.type, referrer, within, name=head.name)


def parse_page_count(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    count = r.comparison(raw, ctx.path, "count", minimum=1, required=True)
    scope = r.get_choice(raw, ctx.path, "scope", SCOPE_CHOICES, default="session")
    within = _within(raw, ctx)
    if count is None or scope is None:
        return None
    return PageCountBlock(head.id, head.type, count, scope, within, name=head.name)


def parse_delay(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    duration = ctx.reader.get_duration(raw, ctx.path, "duration", required=True)
    if duration is None:
        return None
    return DelayBlock(head.id, head.type, duration, name=head.name)


# Per channel: (field, required) of its template fields, in palette order.
MESSAGE_FIELDS: Mapping[str, tuple[tuple[str, bool], ...]] = {
    "push": (("title", True), ("body", True), ("url", False)),
    "web_push": (("title", True), ("body", True), ("url", False)),
    "email": (("subject", True), ("html", False), ("text", False)),
    "sms": (("body", True),),
    "in_app": (("title", False), ("body", False), ("button_text", False), ("button_url", False)),
    "webhook": (("url", True), ("body", False)),
}
# Channels that need at least one of these fields.
_ONE_OF: Mapping[str, tuple[str, ...]] = {"email": ("html", "text"), "in_app": ("title", "body")}


def _webhook_extras(raw: Mapping[str, Any], ctx: BlockContext, content: dict[str, Any]) -> None:
    r = ctx.reader
    url = content.get("url")
    if isinstance(url, str) and not _HTTP_URL.match(url.strip()):
        ctx.error("url", "The webhook URL must start with http:// or https:// and name a host")
    method = raw.get("method")
    if method is None:
        content["method"] = "POST"
    elif not isinstance(method, str) or method.upper() not in WEBHOOK_METHODS:
        ctx.error("method", f"Unknown method '{method}'; use one of: {', '.join(WEBHOOK_METHODS)}")
    else:
        content["method"] = method.upper()
    headers = raw.get("headers")
    content["headers"] = {}
    if headers is None:
        return
    if not isinstance(headers, Mapping):
        ctx.error("headers", "'headers' must be an object of header name to text value")
        return
    for key, value in headers.items():
        at = join(ctx.at("headers"), str(key))
        if not isinstance(key, str) or not _HEADER_NAME.match(key):
            r.error(at, f"'{key}' is not a valid header name")
        elif not isinstance(value, str):
            r.error(at, "Header values must be text")
        else:
            checked = r.get_str(
                headers, ctx.at("headers"), key, template=True, label=f"Header '{key}'"
            )
            if checked is not None:
                content["headers"][key] = checked


def parse_message(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    before = len(r.errors)
    channel = head.type
    content: dict[str, Any] = {}
    for key, required in MESSAGE_FIELDS[channel]:
        content[key] = r.get_str(raw, ctx.path, key, required=required, template=True)
    one_of = _ONE_OF.get(channel)
    if one_of is not None and all(
        raw.get(key) is None or (isinstance(raw.get(key), str) and not raw[key].strip())
        for key in one_of
    ):
        ctx.error(
            one_of[0], f"Add {' or '.join(repr(k) for k in one_of)} (at least one is required)"
        )
    if channel == "in_app":
        expiry = r.get_duration(raw, ctx.path, "expires_after", required=False)
        content["expires_after"] = DEFAULT_IN_APP_EXPIRY if expiry is None else expiry
    if channel == "webhook":
        _webhook_extras(raw, ctx, content)
    if len(r.errors) > before:
        return None
    return MessageBlock(head.id, head.type, channel, content, name=head.name)


def _goal_fields_ok(r: Reader, before: int) -> bool:
    return len(r.errors) == before


def parse_goal(
    r: Reader, raw: Mapping[str, Any], path: str, goal_id: str, name: str | None
) -> Goal | None:
    """The fields of a goal (its id, name and type already checked by the caller)."""
    before = len(r.errors)
    if raw.get("type") == "action":
        event = r.get_event(raw, path, "event", required=True)
        where = r.where(raw, path)
        if event is None or where is None or not _goal_fields_ok(r, before):
            return None
        return ActionGoal(goal_id, event, where, name=name)
    window, match = parse_window(r, raw, path)
    conditions = parse_conditions(r, raw, path)
    if window is None or match is None or conditions is None:
        return None
    return PastBehaviourGoal(goal_id, window, match, conditions, name=name)
