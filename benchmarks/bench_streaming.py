"""Streaming TAR-ViTPose per frame against its floor, single-frame ViTPose and windowed recomputation.

Three top-down pipelines on the same frames, boxes and weights, each a StreamingPredictor with the
same crops and DARK decoding, so only the model work differs:

- single-frame: ViTPose on each person crop (SingleFrameModel), 1.0x;
- streaming: TAR-ViTPose (T=5, centred), each crop encoded once, windows from the feature cache;
- windowed (with --windowed): TAR-ViTPose recomputing all T crops of every window (mode="exact",
  what the reference code does for every output frame).

What TAR must add per frame is one more decoder pass (the restored map is decoded again), so the
floor of streaming / single-frame is (encoder + 2 x decoder) / (encoder + decoder), with encoder
and decoder timed on the same crops in the same run; the script prints the measured ratio next to
it, and the temporal parts (JTA with the gathered and the dense attention, GRA, the heatmap
embedding, the per-frame masks) on their own. JTA is timed as streaming runs it, from the masks of
the window's frames (computed once per frame, the "masks" column).

Multiply-adds per frame: the encoder's and the decoder's counted by running them under
torch.utils.flop_counter.FlopCounterMode (attention through the math kernel, so it is counted), the
temporal modules' by formula (tarpose.layers.costs.temporal_macs, which the tests check against
FlopCounterMode); the second table gives each part's multiply-adds per second and that rate as a
share of the encoder's.

--temporal FIELD=VALUE ... times another temporal part than the default (TARConfig fields, e.g.
--temporal jta_depth=3 gra_ffn_ratio=1.0); the JSON records the config each model was timed with.

Random weights make flat heatmaps whose masks allow nearly every token, which says nothing about a
trained model. By default (--masks demo) the initial heatmaps the temporal part reads (only
through JTA's mask) are the bundled demo model's on synthetic videos, at its own scale in tokens
(benchmarks/mask_counts.py); the encoder and both decoder passes still run in full. --masks
stretched: the same heatmaps covering the same share of the crop (4x the tokens); --masks model:
the random model's own.

Times are medians of interleaved calls in steady state (every push emits one frame). A whole
frame's time varies by about 10% from one call to the next on a shared machine, so the pipelines
get more rounds (--pipeline-repeats, 41) and their ratios are the medians of each round's ratio
(neighbouring calls share the machine's state), printed with their quartiles. Before timing,
the script checks that at initialisation (the restoring step is the identity) streaming and windowed give the single-frame
heatmaps. With --predict-frames N it also runs `tarpose predict` end to end on
../shared/data/vtest.avi (a subprocess per model) for frames per second and peak memory.

    python benchmarks/bench_streaming.py                                 # ViT-S, ViT-S simple, ViT-B; CPU
    python benchmarks/bench_streaming.py --models vitpose-b --img 384 288 --windowed
    python benchmarks/bench_streaming.py --device cuda --compile         # bf16, CUDA graphs
    python benchmarks/bench_streaming.py --small                         # tiny dims: a smoke run
    python benchmarks/bench_streaming.py --temporal jta_depth=3 gra_ffn_ratio=1.0  # another temporal part
    python benchmarks/bench_streaming.py --threads 2                     # two CPU threads
    python benchmarks/bench_streaming.py --json benchmarks/results/streaming.json  # also the table as JSON

--json PATH writes what the run printed: the setup (device, threads, torch, crop, persons, masks,
repeats, load averages), a row per model (every column of the tables, times in ms, ``null`` where
not measured; ``macs``: multiply-adds per frame, ``gmacs_per_s``: their rates, ``share_of_encoder``:
each rate over the encoder's), the check at initialisation and, with --predict-frames, the
end-to-end runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from einops import rearrange, repeat
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import tarpose  # noqa: E402
from tarpose.inference import SingleFrameModel, StreamingPredictor  # noqa: E402
from tarpose.layers.costs import temporal_macs  # noqa: E402

VTEST = ROOT.parent / "shared" / "data" / "vtest.avi"
BOXES = ROOT / "tests" / "data" / "vtest_boxes.json"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def synthetic_stream(n: int, persons: int, size=(576, 768), seed: int = 0):
    """``n`` random uint8 frames ``(H, W, 3)`` and ``persons`` boxes drifting slowly."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, size[0] // 16, size[1] // 16, generator=g)
    frames = torch.nn.functional.interpolate(low, size=size, mode="bilinear", align_corners=False)
    frames = (frames * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    boxes = [
        [(40.0 + 150 * k + 2 * t, 100.0 + 30 * (k % 2) + t, 60.0, 150.0) for k in range(persons)]
        for t in range(n)
    ]
    return frames, boxes


class DemoHeatmaps(nn.Module):
    """A temporal model whose ``encode`` returns, in place of its own initial heatmaps, the next
    ones of a bank ``(frames, persons, J, Hh, Wh)`` (frame-major, so each track follows one
    video; ``None``: its own); its encoder and decoder still run in full. JTA runs with
    ``gather`` (``"never"``: the dense path, as before the gathered attention)."""

    def __init__(self, model: nn.Module, bank: Tensor | None, gather: str = "auto") -> None:
        super().__init__()
        self.model = model
        self.bank = None if bank is None else bank.flatten(0, 1)  # (frames * persons, j, hh, wh)
        self.gather = gather
        self.next = 0
        for name in ("num_frames", "target_index", "num_joints"):
            setattr(self, name, getattr(model, name))
        self.data_config = model.data_config

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features, heatmaps = self.model.encode(images)
        if self.bank is None:
            return features, heatmaps
        n = images.shape[0]
        index = (self.next + torch.arange(n)) % self.bank.shape[0]
        self.next += n
        return features, self.bank[index].to(heatmaps)

    def frame_masks(self, heatmaps: Tensor, size: tuple[int, int]) -> Tensor:
        return self.model.frame_masks(heatmaps, size)

    def aggregate_restore(self, *args, **kwargs) -> Tensor:
        self.model.jta.gather = self.gather
        try:
            return self.model.aggregate_restore(*args, **kwargs)
        finally:
            self.model.jta.gather = "auto"


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, device: str) -> dict[str, list[float]]:
    """Seconds of each call of each function, ``repeats`` rounds of one call each, calls
    interleaved so that the machine's drift and other load hit all alike."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            samples[name].append(time.perf_counter() - start)
    return samples


def paired_ratio(samples: dict[str, list[float]], a: str, b: str) -> tuple[float, float, float]:
    """The median, 25th and 75th percentiles of ``a``'s call over ``b``'s in the same round:
    neighbouring calls share the machine's state, so a slow stretch hits both."""
    ratios = [x / y for x, y in zip(samples[a], samples[b])]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return statistics.median(ratios), quartiles[0], quartiles[2]


