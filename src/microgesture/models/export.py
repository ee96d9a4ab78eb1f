"""Export the inference encoder (``model.embed``) to ``torch.export`` / TorchScript / ONNX, verified by a round trip.

Why ``embed``: deployment (the online pipeline, other runtimes) needs the embedding or logits, not the
training-time dict of per-stream outputs; tracing a thin wrapper freezes exactly that path. ``export``
(a ``.pt2`` ``ExportedProgram``, dynamic batch size) is PyTorch's current format; ``torchscript`` (deprecated
upstream since torch 2.10, still loadable from C++ with libtorch) is kept for older runtimes.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..utils.io import atomic_write
from .inference import prepare_for_inference

FORMATS = ("export", "torchscript", "onnx")


class _Embed(nn.Module):
    """Wraps a model so that ``forward`` is its inference path (``embed`` for encoders, logits otherwise)."""

    def __init__(self, model: nn.Module, use_embed: bool) -> None:
        super().__init__()
        self.model = model
        self.use_embed = use_embed

    def forward(self, x: Tensor) -> Tensor:
        return self.model.embed(x) if self.use_embed else self.model(x)


def export_encoder(model: nn.Module, path: str | Path, example_input: Tensor, format: str = "export",
                   verify: bool = True, atol: float = 1e-4, optimize: bool = True) -> Path:
    """Write ``model``'s inference path to ``path`` and (``verify``) check the reloaded copy matches.

    Classifiers export their logits (``forward``); encoders export ``embed``. The model is put in
    ``eval()`` mode for the export and restored afterwards. Load the results with
    ``torch.export.load(path).module()``, ``torch.jit.load(path)`` or an ONNX runtime. ``optimize`` exports
    a copy with BatchNorm folded into the convolutions (:func:`.inference.prepare_for_inference`), which is
    exact in eval mode; the round trip is checked against the unmodified model.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path)
    use_embed = hasattr(model, "embed") and not hasattr(model, "head")
    was_training = model.training
    model.eval()
    reference = _Embed(model, use_embed)
    wrapper = _Embed(prepare_for_inference(model), use_embed) if optimize else reference
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch")
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="The tensor attributes .* were assigned during export")
            expected = reference(example_input)
            # a batch of one would be baked in as a constant (and takes batch-1 special cases): trace two
            traced_input = example_input.expand(2, *example_input.shape[1:]).contiguous() \
                if example_input.shape[0] == 1 else example_input
            if format == "export":
                batch = torch.export.Dim("batch", min=1)
                program = torch.export.export(wrapper, (traced_input,), dynamic_shapes={"x": {0: batch}})
                buf = io.BytesIO()
                torch.export.save(program, buf)
                _write(path, buf)
                if verify:
                    _check(expected, torch.export.load(str(path)).module()(example_input), atol, path)
            elif format == "torchscript":
                traced = torch.jit.trace(wrapper, (traced_input,), check_trace=False)
                buf = io.BytesIO()
                torch.jit.save(traced, buf)
                _write(path, buf)
                if verify:
                    got = torch.jit.load(str(path))(example_input)
                    _check(expected, got, atol, path)
            else:
                _export_onnx(wrapper, path, example_input, expected, verify, atol)
    finally:
        model.train(was_training)
    return path


def _export_onnx(wrapper: nn.Module, path: Path, x: Tensor, expected: Tensor, verify: bool,
                 atol: float) -> None:
    if importlib.util.find_spec("onnx") is None:
        raise ConfigError("ONNX export needs the 'onnx' package (pip install onnx); 'export' and 'torchscript' need nothing")
    buf = io.BytesIO()
    torch.onnx.export(wrapper, (x,), buf, input_names=["skeleton"], output_names=["embedding"],
                      dynamic_axes={"skeleton": {0: "batch", 2: "frames"}, "embedding": {0: "batch"}})
    _write(path, buf)
    if verify and importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(sess.run(None, {"skeleton": x.numpy()})[0])
        _check(expected, got, atol, path)


def _write(path: Path, buf: io.BytesIO) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())


def _check(expected: Tensor, got: Tensor, atol: float, path: Path) -> None:
    if expected.shape != got.shape or not torch.allclose(expected, got, atol=atol, rtol=1e-4):
        diff = (expected - got).abs().max().item() if expected.shape == got.shape else float("nan")
        raise ConfigError(f"{path}: exported model does not reproduce the original (max |diff| {diff:.3g})")
