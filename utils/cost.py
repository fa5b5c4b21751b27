"""Arithmetic cost of a model: multiply-adds per image, counted from its layers."""
from __future__ import annotations

import torch
from torch import nn


def count_macs(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> dict[str, int]:
    """Multiply-adds of one forward pass for one image, per convolution and linear layer."""
    macs: dict[str, int] = {}

    def conv_hook(name):
        def hook(module, inputs, output):
            kernel = module.weight[0].numel()  # (c_in / groups) * kh * kw
            macs[name] = output[0].numel() * kernel
        return hook

    def linear_hook(name):
        def hook(module, inputs, output):
            macs[name] = module.in_features * module.out_features
        return hook

    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook(name)))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook(name)))
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return macs


def training_flops_per_image(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> int:
    """Floating-point operations to train on one image: forward, plus backward at twice the forward
    (gradients for the inputs and for the weights), at 2 FLOPs per multiply-add."""
    return 3 * 2 * sum(count_macs(model, input_size).values())
