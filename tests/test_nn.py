"""The shared U-Net trunk: shapes, zero start, torus equivariance, live conditioning, input checks."""
import math

import pytest
import torch

from adsorbstudy.generators.blocks import sinusoidal_embedding, temperatures_tensor, UNet


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _randomize_head(net):
    torch.manual_seed(1)
    torch.nn.init.normal_(net.out.weight)
    torch.nn.init.normal_(net.out.bias)


def test_sinusoidal_embedding_matches_formula():
    t = torch.tensor([0.0, 3.0, 917.0])
    d = 8
    e = sinusoidal_embedding(t, d)
    for row, tv in enumerate(t.tolist()):
        for i in range(d // 2):
            w = 10000 ** (-2 * i / d)
            assert e[row, i].item() == pytest.approx(math.sin(tv * w), abs=1e-5)
            assert e[row, d // 2 + i].item() == pytest.approx(math.cos(tv * w), abs=1e-5)


def test_untrained_output_is_exactly_zero_and_shaped():
    net = UNet(1, 2, base=8, depth=3, emb_dim=16)
    x = torch.randn(3, 1, 16, 16)
    y = net(x, torch.tensor([1, 5, 9]), torch.tensor([1.0, 2.0, 3.0]))
    assert y.shape == (3, 2, 16, 16)
    assert torch.equal(y, torch.zeros_like(y))


def test_circular_unet_is_translation_equivariant_on_the_torus():
    net = UNet(1, 1, base=8, depth=2, emb_dim=16, padding="circular").eval()
    _randomize_head(net)
    x = torch.randn(2, 1, 8, 8)
    k, T = torch.tensor([3, 3]), torch.tensor([2.0, 2.0])
    # shifts by the pooling factor commute with every layer
    y = net(x, k, T)
    ys = net(torch.roll(x, (2, 4), (-2, -1)), k, T)
    assert torch.allclose(torch.roll(y, (2, 4), (-2, -1)), ys, atol=1e-5)
    znet = UNet(1, 1, base=8, depth=2, emb_dim=16, padding="zeros").eval()
    _randomize_head(znet)
    z = znet(x, k, T)
    zs = znet(torch.roll(x, (2, 4), (-2, -1)), k, T)
    assert not torch.allclose(torch.roll(z, (2, 4), (-2, -1)), zs, atol=1e-3)


@pytest.mark.parametrize("base", [4, 8, 16])
def test_conditioning_reaches_the_output(base):
    # regression: a per-channel embedding added before a GroupNorm with one channel per group vanishes
    net = UNet(1, 1, base=base, depth=1, emb_dim=16).eval()
    _randomize_head(net)
    x = torch.randn(1, 1, 8, 8)
    a = net(x, torch.tensor([5]), torch.tensor([1.5]))
    b = net(x, torch.tensor([5]), torch.tensor([3.5]))
    c = net(x, torch.tensor([50]), torch.tensor([1.5]))
    assert (a - b).abs().max() > 1e-3
    assert (a - c).abs().max() > 1e-3


def unet_param_formula(in_ch: int, out_ch: int, base: int, depth: int, emb_dim: int, n_classes: int = 0,
                       temperature: bool = True) -> int:
    """The parameter count of ``UNet`` written out layer by layer from the layer definitions in adsorbstudy/nn.py.

    d = emb_dim, w_i = base·2^i (i = 0 … depth−1).
      temperature embedding  Linear(1→d) + Linear(d→d)                = (d + d) + (d² + d)
      class embedding        Embedding(n_classes, d)                  = n_classes·d
      DoubleConv(ci → co)    conv3×3 ci→co (weights + bias)           = 9·ci·co + co
                             GroupNorm(co) (affine weight + bias)     = 2·co
                             conv3×3 co→co                            = 9·co² + co
                             GroupNorm(co)                            = 2·co
                             Linear(d → co) (the embedding bias)      = d·co + co
                             skip: 1×1 conv ci→co when ci ≠ co        = ci·co + co (else 0)
      inc                    DoubleConv(in_ch → w_0)
      down, i = 1 … depth−1  DoubleConv(w_{i−1} → w_i)
      up,   i = depth−1 … 1  DoubleConv(w_i + w_{i−1} → w_{i−1})     (skip concatenation)
      out                    conv1×1 w_0 → out_ch                     = w_0·out_ch + out_ch
    The sinusoidal step embedding, pooling, upsampling and activations have no parameters.
    """
    d = emb_dim
    w = [base * 2 ** i for i in range(depth)]

    def double_conv(ci, co):
        conv1 = 9 * ci * co + co
        norm1 = 2 * co
        conv2 = 9 * co * co + co
        norm2 = 2 * co
        emb = d * co + co
        skip = ci * co + co if ci != co else 0
        return conv1 + norm1 + conv2 + norm2 + emb + skip

    total = (2 * d + d * d + d) if temperature else 0
    total += n_classes * d
    total += double_conv(in_ch, w[0])
    total += sum(double_conv(w[i - 1], w[i]) for i in range(1, depth))
    total += sum(double_conv(w[i] + w[i - 1], w[i - 1]) for i in range(depth - 1, 0, -1))
    total += w[0] * out_ch + out_ch
    return total


@pytest.mark.parametrize("in_ch,out_ch,base,depth,emb_dim,n_classes,temperature", [
    (1, 1, 16, 2, 64, 0, True),     # the DDPM of the default profile
    (1, 2, 16, 2, 64, 0, True),     # the adsorption generator (ε_s, ε_a)
    (1, 1, 8, 1, 32, 0, True),      # smoke widths, one resolution (no down/up blocks)
    (1, 2, 64, 4, 128, 0, True),    # seed-004 scale
    (3, 3, 4, 3, 8, 10, False),     # images: colour channels, class embedding, no temperature
])
def test_parameter_count_is_the_hand_computed_formula(in_ch, out_ch, base, depth, emb_dim, n_classes, temperature):
    # Catches any change to the trunk's layers (a dropped or added layer, a GroupNorm without affine
    # parameters, a skip convolution where the widths match, a wrong width of the up blocks' skip
    # concatenation): the count is compared with the formula written out above, not with another
    # model built from the same U-Net class.
    from adsorbstudy.generators.blocks import n_params

    net = UNet(in_ch, out_ch, base=base, depth=depth, emb_dim=emb_dim, n_classes=n_classes, temperature=temperature)
    assert n_params(net) == unet_param_formula(in_ch, out_ch, base, depth, emb_dim, n_classes, temperature)


def test_class_embedding():
    net = UNet(1, 1, base=8, depth=2, emb_dim=16, padding="zeros", n_classes=3, temperature=False).eval()
    _randomize_head(net)
    x = torch.randn(2, 1, 8, 8)
    y0 = net(x, torch.tensor([1, 1]), label=torch.tensor([0, 0]))
    y2 = net(x, torch.tensor([1, 1]), label=torch.tensor([2, 2]))
    assert (y0 - y2).abs().max() > 1e-3
    with pytest.raises(ValueError, match="label"):
        net(x, torch.tensor([1, 1]))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="padding"):
        UNet(padding="reflect")
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)
    net = UNet(1, 1, base=4, depth=3, emb_dim=8)
    with pytest.raises(ValueError, match="divisible"):
        net(torch.zeros(1, 1, 6, 6), torch.tensor([1]), torch.tensor([1.0]))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="T must"):
            temperatures_tensor(bad, 3)
    with pytest.raises(ValueError, match="shape"):
        temperatures_tensor([1.0, 2.0], 3)


def test_generator_base_requires_nfe_for():
    from adsorbstudy.generators.blocks import GeneratorBase

    class NoNfe(GeneratorBase):
        pass

    with pytest.raises(TypeError, match="nfe_for"):
        NoNfe()
