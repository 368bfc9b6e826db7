"""Fixtures for the security tests: the engine harness of the flow tests."""

from __future__ import annotations

from tests.engine.flows.conftest import Engine, _fresh_engine_caches, engine

__all__ = ["Engine", "_fresh_engine_caches", "engine"]
