"""Per-sample random affine augmentation of a whole batch at once, on the batch's device."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class RandomAffine:
    """Each image gets its own rotation, shift, zoom and shear, drawn uniformly in these ranges.

    degrees: rotation in [-degrees, degrees]; translate: shift up to this fraction of the side;
    scale: zoom factor range; shear: horizontal shear in [-shear, shear] degrees.
    """

    degrees: float = 10.0
    translate: float = 0.1
    scale: tuple[float, float] = (0.9, 1.1)
    shear: float = 5.0

    def scaled(self, strength: float) -> RandomAffine:
        """The same transform with every range multiplied by `strength` (0: no change at all)."""
        low, high = self.scale
        return RandomAffine(self.degrees * strength, self.translate * strength,
                            (1 - (1 - low) * strength, 1 + (high - 1) * strength), self.shear * strength)

    def matrices(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """(n, 2, 3) matrices mapping output to input coordinates, as `affine_grid` expects."""
        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, generator=generator, device=device)

        angle = uniform(-self.degrees, self.degrees) * math.pi / 180
        shear = torch.tan(uniform(-self.shear, self.shear) * math.pi / 180)
        zoom = uniform(*self.scale)
        # translate is a fraction of the side; affine_grid's coordinates span 2 units per side
        shift = torch.stack([uniform(-self.translate, self.translate) * 2 for _ in range(2)], dim=1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # Sampling the input at (R S / zoom) p + shift shows the digit rotated, sheared and zoomed.
        rotate = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        shear_m = torch.zeros(n, 2, 2, device=device)
        shear_m[:, 0, 0] = shear_m[:, 1, 1] = 1
        shear_m[:, 0, 1] = shear
        linear = rotate @ shear_m / zoom[:, None, None]
        return torch.cat([linear, shift[:, :, None]], dim=2)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment float images (N, C, H, W) whose background is 0 (i.e. before normalising)."""
        theta = self.matrices(images.shape[0], generator, images.device).to(images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

