"""Black-box journey scenarios over HTTP against a running server (as CI's smoke run does).

Usage: python scripts/e2e_scenarios.py http://127.0.0.1:8000 <marketer token>
Publishes short journeys (seconds) and checks entries, branches, re-entry, Date Time,
Journey Trigger, web segments, Inaction, pause/resume/stop, goals, time-outs and the stats
figures (attribution by block), the way a client would see them. Exits 1 if any check
fails.
"""

import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

B = sys.argv[1]
T = sys.argv[2]
H = {"Authorization": f"Token {T}"}
c = httpx.Client(base_url=B, timeout=10)
proj = c.post("/api/v1/projects", headers=H, json={"name": "Scenarios", "timezone": "UTC"}).json()
PID, K = proj["id"], proj["ingest_key"]
IK = {"Authorization": f"Bearer {K}"}
fails = []


def journey(name, definition):
    r = c.post(
        "/api/v1/journeys", headers=H, json={"project": PID, "name": name, "definition": definition}
    )
    assert r.status_code == 201, r.text
    j = r.json()
    r = c.post(f"/api/v1/journeys/{j['id']}/publish", headers=H)
    assert r.status_code == 200, r.text
    return j["id"]


def ev(pid, name, **props):
    r = c.post(
        "/api/v1/events",
        headers=IK,
        json={"events": [{"profile_id": pid, "name": name, "properties": props}]},
    )
    assert r.status_code == 202, r.text


def occ(jid):
    return c.get(f"/api/v1/journeys/{jid}/occupancy", headers=H).json()


def stats(jid):
    return c.get(f"/api/v1/journeys/{jid}/stats", headers=H).json()


def check(label, cond, info=""):
    if cond:
        print(f"ok   {label}")
    else:
        print(f"FAIL {label}: {info}")
        fails.append(label)


def wait_for(fn, timeout=8):
    """Poll until fn() holds; timers resolve within 2 s, so a few seconds is generous."""
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.25)
    return False


# 1. Date Time entry: enters 5 s before flight_time (flight in 8 s)
j1 = journey(
    "Flight",
    {
        "entry": {"id": "entry", "type": "date_time", "property": "flight_time", "offset": "-PT5S"},
        "nodes": [{"id": "sms", "type": "sms", "body": "Flight soon"}],
        "edges": [{"from": "entry", "to": "sms"}],
    },
)
time.sleep(1)
c.post(
    "/api/v1/profiles",
    headers=IK,
    json={
        "profiles": [
            {
                "id": "f1",
                "phone": "+15550100",
                "properties": {
                    "flight_time": (datetime.now(UTC) + timedelta(seconds=8)).isoformat()
                },
            }
        ]
    },
)
check("date_time: not entered early", stats(j1)["summary"]["entry"] == 0)
check(
    "date_time: entered about 3 s later",
    wait_for(lambda: stats(j1)["summary"]["entry"] == 1, 8),
    stats(j1),
)
check(
    "date_time: completed (no goal)",
    wait_for(lambda: stats(j1)["summary"]["completed"] == 1, 4),
    stats(j1),
)

# 2. Journey Trigger: users sent push1 in journey A enter journey B
ja = journey(
    "A",
    {
        "entry": {"id": "entry", "type": "action", "event": "Go"},
        "nodes": [{"id": "push1", "type": "push", "title": "t", "body": "b"}],
        "edges": [{"from": "entry", "to": "push1"}],
    },
)
jb = journey(
    "B",
    {
        "entry": {"id": "entry", "type": "journey_trigger", "journey": str(ja), "node": "push1"},
        "nodes": [{"id": "d", "type": "delay", "duration": "PT30S"}],
        "edges": [{"from": "entry", "to": "d"}],
    },
)
time.sleep(1)
ev("t1", "Go")
check("journey_trigger: user enters B", wait_for(lambda: occ(jb)["total"] == 1, 5), occ(jb))

