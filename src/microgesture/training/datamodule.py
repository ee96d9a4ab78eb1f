"""Data for training: one LightningDataModule over a dataset path (any reader kind), a native store, a
``SkeletonDataset`` in memory, or the synthetic iMiGUE-22 demo set.

Why this split of work: per-clip preprocessing (:func:`~microgesture.data.transforms.prepare_clip`: person
selection, centring, scaling, temporal sampling) runs on the CPU, NaN kept; augmentation runs on the *batch*
inside the LightningModule (on the training device, two views for contrastive learning), followed by
``fill_missing`` and on-device bone/motion streams.

Prepared once (``data.cache``): when the prepared input of a clip cannot change between epochs (sampling
``resize`` or ``last``, or any evaluation split), every clip is prepared ONCE into one contiguous float32
tensor ``[N, M, T, V, C]`` (:class:`CachedClipDataset`) and a batch is a single gather from it — the loader
is then indexing plus the pinned host→device copy (tens of thousands of clips/s, far above any training
rate, CPU or GPU; ``benchmarks/bench_pretrain.py``). ``auto`` caches when the tensor fits in a quarter of
the free memory (at most 8 GiB); bigger sets, and random temporal sampling (``uniform`` / ``crop_pad``
when training), fall back to preparing each clip in ``Dataset.__getitem__``.

Determinism: the sampler draws the epoch's permutation from ``(seed, epoch)`` and hands every item its own
seed for random temporal sampling, so an item's tensor depends neither on the worker that loads it nor on
whether the run was interrupted and resumed; the cached path walks the same permutation in batches.
Workers (``num_workers: null`` = automatic): 0 for a cached split and when training on the CPU (there the
per-clip loader is still ~18x faster than training and workers only steal cores from the compute threads),
up to 8 for per-clip loading on a GPU.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.clip import Clip
from ..data.dataset import SkeletonDataset
from ..data.inputs import InputSpec, prepare_clip
from ..data.layouts import get_layout
from ..data.native import NativeStore, is_native_store
from ..data.readers import open_dataset
from ..data.synthetic import make_mg_dataset
from ..data.transforms import stream_channels
from ..errors import ConfigError, DataError
from ..utils.paths import resolve_data_path

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------
# Sources: where the clips come from
# ----------------------------------------------------------------------------------------------------------
@dataclass
class DataSource:
    """Clips plus what training needs to know about them (layout, classes, splits, a fingerprint)."""

    name: str
    layout: str
    clips: Sequence[Clip]
    class_names: list[str] | None
    splits: dict[str, list[str]]
    fingerprint: str
    num_coords: int
    origin: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # dataset-level facts kept in checkpoints
    _positions: dict[str, int] = field(default_factory=dict, repr=False)

    def ids(self) -> list[str]:
        if hasattr(self.clips, "clip_ids"):
            return list(self.clips.clip_ids())  # NativeStore: no Clip objects built
        return [c.meta.clip_id for c in self.clips]

    def split(self, name: str | None, limit: int | None = None) -> Sequence[Clip]:
        """The clips of split ``name`` (all clips when ``None``), in dataset order."""
        if name is None:
            positions = np.arange(len(self.clips))
        else:
            if name not in self.splits:
                raise ConfigError(f"dataset {self.name} has no split {name!r}; known: {sorted(self.splits)}")
            if not self._positions:
                self._positions = {cid: i for i, cid in enumerate(self.ids())}
            missing = [cid for cid in self.splits[name] if cid not in self._positions]
            if missing:
                raise DataError(self.origin or None, f"split {name!r} names {len(missing)} unknown clip ids, "
                                                     f"e.g. {missing[:3]}")
            positions = np.sort(np.fromiter((self._positions[c] for c in self.splits[name]), dtype=np.int64))
        if limit is not None:
            positions = positions[: int(limit)]
        if len(positions) == 0:
            raise DataError(self.origin or None, f"split {name!r} of dataset {self.name} has no clips")
        if hasattr(self.clips, "select"):
            return self.clips.select(positions)
        return [self.clips[int(i)] for i in positions]


def fingerprint_clips(clips: Sequence[Clip]) -> str:
    """sha256 over clip ids, shapes and labels (for in-memory datasets; native stores carry their own)."""
    h = hashlib.sha256()
    for c in clips:
        h.update(f"{c.meta.clip_id}|{c.keypoints.shape}|{c.meta.label}\n".encode())
    return h.hexdigest()


def _from_dataset(ds: SkeletonDataset, origin: str) -> DataSource:
    if len(ds) == 0:
        raise DataError(origin or None, f"dataset {ds.name} has no readable clips ({len(ds.skipped)} skipped)")
    if ds.skipped:
        log.warning("%s: %d file(s) skipped while reading (see `microgesture data check`)", origin, len(ds.skipped))
    return DataSource(ds.name, ds.layout, ds.clips, ds.class_names, dict(ds.splits), fingerprint_clips(ds.clips),
                      int(ds.clips[0].num_coords), origin, dict(ds.meta))


def open_source(data_cfg: Any, seed: int = 0) -> DataSource:
    """Open ``data.path``: ``synthetic``, a native store directory, or any dataset ``open_dataset`` reads."""
    path = str(data_cfg.path)
    if path == "synthetic":
        opts = dict(data_cfg.get("synthetic") or {})
        opts.setdefault("seed", seed)
        if "num_frames" in opts:
            opts["num_frames"] = tuple(opts["num_frames"])
        return _from_dataset(make_mg_dataset(**opts), "synthetic")
    path = str(resolve_data_path(path))
    if is_native_store(path):
        store = NativeStore(path)
        if len(store) == 0:
            raise DataError(path, "native store has no clips")
        return DataSource(store.name, store.layout, store, store.class_names, dict(store.splits),
                          store.fingerprint, int(store[0].num_coords), path)
    if not Path(path).exists():
        raise DataError(path, "does not exist (give a dataset path, a native store, or 'synthetic')")
    return _from_dataset(open_dataset(path, kind=data_cfg.get("kind")), path)


def source_from_dataset(ds: SkeletonDataset) -> DataSource:
    return _from_dataset(ds, ds.name)


# ----------------------------------------------------------------------------------------------------------
# Dataset and sampler
# ----------------------------------------------------------------------------------------------------------
def item_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed for one item of one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, np.uint64)[0]) & ((1 << 63) - 1)


class ClipDataset(Dataset):
    """``dataset[i]`` or ``dataset[(i, seed)]`` → ``(x [M, T, V, C] float32 with NaN, label)``.

    ``train=True`` uses the per-item seed for random temporal sampling; evaluation is deterministic.
    """

    def __init__(self, clips: Sequence[Clip], layout: str, prepare: dict[str, Any], train: bool = False):
        self.clips = clips
        self.layout = layout
        self.prepare = dict(prepare)
        self.train = train

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, seed = item if isinstance(item, tuple) else (item, None)
        clip = self.clips[index]
        try:
            x = prepare_clip(clip, layout=self.layout, train=self.train, seed=seed, **self.prepare)
        except DataError:
            raise
        except Exception as e:  # name the clip: a worker traceback alone does not
            raise DataError(clip.meta.source or clip.meta.clip_id, f"preprocessing failed: {e}") from e
        label = -1 if clip.meta.label is None else int(clip.meta.label)
        return torch.from_numpy(x), label


class SeededSampler(Sampler):
    """Shuffled (or ordered) indices from ``(seed, epoch)``, sharded over ranks, each with an item seed.

    Lightning calls :meth:`set_epoch` before every epoch (also after a resume), so the order of epoch ``e``
    is the same whether or not training was interrupted. With several ranks the index list is padded by
    wrapping around to a multiple of the world size (as ``DistributedSampler`` does).
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.n, self.seed, self.shuffle = int(n), int(seed), bool(shuffle)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _indices(self) -> np.ndarray:
        if self.shuffle:
            idx = np.random.default_rng([self.seed, self.epoch, 7]).permutation(self.n)
        else:
            idx = np.arange(self.n)
        total = -(-self.n // self.world_size) * self.world_size
        if total > self.n:
            idx = np.concatenate([idx, idx[: total - self.n]])
        return idx[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for i in self._indices():
            yield int(i), item_seed(self.seed, self.epoch, int(i))

    def __len__(self) -> int:
        return -(-self.n // self.world_size)


DETERMINISTIC_SAMPLING = ("resize", "last")
CACHE_MODES = ("auto", "true", "false")


def cache_budget_bytes() -> int:
    """What ``data.cache: auto`` may use: a quarter of the memory free now, at most 8 GiB."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not Linux: assume a modest machine
        free = 4 << 30
    return int(min(free // 4, 8 << 30))


class CachedClipDataset(Dataset):
    """Every clip prepared once: ``x [N, M, T, V, C]`` float32 (NaN kept) and ``labels [N]`` int64.

    ``dataset[indices]`` (a 1-D integer array, from :class:`SeededBatchSampler`) returns the whole batch
    ``(x[indices], labels[indices])`` with one gather; use it with ``DataLoader(batch_size=None)``.
    """

    def __init__(self, clips: Sequence[Clip], layout: str, prepare: dict[str, Any], train: bool = False):
        self.clips = clips
        self.layout = layout
        self.prepare = dict(prepare)
        self.train = train
        per_clip = ClipDataset(clips, layout, prepare, train)  # its error handling names the failing clip
        first, label = per_clip[0]
        self.x = torch.empty((len(clips), *first.shape), dtype=torch.float32)
        self.labels = torch.empty(len(clips), dtype=torch.int64)
        self.x[0], self.labels[0] = first, label
        for i in range(1, len(clips)):
            self.x[i], self.labels[i] = per_clip[i]

    @staticmethod
    def nbytes(num_clips: int, prepare: dict[str, Any], num_joints: int, channels: int) -> int:
        return 4 * num_clips * int(prepare["max_persons"]) * int(prepare["num_frames"]) * num_joints * channels

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, indices: Any) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return self.x.index_select(0, idx), self.labels.index_select(0, idx)


class SeededBatchSampler(Sampler):
    """Batches of indices in :class:`SeededSampler`'s order (same ``(seed, epoch)`` permutation, same rank
    sharding), for the cached path: no per-item seeds, one index array per batch."""

    def __init__(self, sampler: SeededSampler, batch_size: int, drop_last: bool):
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[np.ndarray]:
        idx = self.sampler._indices()
        stop = len(idx) - len(idx) % self.batch_size if self.drop_last else len(idx)
        for s in range(0, stop, self.batch_size):
            yield idx[s : s + self.batch_size]

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ----------------------------------------------------------------------------------------------------------
# DataModule
# ----------------------------------------------------------------------------------------------------------
class SkeletonDataModule(L.LightningDataModule):
    """Train / validation loaders for ``cfg.data``; the source is opened once and shared."""

    def __init__(self, data_cfg: Any, seed: int = 0, source: DataSource | None = None,
                 drop_last: bool = True):
        super().__init__()
        self.cfg = data_cfg
        self.seed = int(seed)
        self.drop_last = drop_last
        self._source = source
        self.train_set: ClipDataset | CachedClipDataset | None = None
        self.val_set: ClipDataset | CachedClipDataset | None = None
        self._eval_sets: dict[str | None, ClipDataset | CachedClipDataset] = {}

    # -- facts the model needs before training ------------------------------------------------------
    @property
    def source(self) -> DataSource:
        if self._source is None:
            self._source = open_source(self.cfg, self.seed)
        return self._source

    @property
    def spec(self) -> InputSpec:
        """The input contract of the model trained on this data (stored in its checkpoint)."""
        return InputSpec.from_mapping(self.cfg, layout=self.source.layout)

    @property
    def prepare_kwargs(self) -> dict[str, Any]:
        return self.spec.prepare_kwargs(streams=("joint",))  # other streams are derived on-device after augmentation

    @property
    def streams(self) -> list[str]:
        return list(self.cfg.streams)

    def model_geometry(self) -> dict[str, Any]:
        """``layout`` / ``in_channels`` / ``num_frames`` / ``num_persons`` for ``create_model``."""
        src = self.source
        return {
            "layout": src.layout,
            "in_channels": stream_channels(self.streams, src.num_coords, bool(self.cfg.with_scores)),
            "num_frames": int(self.cfg.num_frames),
            "num_persons": int(self.cfg.max_persons),
        }

    def info(self) -> dict[str, Any]:
        """What a checkpoint records about the data it was trained on."""
        src = self.source
        return {
            "name": src.name, "origin": src.origin, "layout": src.layout, "fingerprint": src.fingerprint,
            "class_names": list(src.class_names) if src.class_names else None,
            "num_clips": len(src.clips), "train_split": self.cfg.train_split, "val_split": self.cfg.val_split,
            "num_coords": src.num_coords, "streams": self.streams,
            "input": self.spec.to_dict(), "meta": dict(src.meta),
        }

    # -- datasets --------------------------------------------------------------------------------------
    def cache_mode(self) -> str:
        mode = str(self.cfg.get("cache", "auto")).lower()
        if mode not in CACHE_MODES:
            raise ConfigError(f"data.cache must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
        return mode

    def make_dataset(self, clips: Sequence[Clip], train: bool) -> ClipDataset | CachedClipDataset:
        """The cached dataset when the prepared inputs are deterministic and fit (see module doc)."""
        mode = self.cache_mode()
        prepare = self.prepare_kwargs
        deterministic = not train or prepare["sampling"] in DETERMINISTIC_SAMPLING
        if mode == "false" or not deterministic:
            if mode == "true":
                log.warning("data.cache=true ignored: sampling %r is random when training", prepare["sampling"])
            return ClipDataset(clips, self.source.layout, prepare, train=train)
        channels = stream_channels(["joint"], self.source.num_coords, bool(self.cfg.with_scores))
        need = CachedClipDataset.nbytes(len(clips), prepare, get_layout(self.source.layout).num_joints, channels)
        if mode == "auto" and need > cache_budget_bytes():
            log.info("not caching %d clips (%.1f GiB > budget %.1f GiB): preparing each clip per batch",
                     len(clips), need / 2**30, cache_budget_bytes() / 2**30)
            return ClipDataset(clips, self.source.layout, prepare, train=train)
        t0 = time.perf_counter()
        ds = CachedClipDataset(clips, self.source.layout, prepare, train=train)
        log.info("prepared %d clips once into a %.0f MiB cache in %.1f s", len(clips), need / 2**20,
                 time.perf_counter() - t0)
        return ds

    # -- Lightning hooks --------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        src = self.source
        if self.train_set is None:
            clips = src.split(self.cfg.train_split, self.cfg.get("limit_clips"))
            self.train_set = self.make_dataset(clips, train=True)
            if self.drop_last and len(self.train_set) < self.global_batch_size():
                raise ConfigError(f"the training split has {len(self.train_set)} clips, fewer than one global "
                                  f"batch ({self.global_batch_size()}); lower data.batch_size")
        if self.val_set is None and self.cfg.val_split:
            self.val_set = self.make_dataset(src.split(self.cfg.val_split), train=False)

    def _rank_world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def global_batch_size(self) -> int:
        return int(self.cfg.batch_size) * self._rank_world()[1]

    def num_workers(self, ds: Dataset | None = None) -> int:
        if self.cfg.num_workers is not None:
            return int(self.cfg.num_workers)
        if isinstance(ds, CachedClipDataset):
            return 0  # a batch is one gather: a worker process would only add a copy through shared memory
        trainer = getattr(self, "trainer", None)
        on_gpu = trainer is not None and trainer.strategy.root_device.type == "cuda"
        return min(8, max((os.cpu_count() or 1) // max(self._rank_world()[1], 1) - 1, 0)) if on_gpu else 0

    def _loader(self, ds: ClipDataset | CachedClipDataset, batch_size: int, shuffle: bool, drop_last: bool,
                rank_world: tuple[int, int] | None = None) -> DataLoader:
        rank, world = rank_world or self._rank_world()
        workers = self.num_workers(ds)
        sampler = SeededSampler(len(ds), self.seed, shuffle, rank, world)
        common = dict(num_workers=workers, persistent_workers=workers > 0, pin_memory=torch.cuda.is_available())
        if isinstance(ds, CachedClipDataset):  # whole batches from the sampler, no per-item collate
            return DataLoader(ds, batch_size=None, sampler=SeededBatchSampler(sampler, batch_size, drop_last),
                              **common)
        return DataLoader(ds, batch_size=batch_size, sampler=sampler, drop_last=drop_last, **common)

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup() first"
        return self._loader(self.train_set, int(self.cfg.batch_size), True, self.drop_last)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        return self._loader(self.val_set, int(self.cfg.eval_batch_size or self.cfg.batch_size), False, False)

    def eval_loader(self, split: str | None) -> DataLoader:
        """An ordered, un-augmented loader over one split (kNN monitor, feature extraction); the split's
        dataset is built (and, when it fits, prepared) once and reused on every call."""
        if split not in self._eval_sets:
            self._eval_sets[split] = self.make_dataset(self.source.split(split), train=False)
        ds = self._eval_sets[split]
        batch = int(self.cfg.eval_batch_size or self.cfg.batch_size)
        return self._loader(ds, batch, shuffle=False, drop_last=False, rank_world=(0, 1))
