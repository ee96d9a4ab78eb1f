"""Small test videos written with PyAV: a real photograph of a person drifting and zooming, or no person.

Why: the video path (decode → MediaPipe → skeleton → report) must be exercised end to end on a real
image, not on drawn stick figures that a pose model would never recognise. ``skimage.data.astronaut()``
(a public-domain NASA portrait shipped with scikit-image) is the person; the frames are built in memory
and only the encoded video is written. Used by the tests, the benchmark and ``microgesture analyze``
smoke checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError


def person_photo() -> np.ndarray:
    """A real photo of a person, ``[H, W, 3]`` uint8 (scikit-image's astronaut portrait)."""
    try:
        from skimage import data
    except ImportError as e:
        raise ConfigError(f"the sample video needs scikit-image ({e}); pip install scikit-image") from None
    return data.astronaut()


def _resize_nearest(img: np.ndarray, h: int, w: int) -> np.ndarray:
    ys = (np.arange(h) * (img.shape[0] / h)).astype(np.intp)
    xs = (np.arange(w) * (img.shape[1] / w)).astype(np.intp)
    return img[ys[:, None], xs[None, :]]


def photo_frames(num_frames: int, width: int = 640, height: int = 360, seed: int = 0) -> np.ndarray:
    """``[T, H, W, 3]`` uint8: the photo on a grey background, slowly moving sideways and zooming.

    The motion (a slow sine drift plus a 0.9–1.1 zoom) gives the pose tracker something to follow and the
    skeleton stream some movement, as in a seated interview.
    """
    rng = np.random.default_rng(seed)
    photo = person_photo()
    t = np.arange(num_frames)
    scale = 1.0 + 0.1 * np.sin(2 * np.pi * t / max(num_frames, 2))
    base = int(height * 0.95)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    background = np.full((height, width, 3), 110, dtype=np.uint8)
    for k in range(num_frames):  # frame synthesis for a test fixture, not a hot path
        side = min(int(base * scale[k]), height)
        img = _resize_nearest(photo, side, side)
        x0 = int((width - side) / 2 + 0.15 * width * np.sin(2 * np.pi * k / 50.0))
        x0 = int(np.clip(x0, 0, width - side))
        y0 = height - side
        frame = background.copy()
        frame[y0:y0 + side, x0:x0 + side] = img
        frames[k] = frame
    noise = rng.integers(-3, 4, size=frames.shape, dtype=np.int16)
    return np.clip(frames.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def blank_frames(num_frames: int, width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """``[T, H, W, 3]`` uint8 random noise: a video in which no pose model should find a person."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_frames, height, width, 3), dtype=np.uint8)


def write_video(path: str | Path, frames: np.ndarray, fps: int = 25, codec: str = "libx264") -> Path:
    """Encode ``[T, H, W, 3]`` uint8 RGB frames to ``path`` with PyAV (``libx264`` or ``mpeg4``)."""
    try:
        import av
    except ImportError as e:
        raise ConfigError(f"writing videos needs PyAV ({e}); pip install 'microgesture[video]'") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _, h, w, _ = frames.shape
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_person_video(path: str | Path, num_frames: int = 50, width: int = 640, height: int = 360,
                       fps: int = 25, seed: int = 0) -> Path:
    return write_video(path, photo_frames(num_frames, width, height, seed), fps=fps)


def write_blank_video(path: str | Path, num_frames: int = 20, width: int = 320, height: int = 240,
                      fps: int = 25, seed: int = 0) -> Path:
    return write_video(path, blank_frames(num_frames, width, height, seed), fps=fps)
