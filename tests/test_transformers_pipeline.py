"""A UDP checkpoint written by transformers' own ``save_pretrained`` runs in tarpose as in
transformers' pipeline (``VitPoseImageProcessor`` -> ``VitPoseForPoseEstimation`` ->
``post_process_pose_estimation``), on real frames: the same crops, the same keypoints.

Where a crop reaches past the frame the two differ by design: transformers warps with SciPy's
``mode="constant"``, which blacks out sample points beyond the outer pixel centres, while tarpose
fades to black over the last half pixel as OpenCV's ``warpAffine`` (ViTPose's training crops)
does. So crops are compared inside the frame, and keypoints on the frames with a black margin
around them (the same pixels; no crop reaches the image edge)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import ROOT, SHARED

import tarpose
from tarpose.geometry import apply_affine, invert_affine
from tarpose.inference import StreamingPredictor
from tarpose.inference.source import runnable_model as resolve_model
from tarpose.topdown import box_matrices, crop_images

VTEST = SHARED / "data" / "vtest.avi"
FRAMES = 30
MARGIN = 80  # black pixels around each frame for the keypoint comparison


def demo_as_transformers(path) -> None:
    """The bundled ``vitpose-demo`` (trained weights, so its heatmaps have clear peaks) copied into
    a stock transformers ``VitPoseForPoseEstimation`` and written by its ``save_pretrained``.
    transformers' classic head has 256 deconv channels; the demo's 64 are embedded and the rest
    are zero (they add exactly nothing). Keys are written out here from the two modules' names."""
    transformers = pytest.importorskip("transformers")
    demo = tarpose.create_model("vitpose-demo", pretrained=True)
    cfg = demo.config
    config = transformers.VitPoseConfig(
        backbone_config=transformers.VitPoseBackboneConfig(
            image_size=list(cfg.input_size), hidden_size=cfg.embed_dim, num_hidden_layers=cfg.depth,
            num_attention_heads=cfg.num_heads, mlp_ratio=int(cfg.mlp_ratio), out_indices=[cfg.depth],
            layer_norm_eps=cfg.layer_norm_eps, qkv_bias=cfg.qkv_bias,
        ),
        use_simple_decoder=False, num_labels=cfg.num_joints,
    )
    hf = transformers.VitPoseForPoseEstimation(config).eval()
    ours = demo.state_dict()
    state = {k: torch.zeros_like(v) for k, v in hf.state_dict().items()}
    pos = ours["backbone.pos_embed"]  # (1, N, C); transformers adds pos[:, 1:] + pos[:, :1]
    state["backbone.embeddings.position_embeddings"] = torch.cat([torch.zeros_like(pos[:, :1]), pos], 1)
    for k in ("weight", "bias"):
        state[f"backbone.embeddings.patch_embeddings.projection.{k}"] = ours[f"backbone.patch_embed.proj.{k}"]
        state[f"backbone.layernorm.{k}"] = ours[f"backbone.last_norm.{k}"]
        for i in range(cfg.depth):
            src, dst = f"backbone.blocks.{i}.", f"backbone.encoder.layer.{i}."
            for n, part in zip(("query", "key", "value"), ours[src + f"attn.qkv.{k}"].chunk(3)):
                state[dst + f"attention.attention.{n}.{k}"] = part
            state[dst + f"attention.output.dense.{k}"] = ours[src + f"attn.proj.{k}"]
            state[dst + f"layernorm_before.{k}"] = ours[src + f"norm1.{k}"]
            state[dst + f"layernorm_after.{k}"] = ours[src + f"norm2.{k}"]
            state[dst + f"mlp.fc1.{k}"] = ours[src + f"mlp.fc1.{k}"]
            state[dst + f"mlp.fc2.{k}"] = ours[src + f"mlp.fc2.{k}"]
    c = cfg.deconv_channels
    state["head.deconv1.weight"][:, :c] = ours["keypoint_head.deconv_layers.0.weight"]
    state["head.deconv2.weight"][:c, :c] = ours["keypoint_head.deconv_layers.3.weight"]
    for hf_bn, our_bn in (("batchnorm1", "1"), ("batchnorm2", "4")):
        for k in ("weight", "bias", "running_mean", "running_var"):
            state[f"head.{hf_bn}.{k}"][:c] = ours[f"keypoint_head.deconv_layers.{our_bn}.{k}"]
        state[f"head.{hf_bn}.running_var"][c:] = 1.0
        state[f"head.{hf_bn}.num_batches_tracked"] = ours[f"keypoint_head.deconv_layers.{our_bn}.num_batches_tracked"]
    state["head.conv.weight"][:, :c] = ours["keypoint_head.final_layer.weight"]
    state["head.conv.bias"] = ours["keypoint_head.final_layer.bias"]
    hf.load_state_dict(state, strict=True)
    hf.save_pretrained(path)  # transformers' own writer: config.json + model.safetensors


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """transformers' pipeline and tarpose's on the same real frames and boxes."""
    pytest.importorskip("scipy")
    pytest.importorskip("PIL")
    if not VTEST.is_file():
        pytest.skip("needs ../shared/data/vtest.avi")
    pytest.importorskip("av")
    transformers = pytest.importorskip("transformers")
    processing = pytest.importorskip("transformers.models.vitpose.image_processing_pil_vitpose")
    from tarpose.io import read_video

    path = tmp_path_factory.mktemp("hf") / "vitpose"
    demo_as_transformers(path)
    hf = transformers.VitPoseForPoseEstimation.from_pretrained(path).eval()
    size = {"height": 128, "width": 96}
    processor = processing.VitPoseImageProcessorPil(size=size)
    records = json.loads((ROOT / "tests" / "data" / "vtest_boxes.json").read_text())
    frames = list(read_video(VTEST, max_frames=FRAMES)[0])
    boxes = [[r["bbox"] for r in records if r["frame"] == t] for t in range(FRAMES)]
    padded = [np.pad(f, ((MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0))) for f in frames]
    moved = [[[x + MARGIN, y + MARGIN, w, h] for x, y, w, h in b] for b in boxes]
    crops, argmax = [], []
    with torch.no_grad():
        for frame, frame_boxes in zip(frames, boxes):
            # the frame as float32 (the same values): transformers then warps it without rounding
            # the crop to uint8 (rounding alone moves 1.3 % of this model's argmaxes to a near-tie)
            inputs = processor(images=[frame.astype(np.float32)], boxes=[frame_boxes], return_tensors="pt")
            crops.append(inputs.pixel_values)
        for frame, frame_boxes in zip(padded, moved):
            inputs = processor(images=[frame.astype(np.float32)], boxes=[frame_boxes], return_tensors="pt")
            heatmaps = hf(inputs.pixel_values).heatmaps
            # argmax decoding with transformers' own functions (post_process_pose_estimation
            # always refines with its DARK)
            coords, _ = processing.get_keypoint_predictions(heatmaps.numpy())
            for box, c in zip(frame_boxes, coords):
                center, scale = processing.box_to_center_and_scale(box, image_width=96, image_height=128)
                argmax.append(torch.from_numpy(processing.transform_preds(c, center, scale, [32, 24])))
    model = resolve_model(path)  # tarpose's loader: transformers layout, so the UDP geometry
    predictor = StreamingPredictor(model, refine="none")
    poses = list(predictor.run((f, b, list(range(len(b)))) for f, b in zip(padded, moved)))
    return {
        "model": model, "frames": frames, "boxes": boxes, "crops": crops,
        "ours": torch.cat([p.keypoints for p in poses]), "theirs": torch.stack(argmax).double(),
    }


