"""Checkpoints: safe loading, strict architecture matching, atomic writes."""

from __future__ import annotations

import os

import pytest
import torch

from microgesture.errors import CheckpointError
from microgesture.models import create_model
from microgesture.training.checkpoint import (
    AtomicCheckpointIO,
    load_checkpoint,
    load_encoder,
    load_state_strict,
    save_encoder_checkpoint,
)

GEOM = {"layout": "imigue22", "in_channels": 2, "num_frames": 16}


@pytest.fixture()
def encoder_ckpt(tmp_path):
    torch.manual_seed(0)
    enc = create_model("stgcn_quarter", channels=[8, 16], **GEOM)
    path = save_encoder_checkpoint(tmp_path / "enc.ckpt", enc, {"data": {"layout": "imigue22"}})
    return enc, path


def test_encoder_round_trip_rebuilds_the_architecture(encoder_ckpt):
    enc, path = encoder_ckpt
    loaded, meta = load_encoder(path)
    assert loaded.config == enc.config and not loaded.training
    x = torch.randn(2, 1, 16, 22, 2)
    torch.testing.assert_close(loaded.eval()(x), enc.eval()(x))


def test_mismatched_architecture_fails_loudly(encoder_ckpt):
    _, path = encoder_ckpt
    wider = create_model("stgcn_quarter", channels=[8, 32], **GEOM)
    with pytest.raises(CheckpointError, match=r"shape mismatches \[blocks\.1"):
        load_encoder(path, model=wider)
    deeper = create_model("stgcn_quarter", channels=[8, 16, 16], **GEOM)
    with pytest.raises(CheckpointError, match=r"missing keys \[blocks\.2\."):
        load_encoder(path, model=deeper)
    other = create_model("gru", hidden_size=8, num_layers=1, **GEOM)
    with pytest.raises(CheckpointError, match="unexpected keys") as err:
        load_encoder(path, model=other)
    assert "missing keys" in str(err.value)
    before = [p.detach().clone() for p in other.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, other.parameters(), strict=True))  # nothing partially loaded


def test_load_state_strict_accepts_exact_match():
    m = torch.nn.Linear(3, 2)
    load_state_strict(m, {k: torch.zeros_like(v) for k, v in m.state_dict().items()}, "here")
    assert float(m.weight.detach().abs().sum()) == 0.0


class _Bomb:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['BOMB_MARKER']}",))


def test_pickle_bomb_checkpoint_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / "exploded"
    monkeypatch.setenv("BOMB_MARKER", str(marker))
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "microgesture": {"format": "microgesture.checkpoint"}, "x": _Bomb()}, path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_encoder(path)
    with pytest.raises(CheckpointError, match="refused"):
        AtomicCheckpointIO().load_checkpoint(path)  # Lightning's resume path goes through the same check
    assert not marker.exists()


def test_foreign_and_corrupt_files_are_rejected(tmp_path):
    plain = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(CheckpointError, match="not a microgesture checkpoint"):
        load_checkpoint(plain)
    truncated = tmp_path / "trunc.ckpt"
    src = tmp_path / "full.ckpt"
    torch.save({"a": torch.zeros(1000)}, src)
    truncated.write_bytes(src.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_atomic_save_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    io_ = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io_.save_checkpoint({"v": torch.ones(3)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        io_.save_checkpoint({"v": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["v"], torch.ones(3))  # the previous one survives
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temp files left behind

    original = os.replace

    def no_rename(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        io_.save_checkpoint({"v": torch.full((3,), 7.0)}, path)
    monkeypatch.setattr(os, "replace", original)
    assert torch.equal(torch.load(path, weights_only=True)["v"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
