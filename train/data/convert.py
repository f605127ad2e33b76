"""`python main.py convert SOURCE INPUT OUTPUT`: public datasets -> the one dataset format.

Every converter streams over its input files with a progress bar, reports a malformed file by name and
either skips it or stops (``--on-error``), and writes the output atomically at the end.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from stfnet.errors import UserError
from stfnet.progress import progress
from train.data import kinetics, ntu, penn, prenorm, pyskl, utd
from train.data.format import SampleError, save_dataset, stratified_split
from train.data.validate import validate_dataset


def convert_all(items: Iterable[Path], convert_one: Callable[[Path], dict | None], on_error: str,
                desc: str) -> list[dict]:
    """Convert every item; a ``SampleError`` skips the item (with a message) or stops the run."""
    items = list(items)
    annotations, skipped = [], []
    for item in progress(items, desc=desc, unit="file"):
        try:
            ann = convert_one(item)
        except SampleError as exc:
            if on_error == "stop":
                raise UserError(f"{exc} (use --on-error skip to leave such files out)") from None
            skipped.append(str(exc))
            tqdm.write(f"skipped: {exc}", file=sys.stderr)
            continue
        if ann is not None:
            annotations.append(ann)
    if skipped:
        print(f"{len(skipped)} of {len(items)} files skipped", file=sys.stderr)
    return annotations


def read_label_names(path: str | Path | None) -> list[str] | None:
    """Class names from a text file, one per line in label order (blank lines ignored)."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise UserError(f"labels file {path} does not exist")
    names = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not names:
        raise UserError(f"labels file {path} holds no names")
    return names


def _form(args: argparse.Namespace, forms: tuple[str, ...]) -> str:
    """The --form the user chose for this source (its first form by default)."""
    form = args.form or forms[0]
    if form not in forms:
        raise UserError(f"{args.source} converts to {' or '.join(forms)}, not '{form}'")
    return form


def _convert_mat_folder(args: argparse.Namespace, module: Any, name: str, pattern: str) -> tuple[str, list[dict]]:
    """The form asked for and the annotations of every file of a folder of MATLAB files (UTD-MHAD, Penn Action)."""
    root = Path(args.input)
    files = module.find_files(root) if root.is_dir() else []
    if not files:
        raise UserError(f"no {name} files ({pattern}) found in {root}")
    form = _form(args, module.FORMS)
    return form, convert_all(files, lambda p: module.convert_file(p, form), args.on_error, name)


def convert_utd(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.input)
    form, annotations = _convert_mat_folder(args, utd, "UTD-MHAD", "a*_s*_t*_skeleton.mat")
    subjects = tuple(args.train_subjects or utd.TRAIN_SUBJECTS)
    if not set(subjects) <= set(utd.TRAIN_SUBJECTS):
        raise UserError(f"--train-subjects must be among UTD-MHAD's training subjects {utd.TRAIN_SUBJECTS}")
    return {"split": utd.cross_subject_split(annotations, subjects), "annotations": annotations,
            "classes": read_label_names(args.labels) or utd.read_action_names(root), "layout": form,
            "fps": utd.FPS}


def convert_penn(args: argparse.Namespace) -> dict[str, Any]:
    form, annotations = _convert_mat_folder(args, penn, "Penn Action", "NNNN.mat")
    return {"split": penn.splits(annotations), "annotations": annotations, "classes": list(penn.ACTIONS),
            "layout": form, "fps": penn.FPS}


