"""yolox_fgd/bench/mosaic.py: which arms start from --from-mosaic's checkpoints, and the check of one."""
import pytest
import torch

from tests.conftest import TINY_EXP, TINY_FGD_EXP
from yolox_fgd.bench.arms import Arm
from yolox_fgd.bench.mosaic import check_mosaic_checkpoint, mosaic_starts


def test_from_mosaic_refuses_what_cannot_start_from_the_source():
    """--from-mosaic names an arm; the arms that start from it share its epochs (max_epoch and
    no_aug_epochs); a source without an epoch that closes mosaic is refused, each by name and
    before anything trains."""
    arm = lambda name, *opts: Arm(name, TINY_FGD_EXP, list(opts), True)  # noqa: E731
    base = Arm("baseline", TINY_EXP, [], False)
    sched = ("max_epoch", "5", "no_aug_epochs", "2")
    assert mosaic_starts([base, arm("a", *sched), arm("b", *sched, "distill_no_aug_factor", "2")], "a") == {"b": 5 - 2 - 1}
    assert mosaic_starts([base, arm("a", *sched)], None) == {}
    with pytest.raises(ValueError, match="no such arm"):
        mosaic_starts([base, arm("a", *sched)], "c")
    with pytest.raises(ValueError, match="'b' has another max_epoch or no_aug_epochs"):
        mosaic_starts([arm("a", *sched), arm("b", *sched, "max_epoch", "6")], "a")
    with pytest.raises(ValueError, match="no epoch that closes mosaic"):
        mosaic_starts([arm("a"), arm("b")], "a")  # tiny_fgd: no_aug_epochs 0
    with pytest.raises(ValueError, match="no other arm uses its experiment file"):
        mosaic_starts([base, arm("a", *sched)], "a")


def test_the_source_checkpoint_must_be_the_one_that_closes_mosaic(tmp_path):
    """check_mosaic_checkpoint accepts the checkpoint of the epoch (0-based) and the old label one
    later; another epoch or a missing file is refused by name."""
    path = tmp_path / "last_mosaic_epoch_ckpt.pth"
    for label in (7, 8):
        torch.save({"model": {}, "start_epoch": label}, path)
        check_mosaic_checkpoint(str(path), "src", 0, 7)
    torch.save({"model": {}, "start_epoch": 9}, path)
    with pytest.raises(ValueError, match="resumes at epoch 10, not 8"):
        check_mosaic_checkpoint(str(path), "src", 0, 7)
    with pytest.raises(FileNotFoundError, match="arm 'src' has not reached epoch 8 on seed 0"):
        check_mosaic_checkpoint(str(tmp_path / "none.pth"), "src", 0, 7)
