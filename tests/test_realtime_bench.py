"""`main.py bench pipeline` (with a fake pose estimator) and the bench sub-command dispatch."""

from __future__ import annotations

import argparse
import json

import pytest
from realtime_fakes import FakePose, tiny_checkpoint, write_video

import benchmarks.cli
import benchmarks.pipeline
from main import main
from stfnet.errors import UserError


def test_bench_pipeline_reports_speeds_ratio_and_latency(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(benchmarks.pipeline, "create_estimator",
                        lambda model, people=1: FakePose(people=people, delay=0.005))
    video = write_video(tmp_path / "clip.avi", frames=40, fps=20.0)
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    command = ["bench", "pipeline", str(video), "--checkpoint", str(ckpt), "--repeats", "1", "--max-people", "2"]
    assert main(command) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checkpoint"] == str(ckpt) and report["every_ms_replay"] == 200
    assert report["max_people"] == 2 and report["people_per_frame"] == 2.0
    assert report["pose_only_fps"] > 0 and report["pipeline_fps"] > 0
    assert report["ratio"] == pytest.approx(report["pipeline_fps"] / report["pose_only_fps"], abs=2e-3)
    latency = report["latency_ms"]
    assert latency["count"] > 10 and 0 < latency["p50"] <= latency["p95"] <= latency["max"]


def test_bench_pipeline_on_a_missing_video_exits_with_one_sentence(tmp_path, capsys):
    assert main(["bench", "pipeline", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "missing.mp4 does not exist" in err and "\n" not in err


def test_bench_targets_are_imported_only_when_run(monkeypatch):
    monkeypatch.setitem(benchmarks.cli.TARGETS, "later", ("benchmarks.not_written_yet", "a future benchmark"))
    with pytest.raises(UserError, match="'bench later' is not available"):
        benchmarks.cli.run(argparse.Namespace(target="later", args=[]))


def test_bench_target_help_is_the_targets_own(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "pipeline", "--help"])
    assert exit_info.value.code == 0 and "--live-every-ms" in capsys.readouterr().out
