"""Kinematic micro-gesture detectors: rules over named joints that say what each micro-gesture *is*.

``detect_events(clip, cfg)`` turns one person's skeleton stream (any registered layout, NaN = missing) into
MG events with evidence; ``load_detector_config`` reads the packaged thresholds and a user's overrides;
``microgesture.training.detector_fit.fit_thresholds`` tunes them on annotated streams. numpy/scipy/pandas
only: no torch, no training data.
"""

from __future__ import annotations

from pathlib import Path

from .config import DetectorConfig, load_detector_config
from .detect import EVENT_COLUMNS, DetectionResult, detect_events

#: The thresholds ``microgesture analyze`` uses by default: the packaged (geometry) thresholds with the values
#: fitted on iMiGUE video 298's frames before its 60 % cut (``evaluation.online.fit_default_profile``).
DEFAULT_PROFILE = Path(__file__).with_name("profiles") / "imigue298.yaml"

__all__ = ["DEFAULT_PROFILE", "EVENT_COLUMNS", "DetectionResult", "DetectorConfig", "detect_events",
           "load_detector_config"]
