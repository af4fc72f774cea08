"""Face normalisation chosen for the weights given, strict export loading, fold-only eye statistics."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emer_live.errors import EmerError
from training.data.common import (FACE_MEAN, IMAGENET_MEAN, IMAGENET_STD, eye_stats_of, face_norm_for,
                                  face_norm_name, fold_eye_stats)


def test_imagenet_weights_get_imagenet_normalisation():
    assert face_norm_for("resnet18", "resnet18-imagenet.pth") == (IMAGENET_MEAN, IMAGENET_STD)
    assert face_norm_name("resnet18", "resnet18-imagenet.pth") == "imagenet"
    assert face_norm_for("resnet18")[0] == FACE_MEAN  # from scratch: [-1, 1]
    assert face_norm_name("mini_xception", "emotion_model.hdf5") == "unit"
    assert face_norm_name("resnet18", "own.pth", "half") == "half"  # the user's word wins
    with pytest.raises(ValueError):
        face_norm_name("resnet18", None, "zscore")


def test_export_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    from training.cli import _load_all_but_face_encoder
    from training.models.emert import EMERT, EMERTConfig

    small = dict(d_model=16, n_heads=2, n_layers=1)
    trained = EMERT(EMERTConfig(face_encoder="embedding", **small))
    deployed = EMERT(EMERTConfig(face_encoder="mini_xception", freeze_face=True, **small))
    _load_all_but_face_encoder(deployed, trained.state_dict(), tmp_path / "last.pt")  # fits
    assert torch.equal(deployed.state_dict()["face_proj.weight"], trained.state_dict()["face_proj.weight"])

    state = dict(trained.state_dict())
    state["stray.weight"] = torch.zeros(1)
    del state["eye_lstm.weight_ih_l0"]
    with pytest.raises(EmerError, match=r"last.pt does not fit.*missing \['eye_lstm.weight_ih_l0'\].*unexpected \['stray.weight'\]"):
        _load_all_but_face_encoder(deployed, state, tmp_path / "last.pt")
    wider = EMERT(EMERTConfig(face_encoder="embedding", d_model=32, n_heads=2, n_layers=1)).state_dict()
    with pytest.raises(EmerError, match="wrong shape"):
        _load_all_but_face_encoder(deployed, wider, tmp_path / "last.pt")


class _Eyes:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.eye = rng.normal(size=(10, 32, 39)).astype(np.float32)
        self.eye[5:] += 100.0  # the "test" half is far off
        self.eye_mean, self.eye_std = eye_stats_of(self.eye)


def test_fold_eye_stats_use_the_training_samples_only():
    ds = _Eyes()
    whole = ds.eye_mean.copy()
    with fold_eye_stats(ds, np.arange(5)) as (mean, _):
        np.testing.assert_allclose(ds.eye_mean, ds.eye[:5].reshape(-1, 39).mean(0), rtol=1e-5)
        assert abs(float(mean.mean())) < 1.0  # the shifted test half did not leak in
    np.testing.assert_array_equal(ds.eye_mean, whole)  # restored afterwards
