"""augmentation_quality: stats vs a direct NumPy computation, the PNG, subsampling, errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from longtail.augment.quality import AugmentationQuality, augmentation_quality
from longtail.errors import LongtailError

NAMES = ["alpha", "beta", "gamma"]


def _originals(per_class: int = 12, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated classes: class g sits around the axis e_g (plus small noise)."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(3), per_class)
    x = np.eye(dim)[groups] * 5.0 + rng.normal(scale=0.3, size=(len(groups), dim))
    return x, groups


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _near_copies(x: np.ndarray, groups: np.ndarray, source: np.ndarray):
    rng = np.random.default_rng(1)
    aug = x[source] + rng.normal(scale=1e-4, size=(len(source), x.shape[1]))
    return aug, groups[source]


def _reference(x, g, aug, ag, src, cls):
    """The stats of one class, computed directly."""
    xu, au = _unit(x), _unit(aug)
    a = ag == cls
    centroid = x[g == cls].mean(axis=0)
    centroid /= np.linalg.norm(centroid)
    nearest = np.argmax(au @ xu.T, axis=1)
    with_src = a & (src >= 0)
    return {
        "cosine_to_source": np.mean(np.sum(au[with_src] * xu[src[with_src]], axis=1)),
        "cosine_to_centroid_augmented": np.mean(au[a] @ centroid),
        "cosine_to_centroid_original": np.mean(xu[g == cls] @ centroid),
        "nearest_original_same_class": np.mean(g[nearest[a]] == cls),
    }


def test_near_copies_match_numpy_reference() -> None:
    x, g = _originals()
    src = np.array([0, 1, 2, 12, 13, 14, 15, 30])  # classes 0, 0, 0, 1, 1, 1, 1, 2
    aug, ag = _near_copies(x, g, src)
    result = augmentation_quality(x, g, aug, ag, src, NAMES, method="pca")
    assert isinstance(result, AugmentationQuality)
    for cls, entry in enumerate(result.stats["classes"]):
        assert entry["class"] == NAMES[cls]
        assert entry["n_original"] == 12
        assert entry["n_augmented"] == int((ag == cls).sum())
        for key, value in _reference(x, g, aug, ag, src, cls).items():
            assert entry[key] == pytest.approx(value, abs=1e-12), key
        assert entry["cosine_to_source"] == pytest.approx(1.0, abs=1e-6)
        assert entry["nearest_original_same_class"] == 1.0
        assert entry["nearest_original_is_source"] == 1.0
    overall = result.stats["overall"]
    assert (overall["n_original"], overall["n_augmented"], overall["n_with_source"]) == (36, 8, 8)
    assert overall["nearest_original_same_class"] == 1.0
    assert overall["cosine_to_source"] == pytest.approx(1.0, abs=1e-6)


def test_rows_at_another_class_centroid_are_flagged() -> None:
    x, g = _originals()
    centroid_of_2 = x[g == 2].mean(axis=0)
    aug = np.repeat(centroid_of_2[None], 4, axis=0)
    ag = np.zeros(4, dtype=int)  # labelled class 0 but placed in class 2
    src = np.array([0, 1, 2, 3])
    entry = augmentation_quality(x, g, aug, ag, src, NAMES, method="pca").stats["classes"][0]
    ref = _reference(x, g, aug, ag, src, 0)
    assert entry["nearest_original_same_class"] == 0.0
    assert entry["nearest_original_is_source"] == 0.0
    assert entry["cosine_to_centroid_augmented"] == pytest.approx(
        ref["cosine_to_centroid_augmented"]
    )
    assert entry["cosine_to_centroid_augmented"] < 0.2 < 0.9 < entry["cosine_to_centroid_original"]
    assert entry["cosine_to_source"] == pytest.approx(ref["cosine_to_source"])


def test_classes_without_generated_rows_and_unknown_sources() -> None:
    x, g = _originals()
    aug, ag = _near_copies(x, g, np.array([0, 1]))
    src = np.array([-1, 1])  # the first generated row's source is not among the originals
    stats = augmentation_quality(x, g, aug, ag, src, NAMES, method="pca").stats
    first, empty = stats["classes"][0], stats["classes"][2]
    assert first["n_augmented"] == 2 and first["n_with_source"] == 1
    assert first["nearest_original_is_source"] == 1.0
    assert empty["n_augmented"] == 0 and empty["n_original"] == 12
    for key in ("cosine_to_source", "cosine_to_centroid_augmented", "nearest_original_same_class"):
        assert empty[key] is None
    assert empty["cosine_to_centroid_original"] is not None


def test_png_decodes_to_a_picture() -> None:
    import matplotlib.image

    x, g = _originals()
    aug, ag = _near_copies(x, g, np.arange(0, 36, 3))
    result = augmentation_quality(x, g, aug, ag, np.arange(0, 36, 3), NAMES, method="pca")
    assert result.png.startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(io.BytesIO(result.png), format="png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image[..., :3]) > 0.5


def test_does_not_touch_pyplot_figures() -> None:
    import matplotlib.pyplot as plt

    x, g = _originals()
    before = plt.get_fignums()
    augmentation_quality(x, g, x[:3], g[:3], np.arange(3), NAMES, method="pca")
    assert plt.get_fignums() == before


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_both_methods_run_and_are_deterministic(method: str) -> None:
    x, g = _originals()
    src = np.arange(0, 36, 2)
    aug, ag = _near_copies(x, g, src)
    first = augmentation_quality(x, g, aug, ag, src, NAMES, method=method, seed=3)
    again = augmentation_quality(x, g, aug, ag, src, NAMES, method=method, seed=3)
    assert first.stats["method"] == method and first.stats["fallback"] is None
    assert first.stats["n_points_plotted"] == 36 + 18
    assert first.to_json() == again.to_json()
    assert first.png == again.png
    json.dumps(first.to_json())


def test_tsne_falls_back_to_pca_for_tiny_inputs() -> None:
    x, g = _originals(per_class=1)
    stats = augmentation_quality(x, g, x[:1], g[:1], np.array([0]), NAMES).stats
    assert stats["method_requested"] == "tsne"
    assert stats["method"] == "pca"
    assert "fewer than" in stats["fallback"]
    assert stats["n_points_plotted"] == 4


def test_tsne_falls_back_when_points_are_identical() -> None:
    x, g = np.ones((12, 4)), np.arange(12) % 3
    stats = augmentation_quality(x, g, x[:3], g[:3], np.arange(3), NAMES).stats
    assert stats["method"] == "pca"
    assert "1 distinct points" in stats["fallback"]
    assert stats["overall"]["cosine_to_source"] == pytest.approx(1.0)


def test_subsampling_caps_points_keeps_every_stratum_and_full_stats() -> None:
    x, g = _originals(per_class=60)
    src = np.arange(0, 180, 2)
    aug, ag = _near_copies(x, g, src)
    result = augmentation_quality(x, g, aug, ag, src, NAMES, method="pca", max_points=40, seed=5)
    stats = result.stats
    assert stats["n_points_plotted"] == 40
    assert stats["n_original_plotted"] + stats["n_augmented_plotted"] == 40
    assert stats["n_original_plotted"] == pytest.approx(40 * 180 / 270, abs=2)
    assert stats["overall"]["n_original"] == 180 and stats["overall"]["n_augmented"] == 90
    again = augmentation_quality(x, g, aug, ag, src, NAMES, method="pca", max_points=40, seed=5)
    assert again.png == result.png
    # A budget smaller than the number of strata still caps the points.
    tiny = augmentation_quality(x, g, aug, ag, src, NAMES, method="pca", max_points=4)
    assert tiny.stats["n_points_plotted"] == 4


def test_zero_generated_rows() -> None:
    x, g = _originals()
    result = augmentation_quality(
        x, g, np.empty((0, x.shape[1])), np.empty(0, int), np.empty(0, int), NAMES, method="pca"
    )
    overall = result.stats["overall"]
    assert overall["n_augmented"] == 0 and overall["nearest_original_same_class"] is None
    assert result.stats["n_augmented_plotted"] == 0 and result.stats["n_points_plotted"] == 36
    assert result.png.startswith(b"\x89PNG")
    # A bare empty list is accepted too.
    augmentation_quality(x, g, [], [], [], NAMES, method="pca")


def test_many_classes_legend_is_capped() -> None:
    rng = np.random.default_rng(0)
    g = np.arange(25).repeat(2)
    x = rng.normal(size=(50, 6))
    names = [f"class{i}" for i in range(25)]
    result = augmentation_quality(x, g, x[:5] + 0.01, g[:5], np.arange(5), names, method="pca")
    assert len(result.stats["classes"]) == 25
    assert result.png.startswith(b"\x89PNG")


def test_unknown_method_lists_both() -> None:
    x, g = _originals()
    with pytest.raises(LongtailError, match="tsne, pca"):
        augmentation_quality(x, g, x[:2], g[:2], np.arange(2), NAMES, method="umap")


@pytest.mark.parametrize(
    ("change", "argument"),
    [
        ({"original_groups": np.zeros(5, int)}, "original_groups"),
        ({"augmented_groups": np.zeros(5, int)}, "augmented_groups"),
        ({"source_index": np.zeros(5, int)}, "source_index"),
        ({"augmented": np.zeros((2, 3))}, "augmented has width 3"),
        ({"original": np.zeros(36)}, "original must be a 2-D"),
        ({"original_groups": np.full(36, 3)}, "original_groups holds indices"),
        ({"source_index": np.array([0, 36])}, "source_index must be in"),
        ({"source_index": np.array([0.5, 1.0])}, "source_index must hold integer"),
        ({"augmented": np.full((2, 8), np.nan)}, "augmented contains NaN"),
        ({"max_points": 0}, "max_points"),
    ],
)
def test_bad_inputs_raise(change: dict, argument: str) -> None:
    x, g = _originals()
    kwargs = {
        "original": x,
        "original_groups": g,
        "augmented": x[:2],
        "augmented_groups": g[:2],
        "source_index": np.arange(2),
        "label_names": NAMES,
        **change,
    }
    with pytest.raises(LongtailError, match=argument):
        augmentation_quality(**kwargs)
