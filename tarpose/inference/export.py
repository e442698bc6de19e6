"""ONNX export of a temporal model's two halves, and an onnxruntime model the streaming loop runs.

[export_onnx][tarpose.inference.export.export_onnx] writes two graphs with a dynamic batch axis:

``STEM.encode.onnx``
    ``images (N, 3, H, W)`` -> ``features (N, C, h, w)``, ``heatmaps (N, J, Hh, Wh)``: the
    per-frame part (it is also a complete single-frame ViTPose).
``STEM.temporal.onnx``
    ``features (B, T, C, h, w)``, ``heatmaps (B, T, J, Hh, Wh)``, ``frame_valid (B, T)`` bool ->
    ``final (B, J, Hh, Wh)``: JTA + GRA + decoder of the target frame.

Both carry the model's window length, target frame, crop size and joint count as metadata, which
[OnnxTemporalModel][tarpose.inference.export.OnnxTemporalModel] reads, so ``StreamingPredictor(OnnxTemporalModel(stem))`` runs the
same streaming loop under onnxruntime. onnx, onnxscript and onnxruntime are optional:
``pip install "tarpose[onnx]"``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..atomic import atomic_output
from ..preprocess import DataConfig, resolve_data_config

_INSTALL = 'ONNX export and inference need onnx, onnxscript and onnxruntime: pip install "tarpose[onnx]"'


def onnx_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(STEM.encode.onnx, STEM.temporal.onnx)`` for ``STEM`` or ``STEM.onnx``."""
    path = Path(path)
    if path.name.endswith(".encode.onnx") or path.name.endswith(".temporal.onnx"):
        path = path.with_name(path.name.rsplit(".", 2)[0])
    elif path.suffix == ".onnx":
        path = path.with_suffix("")
    return path.with_name(path.name + ".encode.onnx"), path.with_name(path.name + ".temporal.onnx")


class _EncodePart(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.encode(images)


class _TemporalPart(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: Tensor, heatmaps: Tensor, frame_valid: Tensor) -> Tensor:
        return self.model.aggregate_restore(features, heatmaps, frame_valid)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int] | None = None,
    opset: int = 18,
) -> tuple[Path, Path]:
    """Export a [TemporalWrapper][tarpose.TemporalWrapper] as two ONNX graphs (see the module docs).

    Args:
        model: the temporal model (copied to float32 on the CPU for export; not changed).
        path: ``STEM`` or ``STEM.onnx``; writes ``STEM.encode.onnx`` and ``STEM.temporal.onnx``
            (each appears only when complete).
        input_size: crop ``(H, W)``; the model's (``model.data_config``) when ``None``.
        opset: ONNX opset version.

    Returns:
        the two paths written.
    """
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    for name in ("encode", "aggregate_restore", "num_frames", "target_index"):
        if not hasattr(model, name):
            raise TypeError(f"export_onnx needs a TemporalWrapper, got {type(model).__name__} (no {name!r})")
    data = resolve_data_config(model, input_size=input_size)
    size = data.input_size
    size_bytes = 4 * sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    if size_bytes >= 2**31:
        raise ValueError(
            f"the model has {size_bytes / 2**30:.1f} GiB of float32 weights: ONNX files over 2 GiB "
            "(ViT-H) need external data, which export_onnx does not write yet"
        )
    encode_path, temporal_path = onnx_paths(path)
    model = copy.deepcopy(model).float().cpu().eval()
    t = int(model.num_frames)
    batch = torch.export.Dim("batch", min=1, max=4096)
    images = torch.randn(2, 3, *size)
    with torch.no_grad():
        features, heatmaps = model.encode(images)
    features = features[:, None].expand(-1, t, -1, -1, -1).contiguous()  # (2, t, c, h, w)
    heatmaps = heatmaps[:, None].expand(-1, t, -1, -1, -1).contiguous()  # (2, t, j, hh, wh)
    frame_valid = torch.ones(2, t, dtype=torch.bool)
    if t > 1:
        frame_valid[0, 0 if model.target_index else t - 1] = False
    metadata = {
        "tarpose.num_frames": str(t),
        "tarpose.target_index": str(int(model.target_index)),
        "tarpose.num_joints": str(int(heatmaps.shape[2])),
        "tarpose.dim": str(int(features.shape[2])),
        "tarpose.input_size": f"{size[0]},{size[1]}",
        "tarpose.data_config": json.dumps(data.to_dict()),
        "tarpose.heatmap_size": f"{heatmaps.shape[-2]},{heatmaps.shape[-1]}",
    }
    parts = [
        (encode_path, _EncodePart(model), (images,), ["images"], ["features", "heatmaps"],
         {"images": {0: batch}}),
        (temporal_path, _TemporalPart(model), (features, heatmaps, frame_valid),
         ["features", "heatmaps", "frame_valid"], ["final"],
         {"features": {0: batch}, "heatmaps": {0: batch}, "frame_valid": {0: batch}}),
    ]
    for out_path, module, args, input_names, output_names, dynamic in parts:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(
                module, args, dynamo=True, opset_version=opset, input_names=input_names,
                output_names=output_names, dynamic_shapes=dynamic, verbose=False,
            )
        proto = program.model_proto
        for key, value in {**metadata, "tarpose.part": out_path.name.rsplit(".", 2)[-2]}.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(proto)
        with atomic_output(out_path) as tmp:
            onnx.save_model(proto, str(tmp))
    return encode_path, temporal_path


