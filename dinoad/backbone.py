"""Loading a DINOv3 / DINOv2 ViT through transformers and turning images into patch features."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dinoad.errors import ModelLoadError

log = logging.getLogger(__name__)

SUPPORTED_MODEL_TYPES = ("dinov3_vit", "dinov2", "dinov2_with_registers")
DTYPE_NAMES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DINOV2_ALTERNATIVE = "facebook/dinov2-with-registers-small"


def select_device() -> torch.device:
    """CUDA if present, else Apple MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    """True when oneDNN has native bf16 kernels on this CPU (AVX512-BF16, AMX or ARM bf16)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` -> fp16 on CUDA, bf16 on a CPU with bf16 support, else fp32."""
    if name != "auto":
        if name not in DTYPE_NAMES:
            raise ModelLoadError(f"dtype must be auto, {', '.join(DTYPE_NAMES)}; got {name!r}")
        return DTYPE_NAMES[name]
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return torch.float32


@dataclass
class Backbone:
    """A frozen ViT that maps normalised images to a grid of patch features."""

    model: torch.nn.Module
    model_id: str
    revision: str | None
    patch_size: int
    num_register_tokens: int
    hidden_size: int
    device: torch.device
    dtype: torch.dtype
    # Shared by every caller (training, live sessions): one forward pass at a time.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, H/p, W/p, D) float32 patch tokens on the CPU."""
        batch, _, height, width = pixels.shape
        grid = (height // self.patch_size, width // self.patch_size)
        if grid[0] * self.patch_size != height or grid[1] * self.patch_size != width:
            raise ValueError(f"image {height}x{width} is not a multiple of the patch size {self.patch_size}")
        with self.lock, torch.inference_mode():
            tokens = self.model(pixel_values=pixels.to(self.device, self.dtype)).last_hidden_state
        first_patch = 1 + self.num_register_tokens
        expected = first_patch + grid[0] * grid[1]
        if tokens.shape[1] != expected:
            raise ModelLoadError(
                f"{self.model_id} returned {tokens.shape[1]} tokens for a {grid[0]}x{grid[1]} patch grid "
                f"(expected 1 CLS + {self.num_register_tokens} registers + {grid[0] * grid[1]} patches); "
                "it is not a DINOv3/DINOv2 ViT with patch tokens"
            )
        patches = tokens[:, first_patch:].float().cpu()
        return patches.reshape(batch, grid[0], grid[1], -1)


def _is_local_reference(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~", "\\")) or Path(model_id).expanduser().exists()


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def explain_load_failure(model_id: str, exc: BaseException) -> str:
    """Turn a transformers / hub exception into a message that says what to do."""
    names = {type(e).__name__ for e in _exception_chain(exc)}
    text = " ".join(str(e) for e in _exception_chain(exc)).lower()
    local_hint = (
        "or download it on a machine with internet (`hf download "
        f"{model_id} --local-dir {model_id.rsplit('/', 1)[-1]}`) and set the model to that local folder"
    )
    if "GatedRepoError" in names or "gated" in text:
        return (
            f"{model_id} is a gated model and this machine has no access: accept the licence on "
            f"https://huggingface.co/{model_id}, create a read token and set HF_TOKEN, "
            f"or choose a DINOv2 model such as {DINOV2_ALTERNATIVE}"
        )
    if "RepositoryNotFoundError" in names or "not a valid model identifier" in text or "repository not found" in text:
        return f"{model_id} was not found on the HuggingFace hub: check the spelling, or give a local model folder"
    if (
        "LocalEntryNotFoundError" in names
        or "couldn't connect" in text
        or "offline" in text
        or "connection" in text
    ):
        return f"cannot download {model_id}: no connection to the HuggingFace hub and no cached copy; {local_hint}"
    return f"cannot load {model_id}: {exc}"


def load_backbone(model_id: str, dtype: str = "auto", device: torch.device | None = None) -> Backbone:
    """Load a DINOv3 ViT or DINOv2 from the hub or a local folder, in eval mode on ``device``.

    Never falls back to another model: any failure raises ModelLoadError saying what to do.
    """
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our own progress callback reports training

    device = device or select_device()
    torch_dtype = resolve_dtype(dtype, device)
    reference = model_id
    if _is_local_reference(model_id):
        folder = Path(model_id).expanduser()
        if not folder.is_dir():
            raise ModelLoadError(f"model folder {folder} does not exist; give the folder that holds config.json")
        if not (folder / "config.json").is_file():
            raise ModelLoadError(
                f"{folder} is not a model folder (no config.json); give the folder written by "
                "`save_pretrained` or `hf download ... --local-dir`"
            )
        reference = str(folder)
    try:
        config = AutoConfig.from_pretrained(reference)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(explain_load_failure(model_id, exc)) from exc
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES or not getattr(config, "patch_size", None):
        raise ModelLoadError(
            f"{model_id} is a {model_type or 'unknown'} model, not a ViT with patch tokens; "
            f"choose a DINOv3 ViT (e.g. facebook/dinov3-vits16-pretrain-lvd1689m) or a DINOv2 model"
        )
    try:
        model = AutoModel.from_pretrained(reference)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(explain_load_failure(model_id, exc)) from exc
    model = model.to(device=device, dtype=torch_dtype).eval()
    patch_size = int(config.patch_size[0] if isinstance(config.patch_size, (list, tuple)) else config.patch_size)
    backbone = Backbone(
        model=model,
        model_id=model_id,
        revision=getattr(config, "_commit_hash", None),
        patch_size=patch_size,
        num_register_tokens=int(getattr(config, "num_register_tokens", 0) or 0),
        hidden_size=int(config.hidden_size),
        device=device,
        dtype=torch_dtype,
    )
    log.info("loaded %s (%s, patch %d) on %s as %s", model_id, model_type, patch_size, device, torch_dtype)
    return backbone
