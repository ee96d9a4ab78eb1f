"""Emotion understanding from micro-gesture timelines: timelines → scenarios → reasoners → benchmark."""
