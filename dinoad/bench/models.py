"""Random-weight DINOv3 ViTs built from configs: speed does not depend on the weights, and nothing
is downloaded. They are wrapped in the product's ``Backbone`` so the timed path is the product's."""

from __future__ import annotations

import torch

from dinoad.backbone import Backbone

PATCH_SIZE = 16
REGISTER_TOKENS = 4
# The published DINOv3 ViT-S/16 and ViT-B/16 shapes.
ARCHITECTURES: dict[str, dict[str, int]] = {
    "ViT-S/16": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6, "intermediate_size": 1536},
    "ViT-B/16": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
}


def random_backbone(architecture: str, dtype: torch.dtype, device: torch.device | str = "cpu",
                    shape: dict[str, int] | None = None) -> Backbone:
    """A DINOv3 ViT with random weights in eval mode; ``shape`` overrides the architecture (tests)."""
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    if shape is None and architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}; got {architecture!r}")
    dims = shape or ARCHITECTURES[architecture]
    config = DINOv3ViTConfig(**dims, patch_size=PATCH_SIZE, num_register_tokens=REGISTER_TOKENS)
    torch.manual_seed(0)
    model = DINOv3ViTModel(config).to(device=device, dtype=dtype).eval()
    return Backbone(
        model=model,
        model_id=f"random-{architecture}",
        revision=None,
        patch_size=PATCH_SIZE,
        num_register_tokens=REGISTER_TOKENS,
        hidden_size=dims["hidden_size"],
        device=torch.device(device),
        dtype=dtype,
    )


def forward_flops(hidden_size: int, layers: int, intermediate_size: int, image_size: int) -> float:
    """Matrix-multiply FLOPs (2 per multiply-add) of one image through a DINOv3 ViT/16.

    Counts the patch embedding, QKV, attention scores, attention x values, output projection and
    the MLP; norms, softmax and RoPE are element-wise and left out, as is usual for GFLOP/s figures.
    """
    patches = (image_size // PATCH_SIZE) ** 2
    tokens = 1 + REGISTER_TOKENS + patches
    per_layer = (
        2 * tokens * hidden_size * 3 * hidden_size  # QKV projections
        + 2 * 2 * tokens * tokens * hidden_size  # scores and weighted sum of values
        + 2 * tokens * hidden_size * hidden_size  # output projection
        + 2 * 2 * tokens * hidden_size * intermediate_size  # MLP up and down
    )
    embedding = 2 * patches * (3 * PATCH_SIZE * PATCH_SIZE) * hidden_size
    return float(layers * per_layer + embedding)