# 3. Page Visit entry and Referrer entry (web segments)
jp = journey(
    "Pricing",
    {
        "entry": {
            "id": "entry",
            "type": "page_visit",
            "url": {"op": "contains", "value": "/pricing"},
        },
        "nodes": [{"id": "d", "type": "delay", "duration": "PT30S"}],
        "edges": [{"from": "entry", "to": "d"}],
    },
)
jr = journey(
    "FB",
    {
        "entry": {
            "id": "entry",
            "type": "referrer_entry",
            "referrer": {"op": "contains", "value": "facebook.com"},
        },
        "nodes": [{"id": "d", "type": "delay", "duration": "PT30S"}],
        "edges": [{"from": "entry", "to": "d"}],
    },
)
time.sleep(1)
ev(
    "w1",
    "Page Viewed",
    url="https://shop.example.com/pricing",
    referrer="https://www.facebook.com/",
    title="Pricing",
    session_id="s1",
)
ev("w2", "Page Viewed", url="https://shop.example.com/", referrer="", title="Home", session_id="s2")
check("page_visit: w1 in, w2 not", wait_for(lambda: occ(jp)["total"] == 1, 4), occ(jp))
check("referrer_entry: w1 in", wait_for(lambda: occ(jr)["total"] == 1, 4), occ(jr))

# 4. Inaction entry: cart, no purchase within 3 s -> enters; purchase cancels
ji = journey(
    "Abandon",
    {
        "entry": {
            "id": "entry",
            "type": "inaction",
            "event": "Cart",
            "not_event": "Buy",
            "within": "PT3S",
        },
        "nodes": [{"id": "d", "type": "delay", "duration": "PT30S"}],
        "edges": [{"from": "entry", "to": "d"}],
    },
)
time.sleep(1)
ev("i1", "Cart")
ev("i2", "Cart")
time.sleep(1)
ev("i2", "Buy")
check("inaction: nobody in before 3 s", occ(ji)["total"] == 0, occ(ji))
check(
    "inaction: i1 enters, i2 does not",
    wait_for(lambda: occ(ji)["total"] == 1, 6) and (time.sleep(2) or occ(ji)["total"] == 1),
    occ(ji),
)

# 5. Re-entry + branches: segment block inside with yes/no
jx = journey(
    "Branch",
    {
        "settings": {"allow_reentry": True},
        "entry": {"id": "entry", "type": "action", "event": "Start"},
        "nodes": [
            {"id": "seg", "type": "action", "event": "Buy", "within": "PT2S"},
            {"id": "yes", "type": "push", "title": "y", "body": "y"},
            {"id": "no", "type": "push", "title": "n", "body": "n"},
        ],
        "edges": [
            {"from": "entry", "to": "seg"},
            {"from": "seg", "to": "yes", "branch": "yes"},
            {"from": "seg", "to": "no", "branch": "no"},
        ],
    },
)
time.sleep(1)
ev("r1", "Start")
time.sleep(0.7)
ev("r1", "Buy")
check(
    "branch yes: completed",
    wait_for(lambda: stats(jx)["nodes"]["seg"]["yes"] == 1, 4),
    stats(jx)["nodes"]["seg"],
)
ev("r1", "Start")
check(
    "re-entry: enters again, times out to no",
    wait_for(lambda: stats(jx)["nodes"]["seg"]["no"] == 1, 6),
    stats(jx),
)
check("re-entry: entry 2", stats(jx)["summary"]["entry"] == 2, stats(jx)["summary"])

# 6a. Past Behaviour entry: spent at least $300 in the last week -> enters at publish
ev("pb1", "Charged", amount=200)
ev("pb1", "Charged", amount=150)
ev("pb2", "Charged", amount=100)
time.sleep(1)
jpb = journey(
    "Big spenders",
    {
        "entry": {
            "id": "entry",
            "type": "past_behaviour",
            "window_days": 7,
            "conditions": [
                {
                    "kind": "did",
                    "event": "Charged",
                    "sum": {"property": "amount", "op": "gte", "value": 300},
                }
            ],
        },
        "nodes": [{"id": "d", "type": "delay", "duration": "PT30S"}],
        "edges": [{"from": "entry", "to": "d"}],
    },
)
check(
    "past_behaviour entry: pb1 in, pb2 not", wait_for(lambda: occ(jpb)["total"] == 1, 5), occ(jpb)
)

