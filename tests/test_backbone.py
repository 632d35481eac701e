import pytest
import torch
from huggingface_hub.errors import GatedRepoError

from dinoad import backbone as backbone_module
from dinoad.backbone import load_backbone, resolve_dtype, select_device
from dinoad.demo import generate_scene
from dinoad.errors import ModelLoadError
from dinoad.preprocess import preprocess


@pytest.mark.parametrize(
    ("fixture", "patch", "registers", "size"),
    [("tiny_dinov3_dir", 16, 4, 128), ("tiny_dinov2_dir", 14, 0, 140), ("tiny_dinov2_registers_dir", 14, 4, 140)],
)
def test_patch_tokens_follow_cls_and_registers_on_the_patch_grid(request, fixture, patch, registers, size):
    folder = request.getfixturevalue(fixture)
    backbone = load_backbone(str(folder), "float32")
    assert (backbone.patch_size, backbone.num_register_tokens, backbone.hidden_size) == (patch, registers, 32)
    assert not backbone.model.training
    pixels = preprocess([generate_scene("good", 0)[0]], size)
    features = backbone.patch_features(pixels)
    grid = size // patch
    assert features.shape == (1, grid, grid, 32)
    with torch.inference_mode():
        tokens = backbone.model(pixel_values=pixels).last_hidden_state
    assert tokens.shape[1] == 1 + registers + grid * grid
    # Patch (row 2, column 3) is token 1 + registers + 2 * grid + 3 in row-major order.
    assert torch.allclose(features[0, 2, 3], tokens[0, 1 + registers + 2 * grid + 3])


def test_bf16_features_match_fp32(tiny_dinov3_dir):
    pixels = preprocess([generate_scene("good", 1)[0]], 128)
    fp32 = load_backbone(str(tiny_dinov3_dir), "float32").patch_features(pixels)
    bf16 = load_backbone(str(tiny_dinov3_dir), "bfloat16").patch_features(pixels)
    assert bf16.dtype == torch.float32
    cosine = torch.nn.functional.cosine_similarity(fp32.reshape(-1, 32), bf16.reshape(-1, 32), dim=1)
    assert cosine.min() >= 0.999


def test_device_and_auto_dtype_choice(monkeypatch):
    assert select_device().type in ("cpu", "cuda", "mps")
    assert resolve_dtype("float32", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    monkeypatch.setattr(backbone_module, "cpu_supports_bf16", lambda: True)
    assert resolve_dtype("auto", torch.device("cpu")) == torch.bfloat16
    monkeypatch.setattr(backbone_module, "cpu_supports_bf16", lambda: False)
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32


def test_missing_folder_and_folder_without_config_say_what_to_give(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_backbone(str(tmp_path / "nowhere"))
    with pytest.raises(ModelLoadError, match="not a model folder"):
        load_backbone(str(tmp_path))


def test_a_model_without_patch_tokens_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                         vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="not a ViT with patch tokens"):
        load_backbone(str(tmp_path))


def test_offline_hub_id_asks_for_a_local_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as error:
        load_backbone("facebook/dinov3-vits16-pretrain-lvd1689m")
    message = str(error.value)
    assert "no connection" in message and "local folder" in message and "hf download" in message


def test_gated_model_explains_licence_token_and_dinov2_alternative(monkeypatch):
    import transformers

    def gated(*args, **kwargs):
        # The hub error needs an HTTP response to construct; build it bare as a 403 would arrive.
        hub_error = GatedRepoError.__new__(GatedRepoError)
        Exception.__init__(hub_error, "Access to model facebook/dinov3-vits16-pretrain-lvd1689m is restricted.")
        raise OSError("Cannot access this repository.") from hub_error

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", gated)
    with pytest.raises(ModelLoadError) as error:
        load_backbone("facebook/dinov3-vits16-pretrain-lvd1689m")
    message = str(error.value)
    assert "accept the licence" in message and "HF_TOKEN" in message and "dinov2" in message


def test_input_not_on_the_patch_grid_is_refused(tiny_backbone):
    with pytest.raises(ValueError, match="multiple of the patch size"):
        tiny_backbone.patch_features(torch.zeros(1, 3, 130, 128))
