"""BatchNorm for narrow channels-last layers on a CPU, from plain sums (the `fast_batchnorm` setting).

Torch's CPU kernel for channels-last BatchNorm works along the channels, so at 8-14 channels (the compact
model's widths) most of its vector lanes idle and its two threads contend; it is then slower than the
convolution beside it. Here the same statistics come from column sums of the (pixels x channels) matrix,
viewed `k` pixels to a row so that rows are a multiple of 16 values wide: every pass is a plain, fully
vectorised reduction or multiply-add. Same parameters, buffers and result, to float32 rounding."""
from __future__ import annotations

import torch
from torch import nn

from .models import retype

LANES = 16  # float32 values in an AVX-512 register: rows of a multiple of this vectorise without a tail


def pixels_per_row(channels: int, pixels: int) -> int:
    """The fewest pixels per row that make a row a multiple of LANES values (1 where none divides `pixels`)."""
    for k in range(1, LANES + 1):
        if (k * channels) % LANES == 0:
            return k if pixels % k == 0 else 1
    return 1


def _rows(x: torch.Tensor, k: int) -> torch.Tensor:
    """A channels-last (n, c, h, w) tensor as a (n*h*w/k, k*c) matrix, without a copy."""
    return x.permute(0, 2, 3, 1).reshape(-1, k * x.shape[1])


def _per_channel(row_sums: torch.Tensor, channels: int) -> torch.Tensor:
    return row_sums.view(-1, channels).sum(0)


class SumsBatchNorm(torch.autograd.Function):
    """Training-mode BatchNorm of a channels-last float32 tensor; updates the running statistics like
    nn.BatchNorm2d (momentum, unbiased variance)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum: float, eps: float):
        n, c, h, w = x.shape
        pixels = n * h * w
        k = pixels_per_row(c, pixels)
        rows = _rows(x, k)
        mean = _per_channel(rows.sum(0), c) / pixels
        centered = rows - mean.repeat(k)  # two passes, not E[x^2] - E[x]^2: no cancellation
        var = _per_channel(centered.square().sum(0), c) / pixels
        rstd = (var + eps).rsqrt()
        y = torch.addcmul(bias.repeat(k), centered, (weight * rstd).repeat(k))
        with torch.no_grad():
            running_mean.lerp_(mean, momentum)
            running_var.lerp_(var * (pixels / max(pixels - 1, 1)), momentum)
        ctx.save_for_backward(centered, weight, rstd)
        ctx.k = k
        return y.view(n, h, w, c).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        centered, weight, rstd = ctx.saved_tensors
        n, c, h, w = grad.shape
        pixels, k = n * h * w, ctx.k
        g = _rows(grad.contiguous(memory_format=torch.channels_last), k)
        sum_g = _per_channel(g.sum(0), c)
        sum_g_centered = _per_channel((g * centered).sum(0), c)
        scale = weight * rstd
        # dx = scale * (g - mean(g) - x_hat * mean(g * x_hat)), written as per-channel multiply-adds
        along_centered = -scale * rstd * rstd * sum_g_centered / pixels
        constant = -scale * sum_g / pixels
        dx = torch.addcmul(constant.repeat(k), centered, along_centered.repeat(k)).addcmul_(g, scale.repeat(k))
        return dx.view(n, h, w, c).permute(0, 3, 1, 2), sum_g_centered * rstd, sum_g, None, None, None, None


class FastBatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d that trains through SumsBatchNorm where that is faster: on a CPU, float32, channels-last,
    a channel count that is not a multiple of LANES (torch's kernel is fast at those); torch's own otherwise
    (evaluation, GPUs, bfloat16 autocast, torch.compile)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.track_running_stats and self.affine and self.momentum is not None
                and x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4
                and x.shape[1] % LANES and x.is_contiguous(memory_format=torch.channels_last)
                and not torch.compiler.is_compiling()):
            return super().forward(x)
        self.num_batches_tracked.add_(1)
        return SumsBatchNorm.apply(x, self.weight, self.bias, self.running_mean, self.running_var,
                                   self.momentum, self.eps)


def narrow_batchnorms(model: nn.Module) -> int:
    """How many BatchNorm layers of `model` the sums would train: those whose width is not a multiple of LANES."""
    return sum(isinstance(m, nn.BatchNorm2d) and m.num_features % LANES != 0 for m in model.modules())


def use_fast_batchnorm(model: nn.Module) -> int:
    """Make every nn.BatchNorm2d in `model` a FastBatchNorm2d in place; returns how many."""
    return retype(model, nn.BatchNorm2d, FastBatchNorm2d)
