"""The prepared-once cache: same tensors and the same epoch order as per-clip loading, and when it applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.dataset import SkeletonDataset
from microgesture.errors import ConfigError, DataError
from microgesture.training.config import schema
from microgesture.training.datamodule import (
    CachedClipDataset,
    ClipDataset,
    SkeletonDataModule,
    source_from_dataset,
)


def _clips(n: int = 21, m: int = 2) -> list[Clip]:
    rng = np.random.default_rng(0)
    clips = []
    for i in range(n):
        kp = rng.normal(size=(m, int(rng.integers(5, 40)), 25, 3)).astype(np.float32)
        kp[rng.random(kp.shape[:3]) < 0.05] = np.nan
        clips.append(Clip(kp, ClipMeta(f"c{i}", dataset="toy", layout="ntu25", label=i % 3)))
    return clips


def _module(clips: list[Clip], **data) -> SkeletonDataModule:
    cfg = OmegaConf.create(schema("pretrain")["data"])
    cfg.update(dict(train_split=None, num_frames=16, max_persons=2, batch_size=4, **data))
    ds = SkeletonDataset("toy", "ntu25", clips, ["a", "b", "c"], {})
    return SkeletonDataModule(cfg, seed=3, source=source_from_dataset(ds))


def _epoch(dm: SkeletonDataModule, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


def test_cached_loader_equals_per_clip_loader_batch_for_batch():
    clips = _clips()
    cached, plain = _module(clips, cache="true"), _module(clips, cache="false")
    cached.setup(), plain.setup()
    assert isinstance(cached.train_set, CachedClipDataset) and isinstance(plain.train_set, ClipDataset)
    assert cached.train_set.x.dtype == torch.float32 and cached.train_set.x.is_contiguous()
    for epoch in (0, 1):
        xc, yc = _epoch(cached, epoch)
        xp, yp = _epoch(plain, epoch)
        assert xc.shape == (20, 2, 16, 25, 3)  # drop_last: 5 full batches of 4 out of 21 clips
        torch.testing.assert_close(xc, xp, equal_nan=True, rtol=0, atol=0)
        assert torch.equal(yc, yp)
    assert not torch.equal(_epoch(cached, 0)[1], _epoch(cached, 1)[1])  # reshuffled per epoch
    assert len(cached.train_dataloader()) == len(plain.train_dataloader()) == 5


def test_eval_loader_is_ordered_complete_and_reused():
    dm = _module(_clips(), cache="auto")
    x, y = zip(*dm.eval_loader(None), strict=True)
    assert torch.cat(x).shape[0] == 21
    assert torch.equal(torch.cat(y), torch.arange(21) % 3)
    assert dm.eval_loader(None).dataset is dm.eval_loader(None).dataset


def test_random_sampling_is_never_cached():
    dm = _module(_clips(), cache="true", sampling="uniform")
    dm.setup()
    assert isinstance(dm.train_set, ClipDataset)
    assert isinstance(dm.make_dataset(dm.source.clips, train=False), CachedClipDataset)  # test mode: fixed


def test_over_budget_falls_back_to_per_clip(monkeypatch):
    monkeypatch.setattr("microgesture.training.datamodule.cache_budget_bytes", lambda: 1024)
    dm = _module(_clips(), cache="auto")
    dm.setup()
    assert isinstance(dm.train_set, ClipDataset)


def test_bad_cache_value_and_bad_clip_are_clear_errors():
    with pytest.raises(ConfigError, match="data.cache"):
        _module(_clips(), cache="sometimes").setup()
    clips = _clips()
    clips[4] = Clip(np.zeros((2, 0, 25, 3), np.float32), ClipMeta("empty", layout="ntu25", source="bad.skeleton"))
    with pytest.raises(DataError, match="bad.skeleton"):
        _module(clips, cache="true").setup()
