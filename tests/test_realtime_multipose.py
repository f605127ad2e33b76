"""Several people with MediaPipe's bundled networks: anchors, decoding, regions, and three real people tracked."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import shared_path

from realtime.engine import Engine, EngineConfig
from realtime.multipose import (
    Detection,
    Region,
    decode_detections,
    letterbox,
    region_from_points,
    ssd_anchors,
    tiles,
    weighted_nms,
)
from realtime.pose import create_estimator
from realtime.recognizer import Recognizer
from realtime.sources import VideoSource


def test_anchors_are_mediapipes_2254_cell_centres():
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)
    np.testing.assert_allclose(anchors[:2], [[0.5 / 28, 0.5 / 28]] * 2)  # two anchors per cell, stride 8 first
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])  # then stride 16
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])  # the three stride-32 layers last


def test_a_detection_is_decoded_into_frame_pixels_through_the_letterbox():
    anchors = ssd_anchors()
    raw = np.zeros((2254, 12), np.float32)
    scores = np.full(2254, -10.0, np.float32)
    i = 1568 + 2 * (14 * 7 + 7)  # the stride-16 anchor at cell (7, 7): centre (112 + 8, 112 + 8) in 224 pixels
    scores[i] = 5.0
    raw[i, :4] = [0, 0, 40, 60]  # centred on the anchor, 40 x 60
    raw[i, 4:6] = [0, 20]  # keypoint 0: 20 px below the centre
    frame = np.zeros((240, 320, 3), np.uint8)  # letterboxed into 224 x 224: scale 0.7, 28 px bars top and bottom
    _, box = letterbox(frame, 224)
    assert box == pytest.approx((0.7, 0.0, 28.0))
    (detection,) = decode_detections(raw, scores, anchors, box, offset=(10, 5))
    centre_224 = anchors[i] * 224
    expected_centre = (centre_224 - [0, 28]) / 0.7 + [10, 5]
    np.testing.assert_allclose((detection.box[:2] + detection.box[2:]) / 2, expected_centre, atol=1e-3)
    np.testing.assert_allclose(detection.box[2:] - detection.box[:2], [40 / 0.7, 60 / 0.7], atol=1e-3)
    np.testing.assert_allclose(detection.keypoints[0], expected_centre + [0, 20 / 0.7], atol=1e-3)
    assert detection.score == pytest.approx(1 / (1 + math.exp(-5)))


def test_overlapping_detections_merge_into_their_weighted_average():
    a = Detection(0.9, np.array([0, 0, 10, 10.0]), np.zeros((4, 2)))
    b = Detection(0.6, np.array([1, 1, 11, 11.0]), np.ones((4, 2)))
    far = Detection(0.7, np.array([50, 50, 60, 60.0]), np.zeros((4, 2)))
    merged = weighted_nms([b, far, a])
    assert [round(d.score, 1) for d in merged] == [0.9, 0.7]
    np.testing.assert_allclose(merged[0].box, [0.4, 0.4, 10.4, 10.4])
    np.testing.assert_allclose(merged[0].keypoints, np.full((4, 2), 0.4))


def test_a_region_turns_the_body_upright():
    upright = region_from_points(np.array([100.0, 200.0]), np.array([100.0, 120.0]))  # body points up
    assert upright.rotation == pytest.approx(0.0) and upright.size == pytest.approx(2 * 80 * 1.25)
    lying = region_from_points(np.array([100.0, 200.0]), np.array([180.0, 200.0]))  # head to the right
    assert lying.rotation == pytest.approx(math.pi / 2)
    matrix = lying.transform(256)
    head = matrix @ np.array([180.0, 200.0, 1.0])
    assert head[0] == pytest.approx(128) and head[1] < 128  # in the crop, the head is above the centre
    corners = Region(np.array([50.0, 50.0]), 100.0, 0.0).transform(256) @ np.array([[0, 0, 1.0], [100, 100, 1]]).T
    np.testing.assert_allclose(corners.T, [[0, 0], [256, 256]])


def test_tiles_cover_the_frame():
    found = tiles(288, 384)
    assert found[0] == (0, 0, 384) and len(found) == 9
    side = found[1][2]
    assert side == 192 and max(x for x, _, _ in found[1:]) + side == 384
    assert max(y for _, y, _ in found[1:]) + side == 288


@pytest.mark.slow
def test_three_people_exercising_are_found_and_keep_their_ids(tmp_path):
    from realtime_fakes import tiny_checkpoint

    video = shared_path("videos", "felixchenfy_exercise.avi")
    recognizer = Recognizer.from_file(tiny_checkpoint(tmp_path / "tiny.pt"), device="cpu")
    estimator = create_estimator(max_people=3)
    seen: list[tuple[int, ...]] = []
    try:
        engine = Engine(recognizer, estimator, EngineConfig(mode="replay", every_ms=500, max_people=3))
        with engine, VideoSource(video) as source:
            for frame in source:
                if frame.index >= 120:  # 12 s of the clip
                    break
                seen.append(tuple(p.person_id for p in engine.submit_frame(frame).people))
    finally:
        estimator.close()
    assert sum(len(ids) == 3 for ids in seen) >= 0.9 * len(seen)
    assert set().union(*seen) == {0, 1, 2}  # three ids for the whole clip: none was lost and renamed