def test_the_loader_gives_a_transformers_checkpoint_the_udp_geometry(pipeline):
    assert pipeline["model"].data_config.geometry == "udp"


def test_crops_equal_transformers_crops_inside_the_frame(pipeline):
    model = pipeline["model"]
    checked = 0
    for frame, boxes, expected in zip(pipeline["frames"], pipeline["boxes"], pipeline["crops"]):
        image = torch.from_numpy(frame).permute(2, 0, 1)
        matrices = box_matrices(torch.tensor(boxes, dtype=torch.float64), (128, 96), geometry=model.data_config.geometry)
        crops = crop_images(image, matrices, (128, 96))
        ys, xs = torch.meshgrid(torch.arange(128.0), torch.arange(96.0), indexing="ij")
        grid = torch.stack([xs, ys], -1).view(1, -1, 2).double().expand(len(boxes), -1, -1)
        source = apply_affine(grid, invert_affine(matrices)).view(-1, 128, 96, 2)  # image points sampled
        h, w = frame.shape[:2]
        inside = (source[..., 0] >= 0) & (source[..., 0] <= w - 1) & (source[..., 1] >= 0) & (source[..., 1] <= h - 1)
        diff = (crops - expected).abs().amax(1)  # (n, 128, 96), normalised units
        assert float(diff[inside].max()) < 1e-3  # float32 sampling; one grey level is 0.0175
        checked += int(inside.sum())
    assert checked > 0.9 * sum(len(b) for b in pipeline["boxes"]) * 128 * 96


def test_keypoints_equal_transformers_keypoints_with_argmax_decoding(pipeline):
    error = (pipeline["ours"] - pipeline["theirs"]).norm(dim=-1)  # (persons, 17) image pixels
    assert error.numel() == 17 * sum(len(b) for b in pipeline["boxes"]) == 1785
    assert float(error.mean()) < 0.05
