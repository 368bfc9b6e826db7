"""Occupancy and history of journeys: counters, the stats API, live websocket updates."""
