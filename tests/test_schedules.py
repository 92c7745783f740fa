import math

import pytest

from skulmfit.schedules import SCHEDULES, cosine, discriminative_lrs, get_schedule, one_cycle, stlr


def test_stlr_matches_paper_formula():
    T, lr, cut_frac, ratio = 1000, 0.01, 0.1, 32
    cut = math.floor(T * cut_frac)
    assert stlr(0, T, lr, cut_frac, ratio) == pytest.approx(lr / ratio)
    assert stlr(cut, T, lr, cut_frac, ratio) == pytest.approx(lr)
    assert stlr(T, T, lr, cut_frac, ratio) == pytest.approx(lr / ratio)
    t = 400  # after the cut: p = 1 - (t - cut) / (cut * (1/cut_frac - 1))
    p = 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    assert stlr(t, T, lr, cut_frac, ratio) == pytest.approx(lr * (1 + p * (ratio - 1)) / ratio)
    assert stlr(50, T, lr) == pytest.approx(lr * (1 + 0.5 * 31) / 32)


def test_other_schedules():
    assert cosine(0, 10, 1.0) == pytest.approx(1.0) and cosine(10, 10, 1.0) == pytest.approx(0.0)
    assert one_cycle(0, 100, 1.0) == pytest.approx(1 / 25)
    assert one_cycle(25, 100, 1.0) == pytest.approx(1.0)
    assert get_schedule("constant")(3, 10, 0.5) == 0.5
    assert set(SCHEDULES) == {"stlr", "one_cycle", "cosine", "constant"}
    with pytest.raises(ValueError, match="schedule"):
        get_schedule("foo")


def test_discriminative_lrs_divide_by_2_6_per_group():
    lrs = discriminative_lrs(0.01, 4)
    assert lrs[-1] == 0.01
    for k in range(4):
        assert lrs[k] == pytest.approx(0.01 / 2.6 ** (3 - k))
    assert discriminative_lrs(0.01, 3, decay=1.0) == [0.01] * 3
