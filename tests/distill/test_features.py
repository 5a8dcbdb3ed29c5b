"""FeatureHooks: by name, unwraps .module, clears after reading, loud on a missing name."""
import pytest
import torch
from torch import nn

from yolox_fgd.distill.features import FeatureHooks


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.backbone(x)


def test_capture_pop_clear_and_remove():
    net = Net()
    hooks = FeatureHooks({"s": (net, "backbone")})
    out = net(torch.randn(1, 3, 2, 2))
    assert torch.equal(hooks.pop("s"), out)
    with pytest.raises(RuntimeError, match="no output captured for 's'"):
        hooks.pop("s")
    hooks.remove()
    net(torch.randn(1, 3, 2, 2))
    assert not hooks.active and not net.backbone._forward_hooks


def test_unwraps_module_wrapper():
    wrapper = nn.Module()
    wrapper.module = Net()
    hooks = FeatureHooks({"s": (wrapper, "backbone")})
    wrapper.module(torch.randn(1, 3, 2, 2))
    assert hooks.pop("s").shape == (1, 4, 2, 2)


def test_missing_name_is_named():
    with pytest.raises(KeyError, match="no module named 'neck' to hook for 's'.*backbone"):
        FeatureHooks({"s": (Net(), "neck")})
