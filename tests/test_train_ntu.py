"""NTU RGB+D converter on small synthetic .skeleton files written in the documented format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from main import main
from stfnet.layouts import NTU25
from train.data import ntu, prenorm
from train.data.format import SampleError, load_dataset


def _body(t: int, shift: tuple[float, float, float] = (0.3, -0.2, 3.0), wave: float = 0.0, seed: int = 0
          ) -> np.ndarray:
    """A person ``(T, 25, 3)`` in Kinect camera space (y up), turned a little, waving the right arm by ``wave``."""
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 0.1, (25, 3))
    joints[0], joints[1], joints[20] = (0, 0, 0), (0, 0.3, 0), (0, 0.5, 0)  # spine base, mid, shoulder
    joints[4], joints[8] = (0.2, 0.5, 0.05), (-0.2, 0.5, -0.05)  # left and right shoulder
    a = 0.4  # turned about the vertical axis, and tilted
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(0.2), -np.sin(0.2)], [0, np.sin(0.2), np.cos(0.2)]])
    joints = joints @ (tilt @ turn).T + np.array(shift)
    out = np.repeat(joints[None], t, axis=0)
    out[:, 9:12, 1] += wave * np.sin(np.arange(t) * 0.7)[:, None]
    return out


def write_skeleton(path: Path, frames: list[list[tuple[str, np.ndarray]]]) -> Path:
    """A .skeleton file: per frame a list of (bodyID, joints (25, 3))."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.01 0.02 2")
            lines.append("25")
            lines += [f"{x:.6f} {y:.6f} {z:.6f} 250.1 200.2 1000.3 500.4 0.1 0.2 0.3 0.4 2" for x, y, z in joints]
    path.write_text("\n".join(lines) + "\n")
    return path


def _sample(folder: Path, name: str, t: int = 6, bodies: int = 1) -> Path:
    body_seq = [_body(t, wave=0.3 * (b + 1), seed=b) for b in range(bodies)]
    frames = [[(f"7205759403793{b}", body_seq[b][i]) for b in range(bodies)] for i in range(t)]
    return write_skeleton(folder / f"{name}.skeleton", frames)


def _no_temp_files(folder: Path) -> bool:
    return not list(folder.glob(".*.tmp"))


def test_reads_bodies_by_id_across_frames(tmp_path):
    a, b = _body(4, seed=1), _body(4, shift=(1, 0, 3), seed=2)
    frames = [[("111", a[0])], [("111", a[1]), ("222", b[1])], [("222", b[2]), ("111", a[2])], [("222", b[3])]]
    bodies = ntu.read_skeleton(write_skeleton(tmp_path / "S001C001P001R001A001.skeleton", frames))
    assert bodies.shape == (2, 4, 25, 3)
    np.testing.assert_allclose(bodies[0, :3], a[:3], atol=1e-5)  # body 111 stays in slot 0 whatever its order
    np.testing.assert_allclose(bodies[1, 1:], b[1:], atol=1e-5)
    assert not bodies[0, 3].any() and not bodies[1, 0].any()


def test_keeps_the_two_most_active_bodies():
    still, lively, medium = _body(10, wave=0.0, seed=0), _body(10, wave=1.0, seed=1), _body(10, wave=0.3, seed=2)
    still[:] = still[0]  # does not move at all
    chosen = prenorm.select_active(np.stack([still, lively, medium]), 2)
    np.testing.assert_array_equal(chosen, np.stack([lively, medium]))
    assert prenorm.select_active(still[None], 2)[1].sum() == 0  # zero-padded to two bodies


def test_fill_empty_frames_moves_late_start_forward_and_repeats():
    body = np.zeros((8, 25, 3))
    body[2:5] = np.arange(1, 4)[:, None, None]  # seen in frames 2, 3, 4 only
    filled = prenorm.fill_empty_frames(body)
    assert [int(f[0, 0]) for f in filled] == [1, 2, 3, 1, 2, 3, 1, 2]
    assert len(prenorm.fill_empty_frames(body, min_frames=11)) == 11


@pytest.mark.parametrize("vertical, up", [("z", 2), ("y", 1)])
def test_pre_normalize_centres_and_aligns_the_main_body(vertical, up):
    raw = np.stack([_body(5, wave=0.5, seed=3), _body(5, shift=(1, 0, 2), seed=4)])
    out = prenorm.pre_normalize(raw, vertical=vertical)
    first = out[0, 0]
    np.testing.assert_allclose(first[1], 0, atol=1e-6)  # spine middle of the first frame at the origin
    spine = first[1] - first[0]
    assert spine[up] > 0 and np.allclose(np.delete(spine, up), 0, atol=1e-5)
    shoulders = first[8] - first[4]
    assert shoulders[0] > 0 and abs(shoulders[3 - up]) < 1e-5  # along +x, no component in depth
    np.testing.assert_allclose(_bones(out), _bones(raw), rtol=1e-4, atol=1e-5)  # only a rotation


def _bones(kp: np.ndarray) -> np.ndarray:
    child, parent = zip(*NTU25.edges, strict=True)
    return np.linalg.norm(kp[..., list(child), :] - kp[..., list(parent), :], axis=-1)


