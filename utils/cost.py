"""Cost of a model, counted from its layers: multiply-adds per image, and the memory traffic of a training step."""
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
    _one_image(model, input_size, hooks)
    return macs


def _one_image(model: nn.Module, input_size: tuple[int, ...], hooks: list) -> None:
    """One forward pass of a blank image in eval mode, for the `hooks` to observe; removes them after, and
    leaves the model in the mode it was in."""
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()


def training_flops_per_image(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> int:
    """Floating-point operations to train on one image: forward, plus backward at twice the forward
    (gradients for the inputs and for the weights), at 2 FLOPs per multiply-add."""
    return 3 * 2 * sum(count_macs(model, input_size).values())


VIEWS = (nn.Flatten, nn.Identity)  # outputs that share their input's memory: no traffic of their own


def activation_elements(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> dict[str, int]:
    """Values each layer (leaf module) writes for one image in a forward pass, views left out."""
    sizes: dict[str, int] = {}
    hooks = [module.register_forward_hook(lambda mod, inp, out, name=name: sizes.__setitem__(name, out[0].numel()))
             for name, module in model.named_modules() if not list(module.children()) and not isinstance(module, VIEWS)]
    _one_image(model, input_size, hooks)
    return sizes


def training_bytes_per_image(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28),
                             bytes_per_value: int = 4) -> int:
    """Bytes a layer-by-layer (eager) training step moves per image, at the least: every layer's output written
    once and read once going forward, and its gradient written once and read once going back (4 passes). Reads
    of saved activations by the backward pass, weights and optimiser state come on top."""
    return 4 * bytes_per_value * sum(activation_elements(model, input_size).values())
