"""Journeys as marketers see them: definitions, versions, lifecycle, the marketer API, the canvas."""
