"""Contrastive augmentations on batched torch tensors ``[N, M, T, V, C]`` (NaN = missing joint).

``build_augmentation("mg", layout)`` / ``build_augmentation("action", layout)`` give the two preset
pipelines; see :mod:`microgesture.augment.presets` for their exact contents. Augment joint coordinates,
then derive bone/motion streams (``data.transforms.make_streams``) and ``fill_missing`` before the model.
"""

from . import presets
from .base import AUGMENTATIONS, Augmentation, SpatialAugmentation, register
from .compose import Compose, Identity, OneOf
from .mg import (
    CoordinatePerturbation,
    LimbPerturbation,
    SpeedPerturbation,
    TemporalRepetition,
    TimePosterisation,
    ViewpointPerturbation,
)
from .presets import PRESETS, build_augmentation, list_augmentations, list_presets
from .spatial import AxisMask, Flip, GaussianNoise, JointCorruption, JointMask, Rotation, Shear
from .temporal import GaussianBlur, TemporalCrop, TemporalCropResize, TimeReversal

__all__ = [
    "AUGMENTATIONS", "PRESETS", "Augmentation", "AxisMask", "Compose", "CoordinatePerturbation", "Flip",
    "GaussianBlur", "GaussianNoise", "Identity", "JointCorruption", "JointMask", "LimbPerturbation", "OneOf",
    "Rotation", "Shear", "SpatialAugmentation", "SpeedPerturbation", "TemporalCrop", "TemporalCropResize",
    "TemporalRepetition", "TimePosterisation", "TimeReversal", "ViewpointPerturbation", "build_augmentation",
    "list_augmentations", "list_presets", "presets", "register",
]
