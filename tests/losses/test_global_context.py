"""The GcBlock of FGD's global loss."""
import torch
import torch.nn.functional as F

from yolox_fgd.losses.global_context import global_context_add, make_channel_add, make_context_mask


def test_global_context_as_matrix_products_equals_the_gcblock_convolutions():
    """The GcBlock's 1x1 convs applied as matrix products (the fast CPU path) give what the
    modules themselves give on the (N, C, H, W) map and the (N, C, 1, 1) context."""
    torch.manual_seed(0)
    x = torch.randn(3, 16, 5, 7)
    mask, add = make_context_mask(16), make_channel_add(16)
    torch.nn.init.normal_(add[3].weight)  # the official init zeroes it; any weights must agree
    weights = F.softmax(mask(x).reshape(3, 1, 35), dim=2)
    ctx = torch.bmm(x.reshape(3, 16, 35), weights.transpose(1, 2)).reshape(3, 16, 1, 1)
    torch.testing.assert_close(global_context_add(x, mask, add), add(ctx), rtol=1e-5, atol=1e-6)
