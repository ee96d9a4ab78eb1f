"""A tiny pretraining / supervised setup for the training tests (seconds per epoch on one CPU core)."""

from __future__ import annotations

TINY_DATA = [
    "data.path=synthetic", "data.synthetic.clips_per_class=4", "data.num_frames=16", "data.batch_size=8",
    "trainer.progress_bar=false", "trainer.log_every_n_steps=1",
]
TINY_PRETRAIN = TINY_DATA + [
    "moco.queue_size=32", "moco.dim=16", "knn.enabled=false",
    "model.spatial.channels=[8,16]", "model.temporal.hidden_size=16", "model.temporal.num_layers=1", "model.dim=32",
]
TINY_SUPERVISED = TINY_DATA + [
    "model.encoder.spatial.channels=[8,16]", "model.encoder.temporal.hidden_size=16",
    "model.encoder.temporal.num_layers=1", "model.encoder.dim=32",
]
