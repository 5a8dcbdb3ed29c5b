"""Map statistics (tools/map_stats.py): the foreground share is FGD's mask's, the per-channel
summaries and the BatchNorm reading of the largest channel are what the definitions say."""
import torch

from tests.distill.test_features import tiny_yolox
from yolox_fgd.distill.map_statistics import map_statistics
from yolox_fgd.losses import build_masks


def test_statistics_of_two_models_on_two_batches():
    """fg_fraction is the mean over images of the share of cells with M_fg > 0; the largest
    channel is the one of the largest per-channel RMS, which is reported; its share of energy on
    the foreground, BatchNorm gain and input z RMS are filled in; channel counts are the models'."""
    teacher, student = tiny_yolox(0.25), tiny_yolox(0.125)
    torch.manual_seed(0)
    images = torch.rand(3, 3, 64, 64) * 255
    targets = torch.zeros(3, 2, 5)
    targets[0, 0] = torch.tensor([1, 32, 32, 40, 40])
    targets[1, 0] = torch.tensor([0, 10, 10, 8, 8])
    batches = [(images[:2], targets[:2]), (images[2:], targets[2:])]
    out = map_statistics({"teacher": teacher, "student": student}, batches, "stems")
    for lvl, stride in (("p3", 8), ("p4", 16), ("p5", 32)):
        n = 64 // stride
        mask, _ = build_masks(targets, (n, n), (64, 64))
        assert abs(out["fg_fraction"][lvl] - float((mask > 0).float().mean())) < 1e-6
        with torch.no_grad():
            m = teacher.head.stems[("p3", "p4", "p5").index(lvl)](teacher.backbone(images)[("p3", "p4", "p5").index(lvl)])
        rms = m.transpose(0, 1).reshape(m.shape[1], -1).pow(2).mean(1).sqrt()
        s = out["teacher"][lvl]
        assert abs(s["rms_max"] - float(rms.max())) < 1e-4 * float(rms.max()) and s["top_channel"] == int(rms.argmax())
        assert 0 <= s["top_energy_on_fg"] <= 1 and s["norm"]["gain"] > 0 and s["norm"]["z_rms"] > 0
        assert 0 < s["rms_max_train_mode"] < 3  # batch statistics: every channel about unit scale
    assert out["student"]["p3"]["channels"] == 32 and out["teacher"]["p3"]["channels"] == 64


def test_foreground_mask_picture(tmp_path):
    """tools/map_stats.py --masks: one row per image (image with boxes, foreground at p3/p4/p5) in a PNG."""
    from yolox_fgd.visualize.fg_masks import plot_fg_masks

    targets = torch.zeros(2, 1, 5)
    targets[0, 0] = torch.tensor([1, 32, 32, 40, 40])
    path = plot_fg_masks(torch.rand(2, 3, 64, 64) * 255, targets, str(tmp_path / "masks.png"), title="t")
    assert (tmp_path / "masks.png").stat().st_size > 5000 and path.endswith("masks.png")
