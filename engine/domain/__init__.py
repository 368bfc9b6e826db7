"""Pure domain of journeys: definition parsing and validation, blocks, filters, durations, templates."""

from .blocks import (
    ActionGoal,
    Block,
    Condition,
    DidCondition,
    DidNotCondition,
    Goal,
    PastBehaviourGoal,
    ProfileCondition,
)
from .definition import Definition, Edge, Settings, parse_definition, validate
from .durations import DurationError, format_duration, parse_duration
from .errors import DefinitionError, DefinitionInvalid
from .fields import COMPARISON_OPS, Comparison, SumComparison, ValidationContext
from .filters import (
    FILTER_OPS,
    VALUE_FILTER_OPS,
    Filter,
    ValueFilter,
    all_match,
    filter_matches,
    json_equal,
    lookup,
    value_matches,
)
from .kinds.action import ActionBlock
from .kinds.date_time import DateTimeBlock
from .kinds.delay import DelayBlock
from .kinds.inaction import InactionBlock
from .kinds.journey_trigger import JourneyTriggerBlock
from .kinds.message import MessageBlock
from .kinds.pages import PageCountBlock, PageVisitBlock, ReferrerEntryBlock
from .kinds.past_behaviour import PastBehaviourBlock
from .registry import REGISTRY, BlockType, FieldSpec, block_type, kind_of, palette
from .templates import TemplateError, render, template_errors

__all__ = [
    "COMPARISON_OPS",
    "FILTER_OPS",
    "REGISTRY",
    "VALUE_FILTER_OPS",
    "ActionBlock",
    "ActionGoal",
    "Block",
    "BlockType",
    "Comparison",
    "Condition",
    "DateTimeBlock",
    "Definition",
    "DefinitionError",
    "DefinitionInvalid",
    "DelayBlock",
    "DidCondition",
    "DidNotCondition",
    "DurationError",
    "Edge",
    "FieldSpec",
    "Filter",
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
    "Settings",
    "SumComparison",
    "TemplateError",
    "ValidationContext",
    "ValueFilter",
    "all_match",
    "block_type",
    "filter_matches",
    "format_duration",
    "json_equal",
    "kind_of",
    "lookup",
    "palette",
    "parse_definition",
    "parse_duration",
    "render",
    "template_errors",
    "validate",
    "value_matches",
]
