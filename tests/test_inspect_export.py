"""The trusted inspection's comparison of a student's arrays with Fashion-MNIST, on synthetic pixels."""

import numpy as np
import pytest

from autograder.trusted.inspect_export import affine_scaling

RNG = np.random.default_rng(7)
RAW = RNG.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
RAW[0, 0, 0], RAW[0, 0, 1] = 0, 255  # like the real images: the darkest pixel is 0, the brightest 255


@pytest.mark.parametrize("prepare, expected", [
    (lambda raw: raw / 255.0, (1 / 255, 0.0)),
    (lambda raw: (raw / np.float32(255)).astype(np.float32), (1 / 255, 0.0)),
    (lambda raw: raw, (1.0, 0.0)),
    (lambda raw: raw / 127.5 - 1, (1 / 127.5, -1.0)),
    (lambda raw: raw.reshape(50, 784) / 255.0, (1 / 255, 0.0)),  # any shape: the shape check is q1's own
])
def test_a_rescaling_of_the_real_images_is_recognised_with_its_factor(prepare, expected):
    assert affine_scaling(prepare(RAW), RAW) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("tamper", [
    lambda x: x[::-1],  # shuffled (here: reversed) images
    lambda x: np.where(np.arange(x.size).reshape(x.shape) == 1000, x + 1 / 255, x),  # one pixel one grey level off
    lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x),
    lambda x: np.zeros_like(x),
    lambda x: np.clip(x, 0.1, 1.0),  # not a rescaling: clipped
])
def test_anything_else_is_not_the_real_images(tamper):
    assert affine_scaling(tamper(RAW / 255.0), RAW) is None


def test_a_float16_copy_is_recognised_within_its_own_precision():
    assert affine_scaling((RAW / 255).astype(np.float16), RAW) == pytest.approx((1 / 255, 0.0), rel=1e-3, abs=1e-6)
    assert affine_scaling((RAW[::-1] / 255).astype(np.float16), RAW) is None