# 6b. Page Count entry: third page view in a session
jpc = journey(
    "Browsers",
    {
        "entry": {"id": "entry", "type": "page_count", "count": {"op": "gte", "value": 3}},
        "nodes": [{"id": "d", "type": "delay", "duration": "PT30S"}],
        "edges": [{"from": "entry", "to": "d"}],
    },
)
time.sleep(1)
for n in range(2):
    ev("pc1", "Page Viewed", url=f"https://shop.example.com/{n}", session_id="s9")
time.sleep(1.5)
check("page_count: not after two pages", occ(jpc)["total"] == 0, occ(jpc))
ev("pc1", "Page Viewed", url="https://shop.example.com/3", session_id="s9")
check("page_count: enters on the third", wait_for(lambda: occ(jpc)["total"] == 1, 4), occ(jpc))

# 6. Pause / resume / stop
jz = journey(
    "Pause",
    {
        "entry": {"id": "entry", "type": "action", "event": "P"},
        "nodes": [
            {"id": "d", "type": "delay", "duration": "PT3S"},
            {"id": "h", "type": "push", "title": "t", "body": "b"},
        ],
        "edges": [{"from": "entry", "to": "d"}, {"from": "d", "to": "h"}],
    },
)
time.sleep(1)
ev("p1", "P")
time.sleep(0.7)
c.post(f"/api/v1/journeys/{jz}/pause", headers=H)
ev("p2", "P")
time.sleep(4.5)
o = occ(jz)
check("pause: no new entry, user kept at the delay", o["total"] == 1 and o["nodes"]["d"] == 1, o)
c.post(f"/api/v1/journeys/{jz}/resume", headers=H)
check(
    "resume: the frozen timer fires",
    wait_for(lambda: stats(jz)["summary"]["completed"] == 1, 4),
    stats(jz),
)
ev("p3", "P")
wait_for(lambda: occ(jz)["total"] == 1, 3)
r = c.post(f"/api/v1/journeys/{jz}/stop", headers=H)
check("stop: everyone exits", r.json()["status"] == "stopped" and occ(jz)["total"] == 0, occ(jz))
msgs = c.get(f"/api/v1/journeys/{jz}/messages", headers=H).json()["results"]
check(
    "messages endpoint lists the push once", len(msgs) == 1 and msgs[0]["channel"] == "push", msgs
)

# 8. Goal and time-out attribution: a goal met at the delay, one met at the last block
# (users who finish the path wait there for the goal), one timed out there.
jg = journey(
    "Goal",
    {
        "settings": {"conversion_time": "PT5S"},
        "entry": {"id": "entry", "type": "action", "event": "GS"},
        "nodes": [
            {"id": "d", "type": "delay", "duration": "PT1S"},
            {"id": "m", "type": "push", "title": "t", "body": "b"},
        ],
        "edges": [{"from": "entry", "to": "d"}, {"from": "d", "to": "m"}],
        "goals": [{"id": "bought", "type": "action", "event": "Bought"}],
    },
)
time.sleep(1)
for pid in ("g1", "g2", "g3"):
    ev(pid, "GS")
time.sleep(0.3)
ev("g1", "Bought")
check(
    "goal: g2 and g3 reach the last block and wait there",
    wait_for(lambda: occ(jg)["nodes"].get("m") == 2, 4),
    occ(jg),
)
ev("g3", "Bought")
check(
    "time-out: g2 times out at the last block",
    wait_for(lambda: stats(jg)["summary"]["time_out"] == 1, 8),
    stats(jg),
)
sg = stats(jg)
check(
    "goal attribution: summary",
    sg["summary"]
    == {"entry": 3, "goal_met": 2, "time_out": 1, "completed": None, "conversion_pct": 66.67},
    sg["summary"],
)
check(
    "goal attribution: by block",
    (sg["nodes"]["d"]["goal_met"], sg["nodes"]["m"]["goal_met"], sg["nodes"]["m"]["time_out"])
    == (1, 1, 1)
    and occ(jg)["total"] == 0,
    sg["nodes"],
)
print("FAILURES:", fails)
sys.exit(1 if fails else 0)