def convert_ntu(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.input)
    files = ntu.find_files(root) if root.is_dir() else []
    if not files:
        raise UserError(f"no NTU RGB+D .skeleton files found in {root}")
    if args.missing:
        missing_file = Path(args.missing)
        if not missing_file.is_file():
            raise UserError(f"list of samples with missing skeletons {missing_file} does not exist")
        missing = ntu.read_missing(missing_file)
        kept = [f for f in files if f.name.removesuffix(".skeleton") not in missing]
        print(f"left out {len(files) - len(kept)} samples listed in {missing_file}", file=sys.stderr)
        files = kept
    annotations = convert_all(files, lambda p: ntu.convert_file(p, args.pad_to, args.vertical), args.on_error,
                              "NTU RGB+D")
    labels = read_label_names(args.labels)
    top = max((a["label"] + 1 for a in annotations), default=0)
    ntu120 = (labels is not None and len(labels) > 60) or top > 60 or any(a["setup"] > 17 for a in annotations)
    labels = labels or [f"A{i:03d}" for i in range(1, (120 if ntu120 else 60) + 1)]
    if top > len(labels):
        raise UserError(f"action A{top:03d} has no name: the labels file names only {len(labels)} classes")
    return {"split": ntu.splits(annotations, ntu120), "annotations": annotations, "classes": labels,
            "layout": "ntu25", "fps": ntu.FPS}


def convert_kinetics(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.input)
    present = [s for s in kinetics.SPLITS if kinetics.split_folder(root, s)[0].is_dir()]
    if not present:
        folders = " and ".join(str(kinetics.split_folder(root, s)[0]) for s in kinetics.SPLITS)
        raise UserError(f"no Kinetics-skeleton clip folders in {root}: expected {folders}")
    label_files = {}
    for name in present:  # every label file is read before any clip, so a missing one fails fast
        folder, label_file = kinetics.split_folder(root, name)
        if not label_file.is_file():
            raise UserError(f"{folder} has no label file {label_file}")
        label_files[name] = kinetics.read_labels(label_file)
    annotations, split = [], {}
    for name, labels in label_files.items():
        done = convert_all(sorted(kinetics.split_folder(root, name)[0].glob("*.json")),
                           lambda p, labels=labels: kinetics.convert_file(p, labels, tuple(args.image_size)),
                           args.on_error, f"Kinetics {name}")
        split[name] = [a["frame_dir"] for a in done]
        annotations += done
    return {"split": split, "annotations": annotations, "layout": "openpose18", "fps": kinetics.FPS,
            "classes": read_label_names(args.labels) or kinetics.class_names(list(label_files.values()))}


def convert_pyskl_sample(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.input)
    files = pyskl.find_files(root) if root.exists() else []
    if not files:
        raise UserError(f"no pyskl annotation files (.pkl) found at {root}")
    annotations = convert_all(files, pyskl.convert_file, args.on_error, "pyskl samples")
    names = [a["frame_dir"] for a in annotations]
    if len(set(names)) != len(names):
        raise UserError(f"several files in {root} hold the same sample (frame_dir): each must be unique")
    data: dict[str, Any] = {"split": {**stratified_split(annotations, args.val_fraction, args.seed), "all": names},
                            "annotations": annotations, "layout": pyskl.guess_layout(annotations)}
    labels = read_label_names(args.labels)
    if labels:
        data["classes"] = labels
    return data


CONVERTERS: dict[str, tuple[Callable[[argparse.Namespace], dict[str, Any]], str]] = {
    "utd-mhad": (convert_utd, "a folder of UTD-MHAD a*_s*_t*_skeleton.mat files"),
    "penn-action": (convert_penn, "the folder of Penn Action's NNNN.mat annotation files (labels/)"),
    "ntu": (convert_ntu, "a folder (searched recursively) of NTU RGB+D 60/120 .skeleton files"),
    "kinetics": (convert_kinetics, "the Kinetics-skeleton root with kinetics_{train,val}/ and "
                                   "kinetics_{train,val}_label.json"),
    "pyskl-sample": (convert_pyskl_sample, "one pyskl annotation .pkl (a single sample) or a folder of them"),
}