def test_rotation_between_handles_opposite_directions():
    r = prenorm.rotation_between(np.array([0.0, 0.0, -1.0]), np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(r @ [0, 0, -1], [0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)


def test_convert_ntu60_with_missing_list_and_labels(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    names = ["S001C001P001R001A001", "S001C002P003R002A002", "S002C003P002R001A001", "S001C002P002R001A002"]
    for i, name in enumerate(names):
        _sample(raw, name, t=5 + i, bodies=1 + i % 2)
    missing = tmp_path / "missing.txt"
    missing.write_text("S001C002P002R001A002\n")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"action {i}" for i in range(1, 61)) + "\n")
    out = tmp_path / "ntu60.pkl"
    assert main(["convert", "ntu", str(raw), str(out), "--missing", str(missing), "--labels", str(labels)]) == 0
    assert "left out 1 samples" in capsys.readouterr().err
    data = load_dataset(out)
    assert data["layout"] == "ntu25" and data["classes"][1] == "action 2" and len(data["classes"]) == 60
    assert data["fps"] == 30
    assert data["split"]["xsub_train"] == ["S001C001P001R001A001", "S002C003P002R001A001"]  # subjects 1 and 2
    assert data["split"]["xsub_test"] == ["S001C002P003R002A002"]
    assert data["split"]["xview_train"] == ["S001C002P003R002A002", "S002C003P002R001A001"]  # cameras 2, 3
    assert data["split"]["xview_test"] == ["S001C001P001R001A001"]
    ann = {a["frame_dir"]: a for a in data["annotations"]}["S001C002P003R002A002"]
    assert ann["label"] == 1 and ann["keypoint"].shape == (2, 6, 25, 3) and ann["keypoint_score"].shape == (2, 6, 25)
    assert ann["keypoint_score"][0].all() and ann["keypoint_score"][1].all()  # two bodies, all frames
    np.testing.assert_allclose(ann["keypoint"][0, 0, 1], 0, atol=1e-6)


def test_convert_ntu120_uses_xsub120_and_xset_and_default_names(tmp_path):
    raw = tmp_path / "raw"
    (raw / "part2").mkdir(parents=True)
    _sample(raw, "S018C001P045R001A061")
    _sample(raw / "part2", "S017C001P044R001A001")  # found in a subfolder too
    out = tmp_path / "ntu120.pkl"
    assert main(["convert", "ntu", str(raw), str(out), "--pad-to", "20"]) == 0
    data = load_dataset(out)
    assert len(data["classes"]) == 120 and data["classes"][60] == "A061"
    assert data["split"]["xsub_train"] == ["S018C001P045R001A061"] and data["split"]["xset_train"] == [
        "S018C001P045R001A061"]
    assert data["split"]["xset_test"] == ["S017C001P044R001A001"]
    assert all(a["keypoint"].shape[1] == 20 for a in data["annotations"])  # padded by repetition


def _truncate(path: Path, keep_lines: int) -> None:
    path.write_text("\n".join(path.read_text().splitlines()[:keep_lines]) + "\n")


def test_truncated_file_is_skipped_with_its_name(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    _sample(raw, "S001C001P001R001A001")
    _truncate(_sample(raw, "S001C001P002R001A003"), 40)  # stops inside the second frame's joints
    out = tmp_path / "out.pkl"
    assert main(["convert", "ntu", str(raw), str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped: S001C001P002R001A003.skeleton ends early" in err and "1 of 2 files skipped" in err
    assert [a["frame_dir"] for a in load_dataset(out)["annotations"]] == ["S001C001P001R001A001"]


def test_truncated_file_stops_without_writing_anything(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    _sample(raw, "S001C001P001R001A001")
    _truncate(_sample(raw, "S001C001P002R001A003"), 40)
    out = tmp_path / "out" / "ntu.pkl"
    out.parent.mkdir()
    assert main(["convert", "ntu", str(raw), str(out), "--on-error", "stop"]) == 2
    err = capsys.readouterr().err
    assert "S001C001P002R001A003.skeleton" in err and "--on-error skip" in err
    assert not out.exists() and not list(out.parent.iterdir())  # no output, no temporary file


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines[:0], "line 1: expected the frame count"),
    (lambda lines: lines[:1], "ends early at line 2, where the body count of frame 1"),
    (lambda lines: ["x"] + lines[1:], "line 1: expected the frame count"),
    (lambda lines: lines[:3] + ["24"] + lines[4:], "24 joints"),
    (lambda lines: lines[:2] + ["1 2 3"] + lines[3:], "needs 10 fields"),
    (lambda lines: lines[:5] + ["1 2 3"] + lines[6:], "line 6: a joint line needs 12 numbers"),
    (lambda lines: lines[:5] + [" ".join(["nan?"] * 12)] + lines[6:], "is not a number"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, edit, message):
    path = _sample(tmp_path, "S001C001P001R001A001", t=2)
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(SampleError, match=message) as err:
        ntu.convert_file(path)
    assert "S001C001P001R001A001.skeleton" in str(err.value)


def test_empty_sample_and_bad_name(tmp_path):
    empty = write_skeleton(tmp_path / "S001C001P001R001A001.skeleton", [[], []])
    with pytest.raises(SampleError, match="no skeleton in any frame.*--missing"):
        ntu.convert_file(empty)
    odd = _sample(tmp_path, "clip_7")
    with pytest.raises(SampleError, match="clip_7: not an NTU sample name"):
        ntu.convert_file(odd)


def test_labels_file_too_short_is_a_clear_error(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    _sample(raw, "S001C001P001R001A005")
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    assert main(["convert", "ntu", str(raw), str(tmp_path / "o.pkl"), "--labels", str(labels)]) == 2
    assert "A005 has no name" in capsys.readouterr().err
    assert main(["convert", "ntu", str(raw), str(tmp_path / "o.pkl"), "--missing", str(tmp_path / "nope")]) == 2
    assert not (tmp_path / "o.pkl").exists()
