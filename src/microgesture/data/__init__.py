"""Data stage: the clip model, named-joint layouts, readers for real datasets, safe formats, preprocessing."""

from .clip import Clip, ClipMeta
from .dataset import SkeletonDataset, Skipped
from .layouts import Layout, get_layout, list_layouts

__all__ = ["Clip", "ClipMeta", "Layout", "SkeletonDataset", "Skipped", "get_layout", "list_layouts"]
