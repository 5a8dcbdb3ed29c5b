"""yolox_fgd/bench/report.py: the teacher's evaluation, the benchmark's split, the results JSON."""
import os

import pytest

from tests.conftest import TINY_EXP, TINY_TEACHER_EXP
from yolox_fgd.bench.arms import Arm
from yolox_fgd.bench.report import benchmark_stats, results_payload, teacher_stats


def test_the_benchmark_is_described_by_its_validation_split(tiny_data):
    """benchmark_stats measures the baseline arm's validation annotations at its input size
    (input_size[0]) with split_stats: object sizes against COCO's thresholds scaled to that
    side, and the foreground share; the first arm stands in when there is no baseline."""
    from yolox_fgd.data.stats import split_stats

    expected = split_stats(os.path.join(tiny_data, "annotations", "instances_val2017.json"), 64)
    arms = [Arm("other", TINY_EXP, ["input_size", "(96,96)"], False), Arm("baseline", TINY_EXP, [], False)]
    stats = benchmark_stats("demo", arms)
    assert stats == {"name": "demo", "input_size": 64, "dataset": stats["dataset"], **expected}
    assert stats["dataset"].endswith("tiny_shapes") and 0 < stats["fg_fraction"] < 1 and len(stats["size_mix"]) == 3
    assert benchmark_stats("demo", arms[:1])["input_size"] == 96


def test_a_dataset_not_generated_yet_gives_the_name_and_size_only(tmp_path):
    """Without the dataset on disk (a synthetic one not generated yet) nothing is generated: the
    benchmark is its name and input size."""
    arm = Arm("baseline", TINY_EXP, ["synthetic_name", "not_generated"], False)
    assert benchmark_stats("coco_shaped", [arm]) == {"name": "coco_shaped", "input_size": 64}


def test_a_missing_teacher_checkpoint_gives_no_teacher(tmp_path, tiny_teacher_ckpt):
    """A teacher checkpoint that does not exist yet is not evaluated (None: no teacher row, no
    gap closed; the JSON's teacher AP is null); --report without a cached evaluation of an
    existing checkpoint is refused with what to do."""
    assert teacher_stats(TINY_TEACHER_EXP, str(tmp_path / "none.pth"), str(tmp_path), 4, report_only=True) is None
    with pytest.raises(FileNotFoundError, match="run without --report once"):
        teacher_stats(TINY_TEACHER_EXP, str(tiny_teacher_ckpt), str(tmp_path), 4, report_only=True)
    payload = results_payload([], "table", {"exp": TINY_TEACHER_EXP, "ckpt": str(tmp_path / "none.pth"), "stats": None},
                              {"name": "demo"}, {"seeds": [0]})
    assert payload["teacher"]["ap"] is None and payload["teacher"]["apl"] is None
    assert payload["benchmark"] == {"name": "demo"} and payload["seeds"] == [0] and payload["table"] == "table"
