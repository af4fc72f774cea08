"""EMERT: every variant's shapes, the gradient reversal, the loss, learning, face weights files."""

import math

import pytest

torch = pytest.importorskip("torch")

from emer_live.errors import ModelError
from training.models.emert import EMERT, EMERTConfig, grad_reverse
from training.models.losses import LossConfig, emert_loss
from training.models.resnet import ResNet18

TINY = dict(d_model=16, n_heads=2, n_layers=1, resnet_width=4, dropout=0.0)
B = 3


def inputs(cfg: EMERTConfig, b=B, seed=0):
    g = torch.Generator().manual_seed(seed)
    face = (torch.randn(b, 8, cfg.face_embed_dim, generator=g) if cfg.face_encoder == "embedding"
            else torch.rand(b, 8, 3, 112, 112, generator=g))
    return face, torch.randn(b, 32, 39, generator=g), torch.rand(b, 32, 2, generator=g)


def targets(b=B):
    return {"er7": torch.tensor([0, 5, -1])[:b], "er3": torch.tensor([0, 1, 2])[:b],
            "er_va": torch.tensor([[0.8, 0.5], [-0.7, 0.7], [float("nan")] * 2])[:b],
            "fer7": torch.tensor([0, 0, 6])[:b], "fer3": torch.tensor([-1, -1, -1])[:b],
            "fer_va": torch.tensor([[0.5, 0.2], [0.4, 0.1], [0.0, 0.0]])[:b],
            "fer_int": torch.tensor([[2.0], [1.5], [float("nan")]])[:b]}