def verify_onnx(model: nn.Module, path: str | os.PathLike[str], batch: int = 3, seed: int = 0) -> dict[str, float]:
    """Max absolute differences between onnxruntime (the graphs at ``path``) and PyTorch on random
    crops (a batch size other than the export's) and a window with a missing frame:
    ``{"features", "heatmaps", "final"}``."""
    onnx_model = OnnxTemporalModel(path)
    model = copy.deepcopy(model).float().cpu().eval()
    g = torch.Generator().manual_seed(seed)
    t = onnx_model.num_frames
    images = torch.randn(batch * t, 3, *onnx_model.input_size, generator=g)
    frame_valid = torch.ones(batch, t, dtype=torch.bool)
    if t > 1:
        frame_valid[0, 0 if onnx_model.target_index else t - 1] = False
    with torch.no_grad():
        features, heatmaps = model.encode(images)
        window = (features.view(batch, t, *features.shape[1:]), heatmaps.view(batch, t, *heatmaps.shape[1:]))
        final = model.aggregate_restore(*window, frame_valid)
    o_features, o_heatmaps = onnx_model.encode(images)
    o_final = onnx_model.aggregate_restore(*window, frame_valid)
    return {
        "features": float((o_features - features).abs().max()),
        "heatmaps": float((o_heatmaps - heatmaps).abs().max()),
        "final": float((o_final - final).abs().max()),
    }


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence the exporter's progress prints, warnings and log lines."""
    loggers = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir", "torch.onnx", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class OnnxTemporalModel:
    """The two graphs of [export_onnx][tarpose.inference.export.export_onnx] under onnxruntime, with the ``encode`` /
    ``aggregate_restore`` interface of [TemporalWrapper][tarpose.TemporalWrapper] (torch tensors in and
    out, on the CPU), so [StreamingPredictor][tarpose.inference.StreamingPredictor] can run it.

    Args:
        path: ``STEM``, ``STEM.onnx`` or either of the two files.
        providers: onnxruntime execution providers (default: the CPU).
    """

    def __init__(self, path: str | os.PathLike[str], providers: list[str] | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise ImportError(_INSTALL) from error
        encode_path, temporal_path = onnx_paths(path)
        for p in (encode_path, temporal_path):
            if not p.is_file():
                raise FileNotFoundError(f"ONNX graph {str(p)!r} does not exist (export with `tarpose export`)")
        providers = providers or ["CPUExecutionProvider"]
        try:
            self._encode = ort.InferenceSession(str(encode_path), providers=providers)
            self._temporal = ort.InferenceSession(str(temporal_path), providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ValueError(f"cannot load ONNX graphs {str(encode_path)!r}: {error}") from None
        meta = self._temporal.get_modelmeta().custom_metadata_map
        try:
            self.num_frames = int(meta["tarpose.num_frames"])
            self.target_index = int(meta["tarpose.target_index"])
            self.num_joints = int(meta["tarpose.num_joints"])
            self.dim = int(meta["tarpose.dim"])
            self.input_size = tuple(int(s) for s in meta["tarpose.input_size"].split(","))
            stored = json.loads(meta["tarpose.data_config"])
        except KeyError as error:
            raise ValueError(f"{str(temporal_path)!r} was not written by tarpose export (no {error})") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{str(temporal_path)!r}: unreadable tarpose.data_config ({error})") from None
        if not isinstance(stored, dict) or "geometry" not in stored:
            raise ValueError(f"{str(temporal_path)!r} does not record its geometry: export it again")
        self.data_config = DataConfig.from_dict({**stored, "input_size": self.input_size})
        self.device = torch.device("cpu")

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """images ``(N, 3, H, W)`` -> features ``(N, C, h, w)``, heatmaps ``(N, J, Hh, Wh)``."""
        features, heatmaps = self._encode.run(None, {"images": images.detach().float().cpu().numpy()})
        return torch.from_numpy(features), torch.from_numpy(heatmaps)

    def aggregate_restore(self, features: Tensor, heatmaps: Tensor, frame_valid: Tensor | None = None) -> Tensor:
        """features ``(B, T, C, h, w)``, heatmaps ``(B, T, J, Hh, Wh)``, frame_valid ``(B, T)``
        -> final heatmaps ``(B, J, Hh, Wh)``."""
        if frame_valid is None:
            frame_valid = torch.ones(features.shape[:2], dtype=torch.bool)
        (final,) = self._temporal.run(None, {
            "features": features.detach().float().cpu().numpy(),
            "heatmaps": heatmaps.detach().float().cpu().numpy(),
            "frame_valid": frame_valid.cpu().numpy(),
        })
        return torch.from_numpy(final)
