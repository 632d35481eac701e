"""Property-based fuzzing of the two parsers that meet untrusted input: config.json and image files."""

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dinoad.config import ProjectConfig
from dinoad.errors import ConfigError, ImageError
from dinoad.images import decode_image, encode_png

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
FIELDS = [name for name in ProjectConfig.__dataclass_fields__]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), JSON_VALUES, max_size=8))
def test_config_parser_accepts_or_names_the_field(data):
    try:
        config = ProjectConfig.from_dict(data)
    except ConfigError as error:
        message = str(error)
        assert any(name in message for name in FIELDS), message
        return
    # Whatever was accepted is valid, serialisable and stable through a round trip.
    assert ProjectConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_are_an_image_error_never_a_crash(data):
    try:
        rgb = decode_image(data, "fuzz.png")
    except ImageError as error:
        assert "fuzz.png" in str(error)
        return
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8


@settings(max_examples=100, deadline=None)
@given(st.integers(16, 64), st.integers(16, 64), st.integers(0, 2**32 - 1), st.integers(1, 400))
def test_mutated_pngs_decode_or_fail_cleanly(height, width, seed, cut):
    rng = np.random.default_rng(seed)
    data = bytearray(encode_png(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)))
    for position in rng.integers(0, len(data), size=3):
        data[position] = int(rng.integers(0, 256))
    try:
        rgb = decode_image(bytes(data[: max(8, len(data) - cut)]), "mutated.png")
    except ImageError as error:
        assert "mutated.png" in str(error)
        return
    assert rgb.shape[2] == 3
