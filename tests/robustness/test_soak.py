"""The CI variant of the soak test: 500 frames through the live pipeline, memory and log checked."""

from dinoad.bench.soak import MEMORY_GROWTH_LIMIT_MB, WARMUP_FRAMES, run_soak


def test_500_frames_keep_memory_flat_and_the_log_complete(tmp_path):
    result = run_soak(500, tmp_path)
    assert result.log_errors == 0
    assert result.log_rows == 500 + WARMUP_FRAMES
    assert result.growth_mb < MEMORY_GROWTH_LIMIT_MB, result
