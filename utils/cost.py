"""Cost of a model, counted from its layers: multiply-adds per image, and the memory traffic of a training step."""
import math

from torch import nn

from .receptive_field import trace


def count_macs(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> dict[str, int]:
    """Multiply-adds of one forward pass for one image, per convolution and linear layer."""
    return {name: math.prod(out) * m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.in_features * m.out_features
            for name, m, _, out in trace(model, input_size) if isinstance(m, (nn.Conv2d, nn.Linear))}


def training_flops_per_image(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> int:
    """FLOPs to train on one image: 2 per multiply-add, in the forward pass and a backward pass of twice its cost."""
    return 3 * 2 * sum(count_macs(model, input_size).values())


def activation_elements(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> dict[str, int]:
    """Values each layer (leaf module) writes for one image in a forward pass; views (Flatten, Identity) own none."""
    return {name: math.prod(out) for name, m, _, out in trace(model, input_size)
            if not isinstance(m, (nn.Flatten, nn.Identity))}


def training_bytes_per_image(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> int:
    """Least bytes an eager training step moves per image: each layer's output and its gradient, 4-byte values written
    once and read once. Reads of saved activations by the backward pass, weights and optimiser state come on top."""
    return 4 * 4 * sum(activation_elements(model, input_size).values())
