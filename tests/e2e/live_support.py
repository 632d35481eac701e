"""Helpers for the Live page in a real browser: verdict counts, the banner colour of the returned
video, and screenshots for docs/."""

from __future__ import annotations

import shutil
from pathlib import Path

VERDICTS = ("OK", "NOK", "NO PART")
DOC_VIEWPORT = {"width": 1280, "height": 800}  # docs screenshots: one viewport, small PNGs
# Banner colours of dinoad.live (RGB); video compression shifts them a little.
BANNER_COLOURS = {"OK": (30, 160, 60), "NOK": (210, 30, 30)}
BANNER_TOLERANCE = 60.0  # Euclidean RGB distance
BANNER_SAMPLE = {"x0": 0.88, "y0": 0.01, "y1": 0.06}  # right end of the banner: no text there

COUNTS_JS = """() => {
  const counts = {};
  document.querySelectorAll(".st-key-live_counts [data-testid='stMetric']").forEach(metric => {
    const label = metric.querySelector("[data-testid='stMetricLabel']").innerText.trim();
    counts[label] = Number(metric.querySelector("[data-testid='stMetricValue']").innerText.trim());
  });
  return counts;
}"""

BANNER_JS = """sample => {
  const frame = [...document.querySelectorAll('iframe')].find(i => i.title.includes('streamlit_webrtc'));
  const video = frame && frame.contentDocument && frame.contentDocument.querySelector('video');
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  const x = Math.floor(canvas.width * sample.x0), y = Math.floor(canvas.height * sample.y0);
  const height = Math.max(1, Math.floor(canvas.height * (sample.y1 - sample.y0)));
  const data = context.getImageData(x, y, canvas.width - x, height).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) { sum[0] += data[i]; sum[1] += data[i + 1]; sum[2] += data[i + 2]; }
  const n = data.length / 4;
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}"""


def live_counts(page) -> dict[str, int]:
    """The verdict counters of the Live panel, e.g. {"OK": 3, "NOK": 1, "NO PART": 2, "fps": ...}."""
    return page.evaluate(COUNTS_JS)


def wait_for_every_verdict(page, timeout_ms: float, at_least: int = 1) -> dict[str, int]:
    """Wait until the panel has counted each of OK, NOK and NO PART at least ``at_least`` times."""
    page.wait_for_function(
        f"() => {{ const c = ({COUNTS_JS})(); return {list(VERDICTS)!r}.every(v => (c[v] || 0) >= {at_least}); }}",
        timeout=timeout_ms,
    )
    return live_counts(page)


def banner_verdict(page) -> str | None:
    """The verdict whose banner colour the returned video shows now (OK or NOK), else None."""
    colour = page.evaluate(BANNER_JS, BANNER_SAMPLE)
    if colour is None:
        return None
    for verdict, expected in BANNER_COLOURS.items():
        if sum((a - b) ** 2 for a, b in zip(colour, expected, strict=True)) ** 0.5 < BANNER_TOLERANCE:
            return verdict
    return None


def banners_seen(page, wanted: set[str], tries: int = 120, interval_ms: int = 250) -> set[str]:
    """Sample the returned video until every banner in ``wanted`` was seen (or the tries run out)."""
    seen: set[str] = set()
    for _ in range(tries):
        verdict = banner_verdict(page)
        if verdict is not None:
            seen.add(verdict)
        if wanted <= seen:
            break
        page.wait_for_timeout(interval_ms)
    return seen


def document(page, name: str, screenshots: Path, artifacts: Path, settle_ms: int = 700) -> None:
    """A viewport screenshot into docs/screenshots (committed) and test-artifacts."""
    page.mouse.move(page.viewport_size["width"] // 2, 5)  # no hover toolbars or video controls in the picture
    page.wait_for_timeout(settle_ms)  # let charts, images and the video finish drawing
    target = screenshots / f"{name}.png"
    page.screenshot(path=str(target))
    shutil.copyfile(target, artifacts / f"{name}.png")
