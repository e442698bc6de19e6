"""Convert an official TAR-ViTPose checkpoint (the reference code's .pt) and run it.

    python examples/convert_official.py tar_vitpose_b.pt converted/

The released weights were trained on the reference code's reshape-based token layout, so the
converted model uses ``token_layout="official"`` and ``restore="postnorm"``, which reproduce that
computation exactly. The directory it writes loads with ``tarpose.load_model``.
"""

from __future__ import annotations

import argparse

import torch

import tarpose
from tarpose.weights.convert import convert_tar_checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("checkpoint", help="official TAR-ViTPose .pt ({'model_state_dict': ...})")
    parser.add_argument("out", help="directory to write (config.json + model.safetensors)")
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="input size, if not the reference's 384 288")
    args = parser.parse_args(argv)

    options = {} if args.input_size is None else {"input_size": tuple(args.input_size)}
    convert_tar_checkpoint(args.checkpoint, args.out, **options)
    model = tarpose.load_model(args.out)  # strict, bit-exact
    jta = model.jta
    print(f"converted to {args.out}: token_layout={jta.token_layout!r}, "
          f"restore={model.gra.restore!r}, {model.num_frames} frames, "
          f"input {tuple(model.base_config.input_size)}")

    clip = torch.randn(1, model.num_frames, 3, *model.base_config.input_size)
    with torch.no_grad():
        heatmaps = model(clip)
    print(f"heatmaps {tuple(heatmaps.shape)}, finite: {bool(torch.isfinite(heatmaps).all())}")


if __name__ == "__main__":
    main()