def pusher(predictor: StreamingPredictor, frames, boxes) -> Callable[[], None]:
    """A function pushing the next frame (after filling the window) and checking that exactly one
    frame comes out."""
    ids = list(range(len(boxes[0])))
    predictor.reset()
    state = {"i": 0}

    def push() -> None:
        i = state["i"] % len(frames)
        state["i"] += 1
        out = predictor.push(frames[i], boxes[i], ids)
        if state["i"] > predictor.window.length and len(out) != 1:
            raise RuntimeError(f"a push emitted {len(out)} frames")

    for _ in range(predictor.window.length):
        push()
    return push


def check_equal_at_init(models: dict, frames, boxes) -> float:
    """Largest difference of every pipeline's final heatmaps from single-frame's, relative to the
    single-frame heatmaps' largest magnitude, at initialisation. (Heatmaps, not argmax keypoints:
    random weights give nearly flat heatmaps whose argmax low precision may flip.)"""
    ids = list(range(len(boxes[0])))
    outs = {
        name: list(StreamingPredictor(model, mode=mode, keep_heatmaps=True).run(
            (f, b, ids) for f, b in zip(frames, boxes)))
        for name, (model, mode) in models.items()
    }
    worst = 0.0
    for out in outs.values():
        for a, b in zip(out, outs["single-frame"]):
            worst = max(worst, float((a.heatmaps - b.heatmaps).abs().max() / b.heatmaps.abs().max()))
    return worst


