"""Files from strangers: a crafted pickle runs nothing in any command that reads one; .npz datasets hold no code."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest
from hostile import Payload
from realtime_fakes import tiny_checkpoint
from train_helpers import tiny_dataset

from main import main
from stfnet.errors import DatasetError
from train.data import safe_pickle
from train.data.format import load_dataset, make_annotation, save_dataset


def malicious_dataset(path, marker, call=open):
    """A dataset whose first sample's keypoints are the payload, so it runs before any format check."""
    ann = {"frame_dir": "x", "label": 0, "keypoint": Payload(marker, call)}
    with open(path, "wb") as f:
        pickle.dump({"split": {"val": ["x"]}, "annotations": [ann]}, f)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return str(tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt"))


ENTRY_POINTS = {
    "eval": lambda evil, out, ckpt: ["eval", "--model", ckpt, "--data", evil, "--split", "val", "--out", out],
    "train": lambda evil, out, ckpt: ["train", "--data", evil, "--out", out],
    "ablate": lambda evil, out, ckpt: ["ablate", "--data", evil, "--out", out],
    "explain --sample": lambda evil, out, ckpt: ["explain", "--checkpoint", ckpt, "--data", evil, "--sample", "x",
                                                 "--out", out],
    "explain --split": lambda evil, out, ckpt: ["explain", "--checkpoint", ckpt, "--data", evil, "--split", "val",
                                                "--out", out],
    "replay": lambda evil, out, ckpt: ["replay", evil, "--model", ckpt, "--out", f"{out}/t.json"],
    "convert pyskl-sample": lambda evil, out, ckpt: ["convert", "pyskl-sample", evil, f"{out}/d.npz",
                                                     "--on-error", "stop"],
}


@pytest.mark.parametrize("command", sorted(ENTRY_POINTS))
def test_a_malicious_pickle_runs_nothing_in_any_command(command, tmp_path, checkpoint, capsys):
    marker = tmp_path / "pwned"
    evil = malicious_dataset(tmp_path / "evil.pkl", marker)
    out = tmp_path / "out"
    assert main(ENTRY_POINTS[command](str(evil), str(out), checkpoint)) == 2
    err = capsys.readouterr().err
    assert not marker.exists(), "the pickle ran code"
    assert "is not a safe dataset file: it asks to load 'io.open'" in err and err.count("\n") == 1
    assert "Traceback" not in err
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))  # nothing written


@pytest.mark.parametrize("call", [eval, exec, os.system, getattr, __import__])
def test_the_safe_reader_refuses_every_callable_outside_numpy_and_containers(call, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(safe_pickle.PickleError, match="not a safe dataset file"):
        safe_pickle.loads(pickle.dumps([1, Payload(marker, call)]))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_the_safe_reader_reads_what_pyskl_and_mmaction2_write(protocol):
    from collections import OrderedDict

    data = {"annotations": [{"keypoint": np.arange(24, dtype=np.float32).reshape(1, 2, 4, 3),
                             "label": np.int64(2), "img_shape": (240, 320), "fortran": np.asfortranarray(np.eye(3)),
                             "names": np.array(["a", "bc"]), "tags": {"x", "y"}, "raw": b"\x00\xff"}],
            "order": OrderedDict(a=1.5)}
    back = safe_pickle.loads(pickle.dumps(data, protocol=protocol))
    ann = back["annotations"][0]
    np.testing.assert_array_equal(ann["keypoint"], data["annotations"][0]["keypoint"])
    assert ann["label"] == 2 and ann["img_shape"] == (240, 320) and ann["tags"] == {"x", "y"}
    assert ann["raw"] == b"\x00\xff" and back["order"] == {"a": 1.5} and ann["fortran"].flags.f_contiguous


def test_a_pickle_cannot_make_numpy_allocate_more_than_it_holds():
    # numpy.ndarray called as a function with a huge shape; and _reconstruct given a huge placeholder shape
    called = b"cnumpy\nndarray\n(I100000000000\ntR."
    with pytest.raises(safe_pickle.PickleError, match="not a readable pickle"):
        safe_pickle.loads(called)
    placeholder = (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I100000000000\ntcnumpy\ndtype\n"
                   b"(Vf8\ntRtR.")
    assert safe_pickle.loads(placeholder).size == 0


def test_truncated_and_foreign_files_give_one_sentence(tmp_path):
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps({"annotations": []})[:-3])
    with pytest.raises(DatasetError, match="d.pkl is not a readable pickle"):
        load_dataset(path)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="d.pkl is not a readable .npz dataset"):
        load_dataset(path)


def test_npz_datasets_round_trip_and_every_reader_takes_them(tmp_path, checkpoint, capsys):
    data = tiny_dataset(tmp_path / "d.pkl")
    data["fps"] = 30.0
    data["annotations"][0]["img_shape"] = (256, 340)
    save_dataset(data, tmp_path / "d.npz")
    with zipfile.ZipFile(tmp_path / "d.npz") as zf:
        assert all(name.endswith(".npy") for name in zf.namelist())  # arrays and one JSON string: no pickles
    back = load_dataset(tmp_path / "d.npz")
    assert back["split"] == data["split"] and back["classes"] == data["classes"] and back["fps"] == 30.0
    for a, b in zip(back["annotations"], data["annotations"], strict=True):
        assert a["frame_dir"] == b["frame_dir"] and a["label"] == b["label"]
        np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
        np.testing.assert_array_equal(a["keypoint_score"], b["keypoint_score"])
    assert list(back["annotations"][0]["img_shape"]) == [256, 340]
    one = {"split": {"all": ["wave_0"]}, "annotations": [data["annotations"][0]], "layout": "openpose18"}
    save_dataset(one, tmp_path / "one.npz")
    assert main(["replay", str(tmp_path / "one.npz"), "--model", checkpoint, "--out", str(tmp_path / "t.json")]) == 0
    assert (tmp_path / "t.json").is_file()


def test_npz_files_with_objects_or_a_zip_bomb_are_refused(tmp_path):
    objects = tmp_path / "objects.npz"
    np.savez(objects, meta=np.array('{"format": "stfnet-dataset/1", "annotations": [{}]}'),
             **{"0/keypoint": np.array([Payload(tmp_path / "pwned")], dtype=object)})
    with pytest.raises(DatasetError, match="not a readable .npz dataset"):
        load_dataset(objects)
    assert not (tmp_path / "pwned").exists()
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.npy", b"\0" * 50_000_000)
    with pytest.raises(DatasetError, match="zip bomb"):
        load_dataset(bomb)


def test_a_single_sample_pickle_still_replays_through_the_safe_reader(tmp_path, checkpoint):
    kp = np.random.default_rng(0).normal(100, 20, (1, 40, 18, 2)).astype(np.float32)
    with open(tmp_path / "one.pkl", "wb") as f:
        pickle.dump(make_annotation("clip", 0, kp, np.ones(kp.shape[:3], np.float32)), f)
    assert main(["replay", str(tmp_path / "one.pkl"), "--model", checkpoint, "--out", str(tmp_path / "t.json")]) == 0


@pytest.mark.parametrize("codec", [b"rot13", b"no-such-codec", b"zlib"])
def test_protocol_2_bytes_decode_only_as_latin1(codec):
    crafted = b"c_codecs\nencode\n(Vabc\nV" + codec + b"\ntR."
    with pytest.raises(safe_pickle.PickleError, match="not a readable pickle"):
        safe_pickle.loads(crafted)
    assert safe_pickle.loads(b"c_codecs\nencode\n(Vabc\nVlatin1\ntR.") == b"abc"
