"""Main-person tracking over person slots that swap, passers-by, and missing frames; optional gap filling."""

from __future__ import annotations

import numpy as np
import pytest

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.synthetic import make_interview_stream
from microgesture.errors import ConfigError
from microgesture.data.tracking import fill_short_gaps, select_main_person


def _two_people(t=200, seed=0):
    main, _ = make_interview_stream(seed=seed, duration_s=10)
    kp = main.keypoints[0, :t]
    other = kp * 0.5 + np.array([900.0, 50.0], np.float32)  # a smaller person elsewhere in the picture
    return kp, other


def test_follows_main_person_when_slots_swap():
    kp, other = _two_people()
    t = kp.shape[0]
    swap = (np.arange(t) // 7) % 2 == 1  # slots swap every 7 frames
    a = np.where(swap[:, None, None], other, kp)
    b = np.where(swap[:, None, None], kp, other)
    sc = np.ones((2, t, 22), np.float32)
    clip = Clip(np.stack([a, b]), ClipMeta("x", layout="imigue22", fps=25.0), sc)
    out, rep = select_main_person(clip)
    assert out.keypoints.shape == (1, t, 22, 2)
    np.testing.assert_allclose(out.keypoints[0], kp, equal_nan=True)
    assert rep.candidates == 2 and rep.frames_missing == 0
    assert out.meta.extra["tracking"]["frames_with_main_person"] == t


def test_passer_by_larger_for_a_moment_is_ignored_and_missing_stays_nan():
    kp, _ = _two_people()
    big = kp * 2.5 + np.array([1500.0, 0.0], np.float32)  # larger, far away, only in frames 50-54
    slot1 = np.full_like(kp, np.nan)
    slot1[50:55] = big[50:55]
    main = kp.copy()
    main[120:140] = np.nan  # the main person is not detected for 20 frames
    clip = Clip(np.stack([slot1, main]), ClipMeta("x", layout="imigue22", fps=25.0))
    out, rep = select_main_person(clip)
    np.testing.assert_allclose(out.keypoints[0, 50:55], kp[50:55])
    assert np.isnan(out.keypoints[0, 120:140]).all()
    assert rep.frames_missing == 20 and rep.longest_gap == 20 and rep.switches_avoided == 5


def test_single_person_is_returned_as_is():
    kp, _ = _two_people(t=100)
    clip = Clip(kp[None], ClipMeta("x", layout="imigue22"))
    out, rep = select_main_person(clip)
    assert out is clip and rep.frames_missing == 0


def test_fill_short_gaps_only_bridges_short_inner_gaps():
    t = 30
    x = np.tile(np.arange(t, dtype=np.float32)[:, None, None], (1, 2, 2))  # linear ramp per joint
    x[0:2, 0] = np.nan  # leading gap: stays
    x[5:8, 0] = np.nan  # 3-frame gap: filled exactly
    x[12:20, 0] = np.nan  # 8-frame gap: stays
    x[27:, 1] = np.nan  # trailing gap: stays
    clip = Clip(x[None], ClipMeta("g", layout=""))
    out, n = fill_short_gaps(clip, max_gap=4)
    y = out.keypoints[0]
    np.testing.assert_allclose(y[5:8, 0], x[[5, 6, 7], 1])  # the ramp values
    assert np.isnan(y[0:2, 0]).all() and np.isnan(y[12:20, 0]).all() and np.isnan(y[27:, 1]).all()
    assert n == 3
    same, n0 = fill_short_gaps(clip, 0)
    assert same is clip and n0 == 0
    with pytest.raises(ConfigError):
        fill_short_gaps(clip, -1)
