"""The student-side projection of FGD: what maps the student's map onto the teacher's channels.

* ``"conv1x1"`` (the paper, yzd-v/FGD ``FeatureLoss.align``): one 1x1 conv ``Cs -> C`` with a
  bias, only when the channel counts differ (``None`` otherwise: the maps are compared as they are).
* ``"mlp"``: a projector with more capacity, always present: 3x3 conv ``Cs -> C`` (no bias),
  BatchNorm, ReLU, 1x1 conv ``C -> C`` with a bias. The projector's role in distillation: Miles
  and Mikolajczyk, "Understanding the Role of the Projector in Knowledge Distillation",
  AAAI 2024 (a normalised, more expressive projector lets the imitation loss fall without bending
  the student's own features as far); FitNets' regressor (Romero et al., ICLR 2015) is a 3x3 conv
  for the same purpose.

Both keep the name ``align`` inside :class:`yolox_fgd.losses.FGDLoss`, so the paper's
projection still loads official state dicts.
"""
from torch import nn

__all__ = ["PROJECTORS", "make_projector"]

PROJECTORS = ("conv1x1", "mlp")


def make_projector(kind, student_channels, teacher_channels):
    """The projection ``(N, Cs, H, W) -> (N, C, H, W)`` of ``kind`` (one of :data:`PROJECTORS`),
    or ``None`` for ``"conv1x1"`` when ``Cs == C``.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind == "conv1x1":
        if student_channels == teacher_channels:
            return None
        return nn.Conv2d(student_channels, teacher_channels, kernel_size=1, stride=1, padding=0)
    if kind == "mlp":
        return nn.Sequential(
            nn.Conv2d(student_channels, teacher_channels, kernel_size=3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(teacher_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(teacher_channels, teacher_channels, kernel_size=1, stride=1, padding=0),
        )
    raise ValueError(f"projector must be one of {PROJECTORS}, got {kind!r}")
