"""JTA + GRA: tarpose's exact folded attention against the reference computation.

The reference way (tests/reference_tar.py): nn.MultiheadAttention with attention weights returned,
the boolean mask repeated per head, keys and values projected from every token of every frame.
tarpose: keys folded into the 17 joint queries, values projected after aggregation, the GRA query
projection folded into the joint tokens, all through F.scaled_dot_product_attention.

Both run side by side on the same weights and inputs in one process (interleaved, median of
repeats); the script checks that the outputs agree to 1e-5 relative, then prints the speed ratio and
the temporal head's share of a whole TemporalWrapper forward.

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
sys.path.insert(0, str(ROOT))

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


def macs_reference(t: int, n: int, c: int, j: int, depth: int, heads: int) -> int:
    cross = attention_costs(j, t * n, c, heads)["project"]
    restore = attention_costs(n, j, c, heads)["project"]
    return depth * cross + restore


def macs_tarpose(t: int, n: int, c: int, j: int, depth: int, heads: int) -> int:
    cross = min(attention_costs(j, t * n, c, heads).values())
    restore = min(attention_costs(n, j, c, heads).values())
    return depth * cross + restore


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
        maps = torch.randn(b, t, c, h, w, device=dev)
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

    if args.no_wrapper:
        return
    model = tarpose.TemporalWrapper(
        tarpose.create_model(f"vitpose-{size}", img_size=img) if not args.small else
        tarpose.ViTPose(img_size=img, embed_dim=c, depth=2, num_heads=4),
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