EPILOG = """\
sources and what they write:
  utd-mhad      splits xsub_train / xsub_test (subjects 1, 3, 5, 7 train); layout as --form
  penn-action   splits train / test (the files' own flag); layout as --form: openpose18 (default, the live
                layout) or penn13; 2D in pixels, scores 0 for occluded joints, 30 fps, each clip's image size
  ntu           NTU60: xsub_* and xview_*; NTU120 (an action above 60, a setup above 17, or a labels file
                with more than 60 names): xsub_* and xset_*; layout ntu25, 2 persons, 3D, 2s-AGCN
                pre-normalisation. Class names A001... unless --labels names them. Leave out the samples NTU
                lists as having missing skeletons with --missing NTU_RGBD_samples_with_missing_skeletons.txt
                (or NTU_RGBD120_...), which comes with the NTU release.
  kinetics      INPUT/kinetics_train/*.json + INPUT/kinetics_train_label.json -> split train,
                INPUT/kinetics_val/*.json + INPUT/kinetics_val_label.json -> split val (either may be absent);
                layout openpose18, 2 persons, 2D in pixels with scores. Train with
                --train-split train --val-split val.
  pyskl-sample  single-sample pyskl annotation pickles -> splits train / val (stratified, --val-fraction)
                and all. Whole pyskl / mmaction2 dataset files need no conversion.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("source", choices=sorted(CONVERTERS), help="which dataset the input is")
    parser.add_argument("input", help="; ".join(f"{k}: {v[1]}" for k, v in sorted(CONVERTERS.items())))
    parser.add_argument("output", help="dataset file to write: .npz (holds no code, safe to share) or .pkl "
                                           "(pyskl's pickle)")
    parser.add_argument("--on-error", default="skip", choices=("skip", "stop"),
                        help="what to do with a malformed input file (default: skip it and say so)")
    parser.add_argument("--labels", metavar="FILE",
                        help="class names, one per line in label order (e.g. NTU's label map, Kinetics' "
                             "label_name.txt)")
    parser.add_argument("--form", choices=sorted(set(utd.FORMS) | set(penn.FORMS)),
                        help="layout to convert to; utd-mhad: 3D ntu25 (default) or kinect20, or live-style 2D "
                             "openpose18; penn-action: openpose18 (default) or penn13")
    group = parser.add_argument_group("utd-mhad")
    group.add_argument("--train-subjects", type=int, nargs="+", metavar="S",
                       help="training subjects (default: 1 3 5 7; fewer for a small-data protocol, e.g. 1 3)")
    group = parser.add_argument_group("ntu")
    group.add_argument("--missing", metavar="FILE",
                       help="NTU's list of samples with missing skeletons: those samples are left out")
    group.add_argument("--pad-to", type=int, default=0, metavar="FRAMES",
                       help="repeat shorter sequences up to FRAMES frames, as 2s-AGCN does with 300 (default: "
                            "keep each sample's length; the training window resamples it anyway)")
    group.add_argument("--vertical", default="y", choices=prenorm.VERTICAL_AXES,
                       help="axis the spine is turned to: y as in Kinect camera space and UTD-MHAD, which the 3D "
                            "rotation augmentation assumes (default), or z as in 2s-AGCN")
    group = parser.add_argument_group("kinetics")
    group.add_argument("--image-size", type=int, nargs=2, default=kinetics.IMAGE_SIZE, metavar=("W", "H"),
                       help="frame size the normalised poses are scaled back to (default: 340 256, ST-GCN's)")
    group = parser.add_argument_group("pyskl-sample")
    group.add_argument("--val-fraction", type=float, default=0.2, help="share of each class in split val")
    group.add_argument("--seed", type=int, default=0, help="seed of the random split")


def run(args: argparse.Namespace) -> int:
    data = CONVERTERS[args.source][0](args)
    if not data["annotations"]:
        raise UserError(f"nothing was converted from {args.input}")
    top = max(int(a["label"]) for a in data["annotations"])
    if data.get("classes") and top >= len(data["classes"]):
        raise UserError(f"label {top} has no class name: only {len(data['classes'])} names are known "
                        "(give a complete --labels file)")
    validate_dataset(data, args.input)  # what every command checks on loading, checked before writing
    save_dataset(data, args.output)
    sizes = ", ".join(f"{name} {len(names)}" for name, names in data["split"].items())
    print(f"wrote {len(data['annotations'])} samples to {args.output} ({sizes})")
    return 0
