"""`bench videos`: a clip's answer from what the app showed in its span, the listing's checks, a real replay."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import shared_path

from benchmarks.videos import Clip, read_clips, score_clip
from main import main
from stfnet.errors import UserError


def _shown(time: float, state: str, label: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(timestamp=time, state=state, label=label)


def test_a_clip_is_answered_by_the_majority_shown_within_its_span():
    predictions = [_shown(0.5, "ok", "pushup"),  # before the span: not counted
                   _shown(1.0, "warming_up"), _shown(1.5, "ok", "squat"), _shown(2.0, "ok", "squat"),
                   _shown(2.5, "ok", "pushup"), _shown(3.0, "uncertain"),
                   _shown(4.5, "ok", "pushup")]  # after it
    result = score_clip(Clip(Path("squat.mp4"), "squat", 1.0, 3.0), predictions)
    assert result["answer"] == "squat" and result["right"] and result["predictions"] == 5
    assert result["right_share"] == 0.4  # 2 of the span's 5 windows showed the right label
    assert result["states"]["ok"] == 0.6 and result["states"]["warming_up"] == 0.2
    assert result["labels"] == {"squat": 2, "pushup": 1}
    nothing = score_clip(Clip(Path("x.mp4"), "squat", 10.0, 12.0), predictions)
    assert nothing["answer"] is None and not nothing["right"] and nothing["right_share"] == 0


@pytest.mark.parametrize(("listing", "message"), [
    (None, "has no labels.csv"),
    ("file,label\na.mp4,squat\n", "lacks the column(s) end_s, start_s"),
    ("file,label,start_s,end_s\na.mp4,squat,zero,2\n", "line 2: start_s and end_s must be numbers"),
    ("file,label,start_s,end_s\na.mp4,squat,3,2\n", "line 2: the span 3.0-2.0 s is empty"),
    ("file,label,start_s,end_s\n", "lists no clips"),
])
def test_a_bad_listing_is_one_sentence(tmp_path, listing, message):
    if listing is not None:
        (tmp_path / "labels.csv").write_text(listing)
    with pytest.raises(UserError, match=re.escape(message)):
        read_clips(tmp_path)


@pytest.mark.slow
def test_a_real_clip_is_replayed_and_scored(tmp_path):
    video = shared_path("videos", "labelled", "pullup_01.mp4")
    (tmp_path / "labels.csv").write_text(f"file,label,start_s,end_s\n{video},pullup,0.0,19.8\n")
    assert main(["bench", "videos", str(tmp_path), "--out", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["clips"] == 1 and report["right"] == 1 and report["accuracy"] == 1.0
    assert report["right_share_mean"] == report["results"][0]["right_share"] > 0.5
