"""JTA + GRA: tarpose's exact folded attention against the reference computation.

The reference way (tests/reference_tar.py): nn.MultiheadAttention with attention weights returned,
the boolean mask repeated per head, keys and values projected from every token of every frame.
tarpose: keys folded into the 17 joint queries, values projected after aggregation, the GRA query
projection folded into the joint tokens, all as batched matrix products.

Both run side by side on the same weights and inputs in one process (interleaved, median of
repeats); the script checks that the outputs agree to 1e-5 relative, then prints the speed ratio and
the temporal head's share of a whole TemporalWrapper forward.

Then JTA alone at typical masks: the gathered attention (each joint attends only the tokens its
mask allows, tarpose.layers.gather; what gather="auto" runs) against the dense folded path
(gather="never"). Typical masks come from the bundled demo model's heatmaps on synthetic videos
(benchmarks/mask_counts.py): "demo" at its own scale in tokens (a model trained with the same
Gaussian sigma in heatmap pixels), "stretched" covering the same share of the crop (4x the tokens).

    python benchmarks/bench_temporal_head.py              # ViT-B dims, CPU
    python benchmarks/bench_temporal_head.py --device cuda
    python benchmarks/bench_temporal_head.py --small      # seconds; a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from mask_counts import heatmap_bank  # noqa: E402
from reference_tar import ReferenceTemporalHead, copy_reference_into  # noqa: E402

import tarpose  # noqa: E402
from tarpose.layers.attention import attention_costs  # noqa: E402


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_pair(fns: dict[str, callable], repeats: int, device: str) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved so drift hits all alike."""
    for fn in fns.values():  # warm-up
        fn()
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in samples.items()}


def encoder_like_maps(b: int, t: int, c: int, h: int, w: int, device: str) -> torch.Tensor:
    """Random maps ``(b, t, c, h, w)`` laid out as a ViT encoder returns them: channels innermost
    (each position's C values contiguous, a view of ``(b, t, h, w, c)``)."""
    return torch.randn(b, t, h, w, c, device=device).permute(0, 1, 4, 2, 3)


def macs_reference(t: int, n: int, c: int, j: int, depth: int, heads: int) -> int:
    cross = attention_costs(j, t * n, c, heads)["project"]
    restore = attention_costs(n, j, c, heads)["project"]
    return depth * cross + restore


def macs_tarpose(t: int, n: int, c: int, j: int, depth: int, heads: int) -> int:
    cross = min(attention_costs(j, t * n, c, heads).values())
    restore = min(attention_costs(n, j, c, heads).values())
    return depth * cross + restore


