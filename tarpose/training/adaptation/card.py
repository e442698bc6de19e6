"""The model card of an adapted model: the ``README.md`` that ``save_pretrained`` writes, with a
section saying how the temporal modules were adapted and what was measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...atomic import atomic_output

#: the run directory's machine-readable record of the adaptation
REPORT = "adapt.json"
#: the heading of the section added to the model card
HEADING = "## Label-free adaptation"

_TEACHERS = {
    "heatmaps": "the base's heatmaps on the clean target crop",
    "keypoints": "Gaussians at the base's keypoints on the clean target crop",
    "filtered": "Gaussians at the base's keypoints over the clean window, filtered in time ({filter})",
}


def adaptation_section(report: dict[str, Any]) -> str:
    """The model card's section on the adaptation, from ``adapt.json``'s record.

    Args:
        report: what [adapt][tarpose.training.adaptation.run.adapt] records.
    """
    config, footage = report["config"], report["footage"]
    kinds = ", ".join(f"{k} {v:g}" for k, v in config["kinds"].items() if v > 0)
    teacher = _TEACHERS[config["teacher"]].format(filter=config["teacher_filter"])
    weighting = "weighted 1" if config["confidence_weighting"] == "threshold" else "weighted by the peak"
    step = report.get("seconds_per_step")
    over = "the base's joints" if config["placement"] == "joints" else "random points of the box"
    lines = [
        HEADING,
        "",
        ("The temporal modules (JTA, GRA, the heatmap embedding) of this model were trained with "
         "`tarpose.training.adapt` on unlabelled footage, the base frozen: to restore, from windows "
         "whose frames were corrupted, what the base sees in the clean frame. No keypoint label was read."),
        "",
        "| | |",
        "|---|---|",
        f"| base | `{report['base']['source']}` (SHA-256 of its weights `{report['base']['sha256'][:16]}...`) |",
        (f"| footage | {footage['tracks_used']} person tracks ({footage['tracks']} given), "
         f"{footage['windows']} windows, {footage['held_out_windows']} held out; "
         f"SHA-256 `{footage['sha256'][:16]}...` |"),
        (f"| corruptions | {kinds}; the target frame of {100 * config['target_rate']:g} % of the windows, "
         f"each other frame with probability {config['neighbour_rate']:g}; occluders over {over} |"),
        (f"| teacher | {teacher}; joints the base scores under {config['confidence_floor']:g} weighted 0, "
         f"the others {weighting} |"),
        (f"| training | {report['steps']} steps of {config['batch_size']} windows, AdamW lr {config['lr']:g} "
         f"({config['schedule']}, {config['warmup_steps']} warm-up steps), weight decay "
         f"{config['weight_decay']:g} |"),
    ]
    if step is not None:
        lines.append(f"| cost | {step:.3f} s per step on {report['device']}, {report['threads']} torch thread(s) |")
    before, after = report["self_consistency"]["before"], report["self_consistency"]["after"]
    lines.append("")
    if before is None or after is None:
        lines.append("Self-consistency was not measured (no footage was held out).")
    else:
        lines += [
            (f"Self-consistency on the {before['windows']} held-out windows: PCK@0.05 (of the box) of the "
             "model against the base's own keypoints on the same frames uncorrupted, over the joints the "
             f"base scores at least {config['confidence_floor']:g} ({before['joints']}). It measures "
             "robustness to the corruptions, not accuracy: where the base is wrong on a clean frame, so is "
             "this."),
            "",
            "| | before adaptation (the base) | after |",
            "|---|---|---|",
            f"| corrupted target frame | {before['corrupted']:.2f} | {after['corrupted']:.2f} |",
        ]
        for kind in after["by_kind"]:
            lines.append(f"| &nbsp;&nbsp;{kind} | {before['by_kind'].get(kind, float('nan')):.2f} | "
                         f"{after['by_kind'][kind]:.2f} |")
        lines.append(f"| clean window | {before['clean']:.2f} | {after['clean']:.2f} |")
    return "\n".join(lines) + "\n"


def write_card(directory: Path, report: dict[str, Any]) -> Path:
    """Add (or replace) the adaptation section of ``directory/README.md``.

    Args:
        directory: the run directory, holding a model card.
        report: what ``adapt.json`` records.
    """
    path = Path(directory) / "README.md"
    text = path.read_text(encoding="utf-8")
    start = text.find("\n" + HEADING)
    if start >= 0:  # replace the section written before
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end >= 0 else "\n")
    section = "\n" + adaptation_section(report)
    cite = text.find("\n## Citation")
    text = text[:cite] + section + text[cite:] if cite >= 0 else text.rstrip("\n") + "\n" + section
    with atomic_output(path, durable=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
