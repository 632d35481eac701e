import cv2
import numpy as np
import torch

from dinoad.preprocess import IMAGENET_MEAN, IMAGENET_STD, preprocess, resize_square, rotations


def _image(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_shrinking_uses_inter_area_and_enlarging_uses_inter_cubic():
    large, small = _image(300, 400), _image(60, 90)
    assert np.array_equal(resize_square(large, 128), cv2.resize(large, (128, 128), interpolation=cv2.INTER_AREA))
    assert np.array_equal(resize_square(small, 128), cv2.resize(small, (128, 128), interpolation=cv2.INTER_CUBIC))
    exact = _image(128, 128)
    assert resize_square(exact, 128) is exact


def test_preprocess_normalises_with_imagenet_statistics():
    image = _image(128, 128)
    batch = preprocess([image, image], 128)
    assert batch.shape == (2, 3, 128, 128) and batch.dtype == torch.float32
    expected = (image[5, 7] / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    assert np.allclose(batch[1, :, 5, 7].numpy(), expected, atol=1e-6)


def test_rotation_augmentation_gives_exact_quarter_turns_and_diagonals():
    square = _image(32, 32)
    assert len(rotations(square, "none")) == 1
    quarter = rotations(square, "90")
    assert len(quarter) == 4
    assert np.array_equal(quarter[1], np.rot90(square, 1)) and np.array_equal(quarter[2], square[::-1, ::-1])
    eighth = rotations(square, "45")
    assert len(eighth) == 8 and all(r.shape == square.shape for r in eighth)
    assert np.array_equal(eighth[2], quarter[1])
    assert not np.array_equal(eighth[1], square)


def test_rotation_copies_table_matches_the_augmentation():
    from dinoad.preprocess import ROTATION_COPIES

    square = _image(16, 16)
    assert {mode: len(rotations(square, mode)) for mode in ROTATION_COPIES} == ROTATION_COPIES
