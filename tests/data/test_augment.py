"""Crop-and-flip augmentation: correctness, determinism and batch invariance."""

from __future__ import annotations

import torch

from landscape.data.augment import CropFlip
from landscape.nn.init import generator


def gens(seeds, epoch=0):
    return [generator(s, "augment", epoch) for s in seeds]


def reference(x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, pad: int) -> torch.Tensor:
    """Loop version: pad, slice the crop, flip the columns."""
    m, b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    out = torch.empty_like(x)
    for i in range(m):
        for j in range(b):
            oy, ox = offsets[i, j].tolist()
            crop = padded[i, j, :, oy : oy + h, ox : ox + w]
            out[i, j] = crop.flip(-1) if flips[i, j] else crop
    return out


def test_matches_a_loop_implementation():
    aug = CropFlip(pad=4)
    x = torch.randn(3, 16, 3, 32, 32)
    offsets, flips = aug.draw(16, gens([1, 2, 3]))
    out = aug(x, gens([1, 2, 3]))
    assert out.shape == x.shape and out.dtype == x.dtype
    torch.testing.assert_close(out, reference(x, offsets, flips, 4), rtol=0, atol=0)


def test_non_square_and_other_padding():
    aug = CropFlip(pad=2)
    x = torch.randn(2, 5, 1, 6, 9)
    offsets, flips = aug.draw(5, gens([4, 5]))
    assert int(offsets.max()) <= 4
    torch.testing.assert_close(aug(x, gens([4, 5])), reference(x, offsets, flips, 2), rtol=0, atol=0)


def test_draws_cover_the_range_and_flip_about_half():
    offsets, flips = CropFlip(pad=4).draw(4000, gens([0]))
    assert set(offsets.unique().tolist()) == set(range(9))
    assert 0.45 < flips.float().mean().item() < 0.55


def test_centre_crop_without_flip_is_identity():
    x = torch.randn(1, 1, 3, 8, 8)
    aug = CropFlip(pad=4)
    # find a seed whose first draw is the centre crop without a flip
    for seed in range(2000):
        offsets, flips = aug.draw(1, gens([seed]))
        if offsets.tolist() == [[[4, 4]]] and not flips.item():
            assert torch.equal(aug(x, gens([seed])), x)
            return
    raise AssertionError("no centre draw found")


def test_deterministic_per_generator_state():
    aug = CropFlip()
    x = torch.randn(2, 8, 3, 32, 32)
    assert torch.equal(aug(x, gens([7, 8])), aug(x, gens([7, 8])))
    assert not torch.equal(aug(x, gens([7, 8], epoch=0)), aug(x, gens([7, 8], epoch=1)))
    g = gens([7, 8])
    first, second = aug(x, g), aug(x, g)  # the generators advance between batches
    assert not torch.equal(first, second)


def test_a_mask_is_augmented_the_same_alone_or_in_a_batch_of_masks():
    aug = CropFlip()
    x = torch.randn(4, 8, 3, 32, 32)
    seeds = [11, 12, 13, 14]
    batched_gens = gens(seeds)
    alone_gens = [gens([s])[0] for s in seeds]
    for _ in range(2):  # also on a second batch, after the generators advanced
        batched = aug(x, batched_gens)
        for i in range(4):
            alone = aug(x[i : i + 1], [alone_gens[i]])
            assert torch.equal(batched[i : i + 1], alone)


def test_content_is_preserved_up_to_the_border():
    x = torch.arange(3 * 32 * 32, dtype=torch.float32).reshape(1, 1, 3, 32, 32) + 1
    out = aug_out = CropFlip()(x, gens([3]))
    kept = aug_out[aug_out != 0]
    assert set(kept.tolist()) <= set(x.flatten().tolist())  # only original pixels and zeros
    assert (out == 0).sum() <= 3 * (32 * 32 - 24 * 24)


def test_an_epoch_plan_gives_the_draws_of_batch_by_batch_calls():
    aug = CropFlip(pad=4)
    sizes = [16, 16, 5]  # the last batch is short
    offsets, flips = aug.plan(sizes, gens([3, 9], epoch=2))
    assert offsets.shape == (2, 37, 2) and flips.shape == (2, 37)
    step_gens = gens([3, 9], epoch=2)
    x = torch.randn(2, 37, 3, 12, 12)
    start = 0
    for b in sizes:
        o, f = aug.draw(b, step_gens)
        assert torch.equal(offsets[:, start : start + b], o) and torch.equal(flips[:, start : start + b], f)
        batch = x[:, start : start + b]
        planned = aug.apply(batch, offsets[:, start : start + b], flips[:, start : start + b])
        assert torch.equal(planned, reference(batch, o, f, 4))
        start += b


def test_a_fill_value_per_channel_pads_the_border():
    aug = CropFlip(pad=2, fill=(1.5, -2.0))
    x = torch.randn(1, 3, 2, 4, 4)
    offsets = torch.tensor([[[0, 0], [4, 4], [2, 2]]])
    out = aug.apply(x, offsets, torch.zeros(1, 3, dtype=torch.bool))
    # top-left and bottom-right crops start in the border; the centred crop is the image
    assert out[0, 0, :, 0, 0].tolist() == [1.5, -2.0] and out[0, 1, :, -1, -1].tolist() == [1.5, -2.0]
    torch.testing.assert_close(out[0, 2], x[0, 2], rtol=0, atol=0)
    torch.testing.assert_close(out[0, 0, :, 2:, 2:], x[0, 0, :, :2, :2], rtol=0, atol=0)


def test_a_fill_is_made_once_per_device_and_dtype(monkeypatch):
    """A tensor from the Python fill values is a blocking host-to-device copy on a GPU: one per
    device and dtype, not one per training step."""
    made = []
    tensor = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(a) or tensor(*a, **k))
    aug = CropFlip(pad=2, fill=(0.5, -1.0, 2.0))
    x = torch.randn(2, 3, 3, 6, 6)
    first = aug(x, gens([1, 2]))
    for _ in range(3):
        torch.testing.assert_close(aug(x, gens([1, 2])), first, rtol=0, atol=0)
    assert len(made) == 1
    aug.prepare(x.device, x.dtype)  # what a training loop calls before its steps: already there
    assert len(made) == 1
    double = aug(x.double(), gens([1, 2]))
    assert double.dtype == torch.float64 and len(made) == 2
    torch.testing.assert_close(double, first.double(), rtol=0, atol=0)


def test_a_pickled_crop_leaves_its_device_tensors_behind():
    import pickle

    aug = CropFlip(pad=2, fill=(0.5,))
    x = torch.randn(1, 2, 1, 4, 4)
    out = aug(x, gens([3]))
    copy = pickle.loads(pickle.dumps(aug))
    assert copy._fills == {} and repr(copy) == repr(aug)
    torch.testing.assert_close(copy(x, gens([3])), out, rtol=0, atol=0)
