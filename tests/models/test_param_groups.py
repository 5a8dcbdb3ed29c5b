"""param_groups: YOLOX's SGD groups over a student and its FGD modules."""
from yolox_fgd.losses import FGDLoss
from yolox_fgd.models.param_groups import param_groups


def test_parameter_groups_follow_yolox_rules():
    """Conv weights decay; BatchNorm and the GcBlock LayerNorm weights and all biases do not."""
    loss = FGDLoss(8, 16)
    no_decay, decay, biases = param_groups(loss)
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert id(loss.channel_add_conv_s[1].weight) in ids(no_decay)
    assert id(loss.align.weight) in ids(decay) and id(loss.conv_mask_t.weight) in ids(decay)
    assert id(loss.align.bias) in ids(biases) and id(loss.channel_add_conv_t[1].bias) in ids(biases)
    assert len(no_decay) + len(decay) + len(biases) == len(list(loss.parameters()))