def run_predict(model: str, device: str, frames: int, boxes: Path) -> tuple[float, float]:
    """`tarpose predict` on vtest.avi in a subprocess -> (frames per second, peak MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "tarpose", "predict", str(VTEST), "--model", model,
                   "--boxes", str(boxes), "--out", str(Path(tmp) / "k.json"), "--device", device,
                   "--max-frames", str(frames), "--quiet"]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])})
    if result.returncode:
        raise SystemExit(f"tarpose predict failed:\n{result.stderr}")
    match = re.search(r"\(([\d.]+) frames/s\), peak memory (\d+) MiB", result.stderr)
    return float(match.group(1)), float(match.group(2))


def temporal_config(items: list[str]) -> tarpose.TARConfig:
    """``FIELD=VALUE`` strings -> the TARConfig they set (values read as JSON where they parse:
    numbers, true/false; strings otherwise), a window of 5 frames unless ``num_frames`` is given."""
    fields = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--temporal takes FIELD=VALUE, got {item!r}")
        try:
            fields[name] = json.loads(text)
        except json.JSONDecodeError:
            fields[name] = text
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(tarpose.TARConfig)})
    if unknown:
        raise ValueError(f"--temporal: {unknown} are not TARConfig fields")
    return tarpose.TARConfig(**{"num_frames": 5, **fields})


def counted_macs(fn: Callable[[], object]) -> int:
    """Multiply-adds of the matrix products ``fn`` runs, counted by FlopCounterMode (attention
    through the math kernel, whose products it counts)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() // 2


def build(name: str, img: tuple[int, int], device: str) -> tarpose.ViTPose:
    if name == "tiny":
        return tarpose.ViTPose(input_size=(64, 48), embed_dim=64, depth=2, num_heads=4, deconv_channels=32).to(device)
    return tarpose.create_model(name, input_size=img).to(device)


def bench_model(name: str, args: argparse.Namespace) -> dict[str, float]:
    """All timings of one model (ms), its multiply-adds, and its check at initialisation."""
    dev = args.device
    torch.manual_seed(0)
    vitpose = build(name, tuple(args.img), dev).eval()
    tar = tarpose.TemporalWrapper(vitpose, args.temporal).to(dev).eval()  # shares the base modules
    t = tar.num_frames
    single = SingleFrameModel(vitpose)
    frames, boxes = synthetic_stream(8, args.persons)
    worst = None
    if tar.config.restore != "postnorm":  # the restoring step is the identity at initialisation
        models = {"single-frame": (single, "centred"), "streaming": (tar, tar.target), "windowed": (tar, "exact")}
        worst = check_equal_at_init(models, frames[:6], [b[:1] for b in boxes[:6]])  # 1 person
        limit = 2e-2 if dev.startswith("cuda") else 1e-4
        if worst > limit:
            raise SystemExit(f"{name}: at initialisation the pipelines' heatmaps disagree by {worst:.2e} > {limit}")
    with torch.no_grad():
        tar.gra.attn.out_proj.weight.normal_(0, 0.02)  # trained-looking; the cost does not depend on it

    crops = torch.randn(args.persons, 3, *vitpose.config.input_size, device=dev)
    with torch.inference_mode():
        features, heatmaps = tar.encode(crops)
    hh, wh = heatmaps.shape[-2:]
    h, w = features.shape[-2:]
    bank = None
    if args.masks != "model":
        from mask_counts import heatmap_bank

        bank = heatmap_bank(args.persons, 32, (hh, wh), stretch=args.masks == "stretched").to(dev)
        window = bank[:t].transpose(0, 1)  # (persons, t, j, hh, wh)
    else:
        window = heatmaps[:, None].expand(-1, t, -1, -1, -1)
    temporal, dense = DemoHeatmaps(tar, bank), DemoHeatmaps(tar, bank, gather="never")
    # the window's maps as streaming stacks them, channels innermost in memory
    tokens = repeat(features, "b c h w -> b t h w c", t=t).contiguous()  # (b, t, h, w, c)
    window_features = rearrange(tokens, "b t h w c -> b t c h w")  # (b, t, c, h, w), a view
    window_maps = window.to(features)  # (b, t, j, hh, wh)
    frame_maps = window_maps[:, tar.target_index].contiguous()  # (b, j, hh, wh): one frame's
    # JTA's masks of the window, each frame's computed once, as streaming does (the "masks" column)
    window_masks = torch.stack([tar.frame_masks(window_maps[:, i], (h, w)) for i in range(t)], dim=1)
    largest = int(tar.jta.allowed_tokens(window_masks).sum(-1).max())
    joints = tar.jta(window_features, mask=window_masks)
    embed = tar.heatmap_embed  # the default restoring step embeds the window's heatmaps (None: off)
    evidence = None if embed is None else embed(window_maps, tar.target_index)  # (b, c, h, w)

    def jta(mode: str) -> Callable[[], Tensor]:
        def call() -> Tensor:
            tar.jta.gather = mode
            try:
                return tar.jta(window_features, mask=window_masks)
            finally:
                tar.jta.gather = "auto"
        return call

    # the same temporal part in a causal window (frames t-4..t, target="last"): what live video runs
    causal = tarpose.TemporalWrapper(vitpose, args.temporal.replace(target="last")).to(dev).eval()
    causal.load_state_dict(tar.state_dict())
    predictors = {
        "single-frame": StreamingPredictor(single, compile=args.compile),
        "streaming": StreamingPredictor(temporal, compile=args.compile),
        "streaming causal": StreamingPredictor(DemoHeatmaps(causal, bank), compile=args.compile),
        "streaming dense": StreamingPredictor(dense, compile=args.compile),
    }
    amp = torch.autocast(dev.split(":")[0], dtype=torch.bfloat16, enabled=dev.startswith("cuda"))
    pipelines = {name: pusher(p, frames, boxes) for name, p in predictors.items()}
    fns: dict[str, Callable[[], object]] = {}  # the windowed pipeline (slow: fewer rounds) and the parts
    if args.windowed:
        fns["windowed"] = pusher(StreamingPredictor(temporal, mode="exact", compile=args.compile), frames, boxes)
    fns.update({
        "encoder": lambda: single.encoder(crops),
        "decoder": lambda: single.decoder(features),
        "masks": lambda: tar.frame_masks(frame_maps, (h, w)),
        "JTA": jta("auto"),
        "JTA dense": jta("never"),
        "GRA": lambda: tar.gra(features, joints, evidence),
    })
    if embed is not None:
        fns["embed"] = lambda: embed(window_maps, tar.target_index)
    with torch.inference_mode():
        macs = {"encoder": counted_macs(fns["encoder"]), "decoder": counted_macs(fns["decoder"])}
    macs.update(temporal_macs(tar.jta, tar.gra, embed, frames=t, grid=(h, w), heatmap_size=(hh, wh),
                              batch=args.persons, tokens=largest))
    tar.jta.gather = "never"
    macs["jta_dense"] = temporal_macs(tar.jta, tar.gra, None, frames=t, grid=(h, w), heatmap_size=(hh, wh),
                                      batch=args.persons)["jta"]
    tar.jta.gather = "auto"
    with torch.inference_mode(), amp:
        for fn in (*pipelines.values(), *fns.values()):  # warm-up
            fn()
        # the pipelines' calls vary most between rounds (whole frames, ~10% on a shared machine):
        # more rounds of them, their ratios taken round by round
        rounds = interleaved(pipelines, args.pipeline_repeats, dev)
        times = {k: statistics.median(v) for k, v in {**rounds, **interleaved(fns, args.repeats, dev)}.items()}
    ms = {k: v * 1e3 for k, v in times.items()}
    ms["paired"] = {f"{a} / single-frame": paired_ratio(rounds, a, "single-frame")
                    for a in rounds if a != "single-frame"}
    ms.setdefault("embed", 0.0)
    ms["largest"] = largest
    ms["temporal"] = tar.config.to_dict()
    ms["num_frames"] = t
    ms["tokens"] = t * h * w
    ms["check"] = worst
    ms["macs"] = macs
    return ms


