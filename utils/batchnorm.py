"""`fast_batchnorm`: nn.BatchNorm2d from plain column sums for narrow channels-last CPU layers, to float32 rounding."""
import torch
from torch import nn

LANES = 16  # float32 values in an AVX-512 register: rows of a multiple of this vectorise without a tail


def pixels_per_row(channels: int, pixels: int) -> int:
    """The fewest pixels per row that make a row a multiple of LANES values (1 where none divides `pixels`)."""
    k = next(k for k in range(1, LANES + 1) if k * channels % LANES == 0)
    return k if pixels % k == 0 else 1


class SumsBatchNorm(torch.autograd.Function):
    """Training-mode BatchNorm of channels-last float32 as a (pixels/k, k*channels) matrix, every pass vectorised."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum: float, eps: float):
        n, c, h, w = x.shape
        ctx.k = k = pixels_per_row(c, pixels := n * h * w)
        rows = x.permute(0, 2, 3, 1).reshape(-1, k * c)  # no copy
        mean = rows.sum(0).view(-1, c).sum(0) / pixels
        centered = rows - mean.repeat(k)  # two passes, not E[x^2] - E[x]^2: no cancellation
        var = centered.square().sum(0).view(-1, c).sum(0) / pixels
        rstd = (var + eps).rsqrt()
        running_mean.lerp_(mean, momentum)
        running_var.lerp_(var * (pixels / max(pixels - 1, 1)), momentum)
        ctx.save_for_backward(centered, weight, rstd)
        return torch.addcmul(bias.repeat(k), centered, (weight * rstd).repeat(k)).view(n, h, w, c).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        (centered, weight, rstd), (n, c, h, w), k = ctx.saved_tensors, grad.shape, ctx.k
        g = grad.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).reshape(-1, k * c)
        sum_g, sum_g_centered = g.sum(0).view(-1, c).sum(0), (g * centered).sum(0).view(-1, c).sum(0)
        scale, pixels = weight * rstd, n * h * w
        # dx = scale * (g - mean(g) - x_hat * mean(g * x_hat)), written as per-channel multiply-adds
        along_centered, constant = -scale * rstd * rstd * sum_g_centered / pixels, -scale * sum_g / pixels
        dx = torch.addcmul(constant.repeat(k), centered, along_centered.repeat(k)).addcmul_(g, scale.repeat(k))
        return dx.view(n, h, w, c).permute(0, 3, 1, 2), sum_g_centered * rstd, sum_g, None, None, None, None


class FastBatchNorm2d(nn.BatchNorm2d):
    """SumsBatchNorm in CPU float32 channels-last training at widths not a multiple of LANES; else torch's kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.track_running_stats and self.affine and self.momentum is not None
                and x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4 and x.shape[1] % LANES
                and x.is_contiguous(memory_format=torch.channels_last) and not torch.compiler.is_compiling()):
            return super().forward(x)
        self.num_batches_tracked.add_(1)
        return SumsBatchNorm.apply(x, self.weight, self.bias, self.running_mean, self.running_var, self.momentum,
                                   self.eps)


def narrow_batchnorms(model: nn.Module) -> int:
    """How many BatchNorm layers of `model` the sums would train: those whose width is not a multiple of LANES."""
    return sum(isinstance(m, nn.BatchNorm2d) and m.num_features % LANES != 0 for m in model.modules())


def use_fast_batchnorm(model: nn.Module) -> int:
    """Make every nn.BatchNorm2d in `model` a FastBatchNorm2d in place (checkpoints are unchanged); returns how many."""
    for layer in (layers := [m for m in model.modules() if type(m) is nn.BatchNorm2d]):
        layer.__class__ = FastBatchNorm2d
    return len(layers)
