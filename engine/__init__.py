"""The engine: projects, profiles, events, ingest, and everything that runs journeys."""
