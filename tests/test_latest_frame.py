import threading

import numpy as np

from dinoad.latest_frame import LatestFrame


def test_keeps_only_the_newest_frame_from_another_thread():
    holder = LatestFrame()
    assert holder.get() is None

    def produce():
        for value in range(50):
            holder.put(np.full((4, 4, 3), value, np.uint8))

    worker = threading.Thread(target=produce)
    worker.start()
    worker.join()
    frame = holder.get()
    assert frame is not None and frame.number == 50 and int(frame.rgb[0, 0, 0]) == 49
    assert holder.count == 50


def test_stale_frames_are_not_returned(monkeypatch):
    holder = LatestFrame()
    holder.put(np.zeros((4, 4, 3), np.uint8))
    frame = holder.get()
    assert frame is not None
    later = frame.received_at + 10.0
    monkeypatch.setattr("dinoad.latest_frame.time.monotonic", lambda: later)
    assert holder.get(max_age=3.0) is None
    assert holder.get(max_age=None) is not None
    holder.clear()
    assert holder.get(max_age=None) is None
