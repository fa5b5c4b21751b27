"""Per-sample random affine augmentation of a whole batch at once, on the batch's device."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class RandomAffine:
    """Each image gets its own rotation, shift, zoom and shear, drawn uniformly in these ranges."""

    degrees: float = 10.0  # rotation in [-degrees, degrees]
    translate: float = 0.1  # shift up to this fraction of the side
    scale: tuple[float, float] = (0.9, 1.1)  # zoom factor range
    shear: float = 5.0  # horizontal shear in [-shear, shear] degrees

    def scaled(self, strength: float) -> RandomAffine:
        """The same transform with every range multiplied by `strength` (0: no change at all)."""
        low, high = self.scale
        return RandomAffine(self.degrees * strength, self.translate * strength,
                            (1 - (1 - low) * strength, 1 + (high - 1) * strength), self.shear * strength)

    def draw(self, n: int, generator: torch.Generator | None = None, device=None) -> Draw:
        """Random parameters for `n` images."""
        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, generator=generator, device=device)

        angle = uniform(-self.degrees, self.degrees)  # drawn in this order: the same seed, the same transforms
        shear, zoom = uniform(-self.shear, self.shear), uniform(*self.scale)
        shift = torch.stack([uniform(-self.translate, self.translate) for _ in range(2)], dim=1)
        return Draw(angle, shear, zoom, shift)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment float images (N, C, H, W) whose background is 0 (i.e. before normalising)."""
        return self.draw(images.shape[0], generator, images.device).apply(images)


@dataclass(frozen=True)
class Draw:
    """The drawn parameters of each image: rotation and shear in degrees, zoom factor, and the shift as a
    fraction of the side (x, y). How they look: `Draw.describe`."""

    angle: torch.Tensor
    shear: torch.Tensor
    zoom: torch.Tensor
    shift: torch.Tensor  # (n, 2)

    def matrices(self) -> torch.Tensor:
        """(n, 2, 3) matrices mapping output to input coordinates, as `affine_grid` expects."""
        n, device = len(self.angle), self.angle.device
        angle, shear = self.angle * math.pi / 180, torch.tan(self.shear * math.pi / 180)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # Sampling the input at (R S / zoom) p + shift shows the digit rotated, sheared and zoomed.
        rotate = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        shear_m = torch.zeros(n, 2, 2, device=device)
        shear_m[:, 0, 0] = shear_m[:, 1, 1] = 1
        shear_m[:, 0, 1] = shear
        linear = rotate @ shear_m / self.zoom[:, None, None]
        # affine_grid's coordinates span 2 units per side, hence the factor 2 on a fraction of the side
        return torch.cat([linear, 2 * self.shift[:, :, None]], dim=2)

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """The images (N, C, H, W), each transformed with its own parameters."""
        grid = F.affine_grid(self.matrices().to(images.dtype), list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def describe(self, i: int, side: int = 28) -> str:
        """What image `i`'s transform does, as one sees it: sampling the input at the shifted point moves
        the digit the other way; a positive angle turns it anticlockwise on screen (rows run downwards)."""
        dx, dy = (-self.shift[i] * side + 0.0).tolist()  # + 0.0 turns -0.0 into 0.0
        angle, shear = round(float(self.angle[i])), round(float(self.shear[i]))  # whole degrees, never "-0"
        return f"{angle:+d}° turn, {self.zoom[i]:.2f}x\nmoved {dx:+.1f},{dy:+.1f} px\nshear {shear:+d}°"