#: the parts whose multiply-adds per second are compared with the encoder's: JSON key -> timing key
RATED = {"encoder": "encoder", "decoder": "decoder", "jta": "JTA", "jta_dense": "JTA dense", "gra": "GRA",
         "embed": "embed"}


def rates(r: dict) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Multiply-adds per second (G/s) of each part, and each rate over the encoder's."""
    gmacs = {k: r["macs"][k] / (r[t] * 1e-3) / 1e9 if r["macs"][k] and r[t] > 0 else None for k, t in RATED.items()}
    temporal = [k for k in ("jta", "gra", "embed") if gmacs[k] is not None]
    total_macs = sum(r["macs"][k] for k in temporal)
    total_ms = sum(r[RATED[k]] for k in temporal)
    gmacs["temporal"] = total_macs / (total_ms * 1e-3) / 1e9 if total_ms > 0 else None
    share = {k: None if v is None else v / gmacs["encoder"] for k, v in gmacs.items()}
    return gmacs, share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", nargs="+", default=["vitpose-s", "vitpose-s-simple", "vitpose-b"])
    parser.add_argument("--img", type=int, nargs=2, default=[256, 192], metavar=("H", "W"))
    parser.add_argument("--persons", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7, help="rounds of the parts and windowed calls")
    parser.add_argument("--pipeline-repeats", type=int, default=41,
                        help="rounds of the single-frame and streaming pipelines")
    parser.add_argument("--masks", default="demo", choices=["demo", "stretched", "model"],
                        help="initial heatmaps that JTA's mask reads (see the module docs)")
    parser.add_argument("--predict-frames", type=int, default=0,
                        help="frames of vtest.avi for an end-to-end `tarpose predict` run (0: skip)")
    parser.add_argument("--boxes", default=str(BOXES), help="boxes for the end-to-end run")
    parser.add_argument("--windowed", action="store_true",
                        help="also time windowed recomputation (T encoder passes a frame: slow)")
    parser.add_argument("--small", action="store_true", help="a tiny model, 64x48: a smoke run")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile every pipeline's model calls (CUDA graphs on a GPU)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the measured table here as JSON")
    parser.add_argument("--temporal", nargs="+", default=[], metavar="FIELD=VALUE",
                        help="TARConfig fields of the temporal part timed, e.g. jta_depth=3 gra_ffn_ratio=1.0 "
                             "(default: tarpose's default with a window of 5 frames)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads (torch.set_num_threads; default: as the environment sets)")
    args = parser.parse_args()
    try:
        args.temporal = temporal_config(args.temporal)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.small:
        args.models, args.img, args.predict_frames = ["tiny"], [64, 48], 0
        if args.masks == "demo":
            args.masks = "stretched"  # 16x12 heatmaps: smaller than the demo's

    dev = args.device
    t = args.temporal.num_frames
    report = {"device": dev, "threads": torch.get_num_threads(), "torch": torch.__version__, "crop": args.img,
              "num_frames": t, "persons": args.persons, "masks": args.masks, "repeats": args.repeats,
              "pipeline_repeats": args.pipeline_repeats,
              "autocast": "bfloat16" if dev.startswith("cuda") else None, "compiled": args.compile,
              "load_average_start": list(os.getloadavg()), "cpus": os.cpu_count(), "units": "ms per frame",
              "models": {}}
    changed = {k: v for k, v in args.temporal.to_dict().items() if v != getattr(tarpose.TARConfig(), k)}
    print(f"device={dev} threads={torch.get_num_threads()} torch={torch.__version__} "
          f"crop={args.img[0]}x{args.img[1]} T={t} persons={args.persons} masks={args.masks} "
          f"repeats={args.repeats}" + (" (bf16 autocast)" if dev.startswith("cuda") else "")
          + (" compiled" if args.compile else ""))
    print("temporal part: " + (" ".join(f"{k}={v}" for k, v in changed.items() if k != "num_frames") or "default"))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")
    print(f"\nper frame, {args.persons} persons, ms (medians of {args.repeats} interleaved calls; the pipelines "
          f"of {args.pipeline_repeats}, their ratios the medians of the rounds' ratios):")
    print(f"{'model':<18} {'encoder':>8} {'decoder':>8} {'JTA':>7} {'dense':>7} {'K/tokens':>9} {'GRA':>6} {'embed':>6} "
          f"{'masks':>6} {'single':>8} {'stream':>8} {'window':>8} {'ratio':>6} {'dense':>6} {'floor':>6} {'over':>6}",
          flush=True)
    checks = []
    for name in args.models:
        r = bench_model(name, args)
        if r["check"] is not None:
            checks.append(r["check"])
        paired = r["paired"]
        ratio, low, high = paired["streaming / single-frame"]
        ratio_dense = paired["streaming dense / single-frame"][0]
        floor = (r["encoder"] + 2 * r["decoder"]) / (r["encoder"] + r["decoder"])
        gmacs, share = rates(r)
        report["models"][name] = {
            "encoder": r["encoder"], "decoder": r["decoder"], "jta": r["JTA"], "jta_dense": r["JTA dense"],
            "largest_tokens": r["largest"], "tokens": r["tokens"], "gra": r["GRA"], "embed": r["embed"],
            "masks": r["masks"], "single_frame": r["single-frame"], "streaming": r["streaming"],
            "streaming_dense": r["streaming dense"], "windowed": r.get("windowed"),
            "streaming_causal": r["streaming causal"], "causal_over_centred": paired["streaming causal / single-frame"][0] / ratio,
            "ratio": ratio, "ratio_quartiles": [low, high], "ratio_of_medians": r["streaming"] / r["single-frame"],
            "ratio_dense": ratio_dense, "floor": floor, "over_floor": ratio / floor,
            "over_floor_quartiles": [low / floor, high / floor], "check": r["check"], "temporal": r["temporal"],
            "macs": r["macs"], "gmacs_per_s": gmacs, "share_of_encoder": share,
        }
        print(f"{name:<18} {r['encoder']:>8.1f} {r['decoder']:>8.1f} {r['JTA']:>7.1f} {r['JTA dense']:>7.1f} "
              f"{r['largest']:>4.0f}/{r['tokens']:<4.0f} {r['GRA']:>6.1f} {r['embed']:>6.1f} {r['masks']:>6.1f} "
              f"{r['single-frame']:>8.1f} {r['streaming']:>8.1f} {r.get('windowed', float('nan')):>8.1f} {ratio:>5.3f}x "
              f"{ratio_dense:>5.3f}x {floor:>5.3f}x {ratio / floor:>5.3f}x",
              flush=True)
    print("over floor, quartiles of the rounds: " + ", ".join(
        f"{n} {m['over_floor_quartiles'][0]:.3f}-{m['over_floor_quartiles'][1]:.3f}" for n, m in report["models"].items()))
    print("ratio = streaming / single-frame (the median of the rounds' ratios; dense: the same with JTA's dense path, as before the "
          "gathered attention); floor = (encoder + 2 x decoder) / (encoder + decoder); over = ratio / floor; "
          "JTA: as streaming runs it (gathered where cheaper), from the frames' masks; dense: the dense path; "
          "K: the largest number of tokens a joint attends in the window batch; GRA: with its FFN; embed: the "
          "heatmap embedding (0 when off); masks: JTA's masks of one frame's persons")
    print("causal streaming (frames t-4..t, zero latency) over centred streaming, the same temporal part: "
          + ", ".join(f"{n} {m['causal_over_centred']:.3f}x ({m['streaming_causal']:.1f} ms)"
                      for n, m in report["models"].items()))
    print(f"\nmultiply-adds per frame (G), their rate (G/s) and that rate / the encoder's ({args.persons} persons):")
    print(f"{'model':<18} {'encoder':>14} {'decoder':>21} {'JTA':>21} {'JTA dense':>21} {'GRA':>21} "
          f"{'embed':>21} {'temporal':>14}")
    for name, m in report["models"].items():
        cells = [f"{m['macs']['encoder'] / 1e9:7.3f} {m['gmacs_per_s']['encoder']:6.1f}"]
        for key in ("decoder", "jta", "jta_dense", "gra", "embed"):
            rate, part = m["gmacs_per_s"][key], m["share_of_encoder"][key]
            cells.append(f"{m['macs'][key] / 1e9:7.3f} " + (f"{'-':>6} {'-':>6}" if rate is None else f"{rate:6.1f} {part:6.0%}"))
        total = m["share_of_encoder"]["temporal"]
        cells.append(f"{'-':>6}" if total is None else f"{m['gmacs_per_s']['temporal']:6.1f} {total:6.0%}")
        print(f"{name:<18} {cells[0]:>14} " + " ".join(f"{c:>21}" for c in cells[1:-1]) + f" {cells[-1]:>14}")
    print("temporal: JTA (as run) + GRA + embed together. Encoder and decoder counted by FlopCounterMode, the "
          "temporal modules by tarpose.layers.costs.temporal_macs (matrix products only)")
    worst = max(checks) if checks else None
    if worst is None:
        print("check: skipped (the restoring step is not the identity at initialisation)")
    else:
        print(f"check: at initialisation streaming and windowed heatmaps equal single-frame "
              f"(max relative difference {worst:.1e})")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report["check"] = worst
    report["load_average_end"] = list(os.getloadavg())

    if args.predict_frames:
        if not VTEST.exists():
            print(f"\n{VTEST} is absent: no end-to-end run")
        else:
            print(f"\n`tarpose predict` on vtest.avi (768x576), {args.predict_frames} frames, boxes {args.boxes}:")
            print(f"{'model':<22} {'frames/s':>9} {'peak MiB':>9}")
            report["predict"] = {"frames": args.predict_frames, "boxes": args.boxes, "models": {}}
            for name in args.models:
                for model in (name, f"tar-{name}"):
                    fps, peak = run_predict(model, dev, args.predict_frames, Path(args.boxes))
                    print(f"{model:<22} {fps:>9.2f} {peak:>9.0f}")
                    report["predict"]["models"][model] = {"frames_per_second": fps, "peak_mib": peak}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(finite(report), indent=1) + "\n")
        print(f"wrote {args.json}")


def finite(x: object) -> object:
    """``x`` with NaN and infinities as ``None`` (strict JSON)."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


if __name__ == "__main__":
    main()
