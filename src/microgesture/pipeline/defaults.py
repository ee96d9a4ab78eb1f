"""The default online model: a small window classifier trained on SYNTHETIC interview streams.

Why it exists: ``microgesture analyze`` must work on a fresh install with no licensed data. The synthetic
streams (``data.synthetic``) are procedurally generated skeletons — no person was recorded — so the model
demonstrates the pipeline end to end but says nothing about real micro-gestures; every report it
produces says so. A model trained on real data is passed with ``--model``. Training takes tens of
seconds on two CPU cores and the result is cached (``analyze.default_model``).
"""

from __future__ import annotations

from .online import TrainConfig, WindowModel, train_window_classifier

DEFAULT_WINDOW = 32
DEFAULT_ENCODER = {"name": "tcn", "channels": [64, 64, 128]}  # fast on CPU; see benchmarks/bench_pipeline.py


def default_train_config(seed: int = 0, epochs: int = 10) -> TrainConfig:
    opts = {k: v for k, v in DEFAULT_ENCODER.items() if k != "name"}
    return TrainConfig(encoder=DEFAULT_ENCODER["name"], encoder_options=opts, epochs=epochs, seed=seed)


def train_default_model(seed: int = 0, streams: int = 6, duration_s: float = 300.0, epochs: int = 10,
                        progress: bool = True) -> WindowModel:
    """Train the default window classifier on ``streams`` synthetic interviews of ``duration_s`` seconds."""
    from ..data.synthetic import CLASS_NAMES, make_interview_stream

    data = [make_interview_stream(seed=seed * 1000 + k, duration_s=duration_s, subject=k) for k in range(streams)]
    wm = train_window_classifier(data, list(CLASS_NAMES), window=DEFAULT_WINDOW,
                                 config=default_train_config(seed, epochs), progress=progress)
    wm.info.update({"label_space": "synthetic", "training_data": f"{streams} synthetic interview streams x "
                    f"{duration_s:.0f} s (data.synthetic.make_interview_stream, seed {seed})"})
    return wm