def jta_at_typical_masks(jta, args, grid: tuple[int, int], t: int, c: int, dev: str) -> None:
    """JTA with the gathered attention against the dense folded path, on demo-model masks."""
    h, w = grid
    amp = dev == "cuda"
    print(f"\nJTA at typical masks ({t}x{h}x{w} = {t * h * w} tokens): gathered (gather='auto') "
          f"against dense (gather='never')")
    print(f"{'masks':<10} {'batch':>5} {'K':>5} {'dense ms':>9} {'gathered ms':>12} {'speed-up':>9} "
          f"{'max rel err':>12}")
    for kind in ("demo", "stretched"):
        for b in args.batch:
            bank = heatmap_bank(b, t, (4 * h, 4 * w), stretch=kind == "stretched")  # (t, b, j, hh, ww)
            mask = tarpose.heatmap_mask(bank.transpose(0, 1).to(dev), grid, jta.mask_threshold)
            largest = int(jta.allowed_tokens(mask).sum(-1).max())
            maps = encoder_like_maps(b, t, c, h, w, dev)

            def run(mode: str):
                def call():
                    jta.gather = mode
                    return jta(maps, mask=mask)
                return call

            with torch.inference_mode():
                dense, gathered = run("never")(), run("auto")()
                err = ((gathered - dense).abs().max() / dense.abs().max()).item()
                if err > 1e-5:
                    raise SystemExit(f"gathered and dense JTA differ: max relative error {err:.2e} > 1e-5")
                with torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
                    times = time_pair({"dense": run("never"), "gathered": run("auto")}, args.repeats, dev)
            jta.gather = "auto"
            print(f"{kind:<10} {b:>5} {largest:>5} {times['dense'] * 1e3:>9.1f} {times['gathered'] * 1e3:>12.1f} "
                  f"{times['dense'] / times['gathered']:>8.2f}x {err:>12.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--small", action="store_true", help="tiny dims, for a smoke run")
    parser.add_argument("--no-wrapper", action="store_true", help="skip the whole-model share")
    args = parser.parse_args()

    torch.manual_seed(0)
    dev = args.device
    if args.small:
        c, heads, depth, j, t, (h, w), img, size = 64, 4, 2, 17, 5, (8, 6), (128, 96), "s"
    else:
        c, heads, depth, j, t, (h, w), img, size = 768, 4, 6, 17, 5, (24, 18), (384, 288), "b"
    amp = dev == "cuda"
    print(f"device={dev} threads={torch.get_num_threads()} torch={torch.__version__} "
          f"C={c} T={t} tokens={h}x{w} depth={depth} heads={heads} J={j}"
          + (" (bf16 autocast)" if amp else ""))
    mr, mt = macs_reference(t, h * w, c, j, depth, heads), macs_tarpose(t, h * w, c, j, depth, heads)
    print(f"multiply-adds per clip: reference {mr / 1e9:.2f} G, tarpose {mt / 1e9:.2f} G "
          f"({mr / mt:.1f}x fewer)")

    ref = ReferenceTemporalHead(c, j, t, depth, heads, layout="spatial").to(dev).eval()
    jta = tarpose.JointTemporalAggregator(c, j, depth, heads).to(dev).eval()
    gra = tarpose.GlobalRestoringAttention(c, heads, restore="postnorm").to(dev).eval()
    copy_reference_into(ref, jta, gra)

    print(f"\n{'batch':>5} {'reference ms':>13} {'tarpose ms':>11} {'speed-up':>9} {'max rel err':>12}")
    for b in args.batch:
        maps = encoder_like_maps(b, t, c, h, w, dev)
        heat = torch.randn(b, t, j, 4 * h, 4 * w, device=dev)
        with torch.inference_mode():
            out_ref = ref(maps, heat)
            out = gra(maps[:, t // 2], jta(maps, heat))
            err = ((out - out_ref).abs().max() / out_ref.abs().max()).item()
            if err > 1e-5:
                raise SystemExit(f"outputs differ: max relative error {err:.2e} > 1e-5")
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
                times = time_pair(
                    {
                        "reference": lambda: ref(maps, heat),
                        "tarpose": lambda: gra(maps[:, t // 2], jta(maps, heat)),
                    },
                    args.repeats, dev,
                )
        print(f"{b:>5} {times['reference'] * 1e3:>13.1f} {times['tarpose'] * 1e3:>11.1f} "
              f"{times['reference'] / times['tarpose']:>8.2f}x {err:>12.1e}")

    jta_at_typical_masks(jta, args, (h, w), t, c, dev)
    if args.no_wrapper:
        return
    model = tarpose.TemporalWrapper(
        tarpose.create_model(f"vitpose-{size}", input_size=img) if not args.small else
        tarpose.ViTPose(input_size=img, embed_dim=c, depth=2, num_heads=4),
        tarpose.TARConfig(num_frames=t, jta_depth=depth, jta_heads=heads, gra_heads=heads),
    ).to(dev).eval()
    clip = torch.randn(1, t, 3, *img, device=dev)
    with torch.inference_mode(), torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
        feats, init = model.encode(clip.flatten(0, 1))
        feats, init = feats.unflatten(0, (1, t)), init.unflatten(0, (1, t))
        times = time_pair(
            {
                "whole": lambda: model(clip),
                "head": lambda: model.gra(feats[:, t // 2], model.jta(feats, init)),
            },
            max(3, args.repeats // 3), dev,
        )
    print(f"\nTemporalWrapper(vitpose-{size} {img[0]}x{img[1]}) forward, batch 1, T={t}: "
          f"{times['whole'] * 1e3:.0f} ms; JTA+GRA {times['head'] * 1e3:.1f} ms = "
          f"{100 * times['head'] / times['whole']:.1f}% of it")


if __name__ == "__main__":
    main()
