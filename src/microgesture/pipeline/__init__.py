"""From input to timeline: video → skeletons (MediaPipe, ``video``), main-person tracking (``tracking``),
online MG recognition with a window classifier (``online``), its evaluation (``evaluate_online``) and the
``analyze`` orchestrator behind ``microgesture analyze``."""