VARIANTS = {
    "emert": {},
    "plain_transformer": dict(use_mafd=False, use_emt=False),
    "mafd_only": dict(use_emt=False),
    "emt_only": dict(use_mafd=False),
    "face_only": dict(modalities=("face",)),
    "eye_only": dict(modalities=("eye",)),
    "fixation_only": dict(modalities=("fixation",)),
    "face_eye": dict(modalities=("face", "eye")),
    "face_fixation": dict(modalities=("face", "fixation")),
    "eye_fixation": dict(modalities=("eye", "fixation")),
    "er_only": dict(tasks=("er",)),
    "fer_only": dict(tasks=("fer",)),
    "mini_xception": dict(face_encoder="mini_xception"),
    "embedding": dict(face_encoder="embedding"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_shapes_and_ranges(name):
    cfg = EMERTConfig(**TINY, **VARIANTS[name])
    out = EMERT(cfg)(*inputs(cfg))
    for t in cfg.tasks:
        assert out[f"{t}_logits7"].shape == (B, 7) and out[f"{t}_logits3"].shape == (B, 3)
        assert out[f"{t}_va"].shape == (B, 2) and out[f"{t}_va"].abs().max() <= 1
    assert ("fer_intensity" in out) == ("fer" in cfg.tasks)
    if "fer" in cfg.tasks:
        i = out["fer_intensity"]
        assert i.shape == (B, 1) and 0 <= i.min() and i.max() <= 3
    has_adv = cfg.use_mafd and len(cfg.modalities) > 1
    assert ("mod_logits_inv" in out) == has_adv
    if has_adv:
        M = len(cfg.modalities)
        assert out["mod_logits_inv"].shape == out["mod_logits_spec"].shape == (M, B, M)
    total, parts = emert_loss(out, targets())
    assert torch.isfinite(total) and (parts["adv"] > 0) == has_adv
    total.backward()


def test_crops_and_cached_embeddings_give_the_same_output():
    cfg = EMERTConfig(**TINY)
    m = EMERT(cfg).eval()
    face, eye, fix = inputs(cfg)
    with torch.no_grad():
        emb = m.embed_faces(face.flatten(0, 1)).view(B, 8, -1)
        a, b = m(face, eye, fix), m(emb, eye, fix)
    assert emb.shape == (B, 8, cfg.face_dim) == (B, 8, 32)
    for k in a:
        torch.testing.assert_close(a[k], b[k])


def test_gradient_reversal_flips_and_scales_gradients():
    x = torch.randn(4, 5, requires_grad=True)
    (grad_reverse(x, 0.5) * torch.arange(5.0)).sum().backward()
    torch.testing.assert_close(x.grad, -0.5 * torch.arange(5.0).expand(4, 5))


def test_adversarial_loss_pushes_invariant_extractor_against_the_discriminator():
    """The same L_adv gradient reaches the discriminator as is and MLP_c reversed: a step that
    lowers L_adv for D must raise it for MLP_c."""
    cfg = EMERTConfig(**TINY, face_encoder="embedding", grl_lambda=1.0)
    m = EMERT(cfg)
    out = m(*inputs(cfg))
    from training.models.losses import adversarial_loss

    adversarial_loss(out).backward()
    # Direction check on MLP_c's last layer: descending its (reversed) gradient raises L_adv.
    w = m.mlp_c[-1].weight
    with torch.no_grad():
        base = float(adversarial_loss(m(*inputs(cfg))))
        w -= 1e-2 * w.grad / w.grad.norm()
        after = float(adversarial_loss(m(*inputs(cfg))))
    assert after > base


def test_loss_parts_weights_and_unknown_labels():
    cfg = EMERTConfig(**TINY, face_encoder="embedding")
    out = EMERT(cfg)(*inputs(cfg))
    total, parts = emert_loss(out, targets(), LossConfig(alpha=0.3, beta=0.1))
    assert math.isclose(float(total.detach()), 0.3 * parts["adv"] + 0.1 * (parts["er"] + parts["fer"]), rel_tol=1e-5)
    total2, _ = emert_loss(out, targets(), LossConfig(alpha=0.0, beta=1.0))
    assert math.isclose(float(total2.detach()), parts["er"] + parts["fer"], rel_tol=1e-5)
    # every label unknown: the task terms are 0, nothing is NaN
    unknown = {k: (torch.full_like(v, -1) if v.dtype == torch.int64 else torch.full_like(v, float("nan")))
               for k, v in targets().items()}
    total3, parts3 = emert_loss(out, unknown)
    assert parts3["er"] == 0 and parts3["fer"] == 0 and math.isfinite(float(total3.detach()))


def test_a_few_steps_reduce_the_loss_on_a_tiny_batch():
    torch.manual_seed(0)
    cfg = EMERTConfig(**TINY, face_encoder="embedding")
    m = EMERT(cfg)
    x, y = inputs(cfg, b=3), targets()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, _ = emert_loss(m(*x), y, LossConfig(alpha=0.0, beta=1.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_frozen_face_encoder_stays_fixed_and_in_eval():
    cfg = EMERTConfig(**TINY, freeze_face=True)
    m = EMERT(cfg).train()
    assert not m.face_encoder.training and m.eye_lstm.training
    assert not any(p.requires_grad for p in m.face_encoder.parameters())


def test_user_resnet_weights_load_and_foreign_files_are_refused(tmp_path):
    src = ResNet18(width=4)
    good = tmp_path / "resnet18_w4.pt"
    torch.save({**src.state_dict(), "fc.weight": torch.zeros(7, 32), "fc.bias": torch.zeros(7)}, good)
    m = EMERT(EMERTConfig(**TINY, face_weights=str(good)))
    torch.testing.assert_close(m.face_encoder.conv1.weight, src.conv1.weight)

    foreign = tmp_path / "other_net.pt"
    torch.save({"features.0.weight": torch.zeros(3, 3), "conv1.weight": torch.zeros(1, 1, 1, 1)}, foreign)
    with pytest.raises(ModelError, match=r"other_net\.pt.*(missing|unexpected|wrong shape)") as e:
        EMERT(EMERTConfig(**TINY, face_weights=str(foreign)))
    assert "features.0.weight" in str(e.value) and "conv1.weight" in str(e.value)

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="junk.pt"):
        EMERT(EMERTConfig(**TINY, face_weights=str(junk)))


def test_bad_config_is_refused():
    with pytest.raises(ModelError, match="modalities"):
        EMERTConfig(modalities=("face", "voice"))
    with pytest.raises(ModelError, match="tasks"):
        EMERTConfig(tasks=())


def _adv_grad_groups(cfg: EMERTConfig) -> set[str]:
    """Which top-level parameter groups L_adv alone gives a non-zero gradient."""
    from training.models.losses import adversarial_loss

    torch.manual_seed(0)
    m = EMERT(cfg)
    adversarial_loss(m(*inputs(cfg))).backward()
    return {name.split(".")[0] + ("." + name.split(".")[1] if name.startswith(("mlp_spec", "pos")) else "")
            for name, p in m.named_parameters() if p.grad is not None and float(p.grad.abs().sum()) > 0}


ENCODERS = {"face_proj", "eye_lstm", "fix_lstm", "pos.face", "pos.eye", "pos.fixation"}
ADV_MLPS = {"mlp_c", "mlp_spec.face", "mlp_spec.eye", "mlp_spec.fixation", "discriminator"}


@pytest.mark.parametrize("decoupling, trained", [
    ("reversal", ENCODERS | ADV_MLPS),  # the paper and its reference code
    ("detached", ADV_MLPS),  # D, MLP_c and the three MLP_m; never the encoders
])
def test_adversarial_gradient_reaches(decoupling, trained):
    """What docs/training.md says each decoupling variant trains with L_adv."""
    cfg = EMERTConfig(**TINY, face_encoder="embedding", decoupling=decoupling)
    assert _adv_grad_groups(cfg) == trained


def test_reversal_sends_the_encoders_the_negated_invariant_gradient():
    """Through the GRL the encoders get -lambda times what L_inv would give them plainly."""
    from training.models.losses import adversarial_parts

    grads = []
    for lam in (1.0, -1.0):  # -1: the reversal undone, a plain gradient
        torch.manual_seed(0)
        m = EMERT(EMERTConfig(**TINY, face_encoder="embedding", grl_lambda=lam, grl_warmup=False)).eval()
        adversarial_parts(m(*inputs(EMERTConfig(**TINY, face_encoder="embedding"))))[0].backward()
        grads.append(m.eye_lstm.weight_ih_l0.grad.clone())
    torch.testing.assert_close(grads[0], -grads[1])
    assert float(grads[0].abs().sum()) > 0


def test_gradient_reversal_warms_up_from_zero():
    m = EMERT(EMERTConfig(**TINY, face_encoder="embedding", grl_lambda=0.5))
    lams = []
    for p in (0.0, 0.1, 0.5, 1.0):
        m.set_progress(p)
        lams.append(m.grl_weight())
    assert lams[0] == 0.0 and lams == sorted(lams)
    assert math.isclose(lams[1], 0.5 * (2 / (1 + math.exp(-1.0)) - 1))
    assert math.isclose(lams[-1], 0.5 * (2 / (1 + math.exp(-10.0)) - 1))
    m2 = EMERT(EMERTConfig(**TINY, face_encoder="embedding", grl_lambda=0.5, grl_warmup=False))
    m2.set_progress(0.0)
    assert m2.grl_weight() == 0.5


def test_reference_weighting_is_task_plus_light_adversarial_terms():
    from training.models.losses import adversarial_parts, loss_config

    cfg = EMERTConfig(**TINY, face_encoder="embedding")
    out = EMERT(cfg)(*inputs(cfg))
    total, parts = emert_loss(out, targets(), loss_config("reference"))
    inv, spec = (float(x.detach()) for x in adversarial_parts(out))
    assert math.isclose(float(total.detach()), 0.1 * inv + 0.1 * spec + parts["er"] + parts["fer"], rel_tol=1e-5)
    total_p, parts_p = emert_loss(out, targets(), loss_config("paper"))
    assert math.isclose(float(total_p.detach()), 0.3 * parts_p["adv"] + 0.1 * (parts_p["er"] + parts_p["fer"]),
                        rel_tol=1e-5)
    with pytest.raises(ValueError):
        loss_config("other")
