import pytest

from engine.domain import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (1200, 1200),
        ("PT20M", 1200),
        ("P1D", 86400),
        ("P1DT2H", 93600),
        ("P2W", 1209600),
        ("PT1H30M15S", 5415),
        ("PT45S", 45),
        ("pt5m", 300),
        (" PT1S ", 1),
        ("P1W2D", 9 * 86400),
        (60.0, 60),
    ],
)
def test_parses_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("-PT2H", -7200), (-7200, -7200), ("PT2H", 7200), (0, 0), ("-P1D", -86400)],
)
def test_negative_durations_only_when_allowed(value, seconds):
    assert parse_duration(value, allow_negative=True) == seconds


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("PT0.5S", "whole seconds"),
        ("PT1,5S", "whole seconds"),
        (1.5, "whole"),
        ("P1Y", "days or weeks"),
        ("P1M", "days or weeks"),
        ("P1Y2M3D", "days or weeks"),
        ("P2M", "days or weeks"),
        ("-PT2H", "negative"),
        (-1, "negative"),
        ("P", "not a duration"),
        ("PT", "not a duration"),
        ("P1DT", "not a duration"),
        ("PT1H2D", "not a duration"),
        ("20 minutes", "not a duration"),
        ("", "not a duration"),
        (True, "ISO 8601"),
        (False, "ISO 8601"),
        (None, "ISO 8601"),
        ([1], "ISO 8601"),
        ({"a": 1}, "ISO 8601"),
        (float("nan"), "whole"),
        (float("inf"), "whole"),
        (10**30, "at most"),
        ("P99999999999D", "at most"),
    ],
)
def test_rejects_bad_durations_with_a_readable_message(value, fragment):
    with pytest.raises(DurationError) as caught:
        parse_duration(value)
    assert fragment in caught.value.message


def test_years_and_months_are_rejected_even_with_negatives_allowed():
    with pytest.raises(DurationError, match="days or weeks"):
        parse_duration("-P1M", allow_negative=True)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "PT0S"),
        (1200, "PT20M"),
        (86400, "P1D"),
        (93600, "P1DT2H"),
        (5415, "PT1H30M15S"),
        (-7200, "-PT2H"),
    ],
)
def test_formats_durations(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text, allow_negative=True) == seconds
