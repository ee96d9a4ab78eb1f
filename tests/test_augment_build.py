"""Building augmentation pipelines from presets, names, command-line strings and config dicts."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from microgesture.augment import (
    PRESETS,
    Compose,
    Flip,
    OneOf,
    Shear,
    TemporalCropResize,
    TimeReversal,
    build_augmentation,
    list_augmentations,
    list_presets,
    presets,
)
from microgesture.data.layouts import get_layout
from microgesture.errors import ConfigError

LAYOUT = get_layout("imigue22")


def names(aug) -> list[str]:
    return [type(a).__name__ for a in aug]


def test_presets_build_and_action_is_isc():
    assert {"action", "mg", "none", "aimclr", "crossclr"} <= set(list_presets())
    action = build_augmentation("action", LAYOUT)
    assert names(action) == ["TemporalCropResize", "OneOf"]
    assert action.augmentations[0].ratio == (0.1, 1.0)
    shear, corrupt = action.augmentations[1].choices
    assert shear.s == 1.0 and corrupt.ratio == 0.6 and corrupt.zero_prob == 0.5
    assert len(build_augmentation("none", LAYOUT)) == 0
    mg = build_augmentation("mg", LAYOUT)
    assert "ViewpointPerturbation" in names(mg) and "CoordinatePerturbation" in names(mg)


def test_preset_docstring_lists_every_member():
    doc = presets.__doc__
    for preset, items in PRESETS.items():
        assert f"``{preset}``" in doc
        for item in items:
            assert item["name"] in doc
            for choice in item.get("choices", []):
                assert choice["name"] in doc


def test_command_line_strings():
    combo = build_augmentation("mg+time_reversal", LAYOUT)
    assert names(combo) == names(build_augmentation("mg", LAYOUT)) + ["TimeReversal"]
    pair = build_augmentation("shear, temporal_crop_resize", LAYOUT)
    assert names(pair) == ["Shear", "TemporalCropResize"]


def test_dict_and_omegaconf_specs():
    spec = [{"name": "shear", "s": 0.2, "p": 0.3}, "time_reversal",
            {"name": "one_of", "choices": ["flip", {"name": "rotation", "angle": 5}], "weights": [1, 3]}]
    for s in (spec, OmegaConf.create(spec)):
        aug = build_augmentation(s, "imigue22")
        first, second, third = aug.augmentations
        assert isinstance(first, Shear) and first.s == 0.2 and first.p == 0.3
        assert isinstance(second, TimeReversal)
        assert isinstance(third, OneOf) and isinstance(third.choices[0], Flip) and third.weights == [1.0, 3.0]
        assert third.choices[1].angle == 5.0


def test_coords_reach_spatial_augmentations():
    aug = build_augmentation([{"name": "shear", "p": 1.0}, {"name": "time_reversal", "p": 1.0}], LAYOUT, coords=2)
    assert aug.augmentations[0].coords == 2
    x = torch.randn(2, 1, 16, 22, 3)
    out = aug(x, torch.Generator().manual_seed(0))
    assert torch.equal(out[..., 2], x.flip(2)[..., 2])  # the third channel (a score) only follows time
    assert not torch.equal(out[..., :2], x.flip(2)[..., :2])


def test_errors_are_config_errors():
    with pytest.raises(ConfigError, match="unknown augmentation 'shaer'"):
        build_augmentation("shaer", LAYOUT)
    with pytest.raises(ConfigError, match="no parameter"):
        build_augmentation([{"name": "shear", "sigma": 1}], LAYOUT)
    with pytest.raises(ConfigError, match="needs the skeleton layout"):
        build_augmentation("flip")
    with pytest.raises(ConfigError, match="crop ratio"):
        build_augmentation([{"name": "temporal_crop_resize", "ratio": [0.9, 0.1]}], LAYOUT)
    with pytest.raises(ConfigError):
        build_augmentation([{"s": 1}], LAYOUT)


def test_registry_lists_all_and_repr_shows_parameters():
    expected = {"shear", "rotation", "flip", "temporal_crop", "temporal_crop_resize", "joint_corruption",
                "joint_mask", "gaussian_noise", "gaussian_blur", "axis_mask", "time_reversal",
                "coordinate_perturbation", "viewpoint_perturbation", "temporal_repetition",
                "time_posterisation", "speed_perturbation", "limb_perturbation", "one_of"}
    assert expected <= set(list_augmentations())
    text = repr(build_augmentation("action", LAYOUT))
    assert "TemporalCropResize(ratio=(0.1, 1.0)" in text and "Shear(s=1.0" in text
    assert isinstance(build_augmentation(TemporalCropResize()), Compose)
