"""Converters cap what one input file can make them allocate: a broken or crafted file is skipped by name."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from test_train_ntu import _body, write_skeleton

from main import main
from train.data import kinetics, ntu, penn, utd
from train.data.format import SampleError, load_dataset


def _kinetics_root(tmp_path, last_frame: int):
    root = tmp_path / "kinetics"
    (root / "kinetics_train").mkdir(parents=True)
    person = {"pose": [0.5] * 36, "score": [0.9] * 18}
    for name, frame in (("good", 3), ("huge", last_frame)):
        clip = {"data": [{"frame_index": 1, "skeleton": [person]}, {"frame_index": frame, "skeleton": [person]}]}
        (root / "kinetics_train" / f"{name}.json").write_text(json.dumps(clip))
    labels = {name: {"has_skeleton": True, "label": "x", "label_index": 0} for name in ("good", "huge")}
    (root / "kinetics_train_label.json").write_text(json.dumps(labels))
    return root


def test_a_kinetics_clip_claiming_frame_twenty_million_is_skipped_without_allocating_it(tmp_path, capsys):
    root = _kinetics_root(tmp_path, 20_000_000)
    tracemalloc.start()
    assert main(["convert", "kinetics", str(root), str(tmp_path / "k.npz")]) == 0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100 * 2**20, f"the converter allocated {peak / 2**20:.0f} MiB"
    assert "huge.json claims frame 20,000,000; a clip has at most 100,000" in capsys.readouterr().err
    assert [a["frame_dir"] for a in load_dataset(tmp_path / "k.npz")["annotations"]] == ["good"]


@pytest.mark.parametrize("bad", ["Infinity", "1" + "0" * 5000, '"x"'])
def test_a_kinetics_frame_index_that_is_not_a_number_is_one_sentence(tmp_path, bad):
    path = tmp_path / "clip.json"
    path.write_text('{"data": [{"frame_index": ' + bad + ', "skeleton": []}]}')
    with pytest.raises(SampleError, match="clip.json"):
        kinetics.read_clip(path)


def test_an_ntu_file_claiming_a_billion_frames_or_many_bodies_is_refused(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("1000000000\n0\n")
    with pytest.raises(SampleError, match="claims 1,000,000,000 frames"):
        ntu.read_skeleton(path)
    body = _body(1)[0]
    write_skeleton(path, [[(str(b), body) for b in range(ntu.MAX_BODIES + 1)]])
    with pytest.raises(SampleError, match=f"more than {ntu.MAX_BODIES} different bodies"):
        ntu.read_skeleton(path)


@pytest.mark.parametrize("reader", ["utd", "penn"])
def test_a_matlab_file_declaring_huge_arrays_is_refused_before_loading(tmp_path, reader):
    from scipy.io import savemat

    path = tmp_path / ("a1_s1_t1_skeleton.mat" if reader == "utd" else "0001.mat")
    savemat(path, {"d_skel" if reader == "utd" else "x": np.zeros(11_000_000, np.uint8)}, do_compression=True)
    assert path.stat().st_size < 1_000_000  # a small file that would expand to 11 million values
    with pytest.raises(SampleError, match="declares 11,000,000 values"):
        utd.read_skeleton(path) if reader == "utd" else penn.convert_file(path, "openpose18")
