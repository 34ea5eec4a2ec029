"""Does augmentation stay inside its class? The embedding check of Shi et al. (2022), Figure 2.

:func:`augmentation_quality` projects the embeddings of original and generated rows to 2-D
(t-SNE or PCA), draws one colour per class (originals as dots, generated rows as ``x``) and
summarises the picture with numbers per class: how close each generated row stays to its source
row, whether generated rows sit as close to their class centroid as the originals do, and how
often the nearest original of a generated row belongs to the same class.

All similarities are cosine, and the projection is computed on L2-normalised rows, so the plot
and the numbers use the same geometry.

References:
    Shi et al. (2022). Figure 2: t-SNE of original and augmented text embeddings per class.
    Proceedings of the LIDTA workshop (Learning with Imbalanced Domains), PMLR 183.
    van der Maaten, Hinton (2008). Visualizing Data using t-SNE. JMLR 9.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from longtail.errors import LongtailError

__all__ = ["AugmentationQuality", "augmentation_quality"]

METHODS = ("tsne", "pca")
MIN_TSNE_POINTS = 5  # below this t-SNE's neighbourhoods are meaningless: fall back to PCA
MAX_LEGEND_CLASSES = 20
SERIAL_TSNE_POINTS = 500  # t-SNE on fewer points runs on one thread
_CHUNK = 1024  # generated rows per block of the (m, n) similarity matrix, to bound memory


@dataclass
class AugmentationQuality:
    """Numbers and figure of one :func:`augmentation_quality` call.

    Attributes:
        stats: JSON-serialisable summary: ``method`` (the projection used), ``method_requested``,
            ``fallback`` (why t-SNE was replaced by PCA, or ``None``), ``n_points_plotted``,
            ``overall`` and ``classes`` (one dict per class, see :func:`augmentation_quality`).
        png: The figure as PNG bytes.
    """

    stats: dict[str, Any]
    png: bytes

    def to_json(self) -> dict[str, Any]:
        """The stats only (a copy), ready for ``json.dumps``."""
        return copy.deepcopy(self.stats)


def augmentation_quality(
    original: np.ndarray,
    original_groups: np.ndarray,
    augmented: np.ndarray,
    augmented_groups: np.ndarray,
    source_index: np.ndarray,
    label_names: Sequence[str],
    *,
    method: str = "tsne",
    max_points: int = 1500,
    seed: int = 0,
) -> AugmentationQuality:
    """Plot original vs generated embeddings per class in 2-D and summarise them.

    Per class (and ``overall``, pooled over rows) the stats hold ``n_original``,
    ``n_augmented``, ``n_with_source`` (generated rows whose source is among ``original``),
    ``cosine_to_source`` (mean cosine of a generated row to its source row),
    ``cosine_to_centroid_augmented`` and ``cosine_to_centroid_original`` (mean cosine of the
    generated, resp. original, rows to the centroid of the class's *original* rows: generated rows
    inside the class score about as high as the originals), ``nearest_original_same_class``
    (share of generated rows whose nearest original, by cosine, has the same class) and
    ``nearest_original_is_source`` (share, among rows with a source, whose nearest original is
    their own source: near 1 means near-duplicates). A ratio with nothing to average is ``None``.

    Above ``max_points`` rows a seeded subsample is plotted, stratified by class and by
    original/generated; the stats always use every row. The result is deterministic for a seed.

    Args:
        original: ``(n, H)`` embeddings of the original training rows (``n >= 1``).
        original_groups: ``(n,)`` class (or group) index per original row.
        augmented: ``(m, H)`` embeddings of the generated rows (``m`` may be 0).
        augmented_groups: ``(m,)`` class index per generated row.
        source_index: ``(m,)`` row of ``original`` each generated row came from, ``-1`` if the
            source is not among ``original``.
        label_names: Name per class index; every index in the groups must be below its length.
        method: ``"tsne"`` (scikit-learn, ``init="pca"``) or ``"pca"`` (SVD on centred rows).
        max_points: Most points drawn.
        seed: Seed for the subsample and for t-SNE.

    Returns:
        An :class:`AugmentationQuality` with the stats and the PNG.

    Raises:
        LongtailError: For an unknown method, mismatched shapes, group or source indices out of
            range, non-finite embeddings or ``max_points < 1``.

    References:
        Shi et al. (2022). LIDTA workshop, PMLR 183, Figure 2.
        van der Maaten, Hinton (2008). Visualizing Data using t-SNE. JMLR 9.
    """
    if method not in METHODS:
        raise LongtailError(f"unknown projection method {method!r}; valid methods: tsne, pca")
    if int(max_points) < 1:
        raise LongtailError(f"max_points must be >= 1, got {max_points!r}")
    names = [str(name) for name in label_names]
    orig, orig_g, aug, aug_g, src = _validate(
        original, original_groups, augmented, augmented_groups, source_index, len(names)
    )
    keep_o, keep_a = _subsample(orig_g, aug_g, int(max_points), seed)
    points = _unit(np.concatenate([orig[keep_o], aug[keep_a]]))
    coords, used, fallback = _project(points, method, seed)
    stats: dict[str, Any] = {
        "method": used,
        "method_requested": method,
        "fallback": fallback,
        "seed": int(seed),
        "max_points": int(max_points),
        "n_points_plotted": len(points),
        "n_original_plotted": len(keep_o),
        "n_augmented_plotted": len(keep_a),
        **_similarity_stats(orig, orig_g, aug, aug_g, src, names),
    }
    split = len(keep_o)
    png = _render(
        coords[:split], orig_g[keep_o], coords[split:], aug_g[keep_a], names, used, fallback
    )
    return AugmentationQuality(stats=stats, png=png)


def _validate(
    original: Any, original_groups: Any, augmented: Any, augmented_groups: Any, source: Any, k: int
) -> tuple[np.ndarray, ...]:
    orig = _matrix(original, "original")
    if len(orig) == 0:
        raise LongtailError("original has no rows; pass the embeddings of the training rows")
    aug = np.asarray(augmented, dtype=np.float64)
    if aug.size == 0:
        aug = aug.reshape(0, orig.shape[1])
    aug = _matrix(aug, "augmented")
    if aug.shape[1] != orig.shape[1]:
        raise LongtailError(
            f"augmented has width {aug.shape[1]} but original has width {orig.shape[1]}; "
            "embed both with the same encoder"
        )
    orig_g = _indices(original_groups, len(orig), "original_groups", "original")
    aug_g = _indices(augmented_groups, len(aug), "augmented_groups", "augmented")
    src = _indices(source, len(aug), "source_index", "augmented")
    for arg, groups in (("original_groups", orig_g), ("augmented_groups", aug_g)):
        if len(groups) and (groups.min() < 0 or groups.max() >= k):
            raise LongtailError(
                f"{arg} holds indices outside 0..{k - 1}; pass one label_names entry per class"
            )
    if len(src) and (src.min() < -1 or src.max() >= len(orig)):
        raise LongtailError(
            f"source_index must be in -1..{len(orig) - 1} (a row of original, or -1 for none)"
        )
    return orig, orig_g, aug, aug_g, src


def _matrix(values: Any, arg: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise LongtailError(f"{arg} must be a numeric (rows, width) array: {err}") from None
    if array.ndim != 2 or array.shape[1] < 1:
        raise LongtailError(f"{arg} must be a 2-D (rows, width) array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise LongtailError(f"{arg} contains NaN or infinite values")
    return array


def _indices(values: Any, n: int, arg: str, rows_of: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or len(array) != n:
        raise LongtailError(f"{arg} has shape {array.shape} but {rows_of} has {n} rows")
    if array.size and not (
        np.issubdtype(array.dtype, np.integer)
        or (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)))
    ):
        raise LongtailError(f"{arg} must hold integer indices, got dtype {array.dtype}")
    return array.astype(np.int64)


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero, so their cosine to anything is 0)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _similarity_stats(
    orig: np.ndarray,
    orig_g: np.ndarray,
    aug: np.ndarray,
    aug_g: np.ndarray,
    src: np.ndarray,
    names: list[str],
) -> dict[str, Any]:
    orig_u, aug_u = _unit(orig), _unit(aug)
    has_src = src >= 0
    to_source = np.full(len(aug), np.nan)
    to_source[has_src] = np.einsum("ij,ij->i", aug_u[has_src], orig_u[src[has_src]])
    nearest = np.empty(len(aug), dtype=np.int64)
    for start in range(0, len(aug), _CHUNK):
        nearest[start : start + _CHUNK] = np.argmax(aug_u[start : start + _CHUNK] @ orig_u.T, 1)
    same_class = orig_g[nearest] == aug_g
    is_source = nearest == src
    aug_to_centroid = np.full(len(aug), np.nan)
    orig_to_centroid = np.empty(len(orig))
    for g in np.unique(orig_g):
        centroid = _unit(orig[orig_g == g].mean(axis=0, keepdims=True))[0]
        orig_to_centroid[orig_g == g] = orig_u[orig_g == g] @ centroid
        aug_to_centroid[aug_g == g] = aug_u[aug_g == g] @ centroid

    def summary(o_mask: np.ndarray, a_mask: np.ndarray) -> dict[str, Any]:
        return {
            "n_original": int(o_mask.sum()),
            "n_augmented": int(a_mask.sum()),
            "n_with_source": int((a_mask & has_src).sum()),
            "cosine_to_source": _mean(to_source[a_mask & has_src]),
            "cosine_to_centroid_augmented": _mean(aug_to_centroid[a_mask]),
            "cosine_to_centroid_original": _mean(orig_to_centroid[o_mask]),
            "nearest_original_same_class": _mean(same_class[a_mask]),
            "nearest_original_is_source": _mean(is_source[a_mask & has_src]),
        }

    classes = [
        {"class": name, "index": g, **summary(orig_g == g, aug_g == g)}
        for g, name in enumerate(names)
    ]
    return {
        "overall": summary(np.ones(len(orig), bool), np.ones(len(aug), bool)),
        "classes": classes,
    }


def _mean(values: np.ndarray) -> float | None:
    """Mean of the finite entries as a plain float; ``None`` when there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _subsample(
    orig_g: np.ndarray, aug_g: np.ndarray, max_points: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices to plot: all rows, or a seeded stratified sample of ``max_points``.

    Strata are (original/generated, class). Each non-empty stratum keeps one row when the budget
    allows, the rest of the budget is shared in proportion to size (largest remainders first).
    """
    if len(orig_g) + len(aug_g) <= max_points:
        return np.arange(len(orig_g)), np.arange(len(aug_g))
    rng = np.random.default_rng(seed)
    strata = [
        (kind, np.flatnonzero(groups == g))
        for kind, groups in enumerate((orig_g, aug_g))
        for g in np.unique(groups)
    ]
    sizes = np.array([len(rows) for _, rows in strata])
    base = (sizes > 0).astype(np.int64) if len(strata) <= max_points else np.zeros_like(sizes)
    budget = max_points - int(base.sum())
    share = budget * (sizes - base) / max(int((sizes - base).sum()), 1)
    quota = base + np.floor(share).astype(np.int64)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    quota[order[: max_points - int(quota.sum())]] += 1
    picked: list[list[int]] = [[], []]
    for (kind, rows), q in zip(strata, quota, strict=True):
        picked[kind] += rng.choice(rows, size=int(q), replace=False).tolist()
    return np.sort(np.array(picked[0], dtype=np.int64)), np.sort(np.array(picked[1], np.int64))


def _project(points: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, str, str | None]:
    """2-D coordinates, the method actually used, and why t-SNE fell back (or ``None``)."""
    if method == "pca":
        return _pca(points), "pca", None
    if len(points) < MIN_TSNE_POINTS:
        reason = f"{len(points)} points, fewer than the {MIN_TSNE_POINTS} t-SNE needs"
        return _pca(points), "pca", reason
    # Identical rows make t-SNE's PCA init divide by zero (and its Barnes-Hut code crash).
    distinct = len(np.unique(points, axis=0))
    if distinct < MIN_TSNE_POINTS:
        reason = f"{distinct} distinct points, fewer than the {MIN_TSNE_POINTS} t-SNE needs"
        return _pca(points), "pca", reason
    if points.shape[1] < 2:
        return _pca(points), "pca", "embeddings have width 1; t-SNE's PCA init needs 2"
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = max(2.0, min(30.0, (len(points) - 1) / 3))
    tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed)
    # Small inputs: OpenMP's thread start-up costs more than it saves, and much more on a busy
    # machine. The Barnes-Hut gradient is per point, so the result does not depend on threads.
    threads = 1 if len(points) < SERIAL_TSNE_POINTS else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        return tsne.fit_transform(points).astype(np.float64), "tsne", None


def _pca(points: np.ndarray) -> np.ndarray:
    """First two principal components by SVD of the centred rows, signs fixed (zeros if rank < 2)."""
    centred = points - points.mean(axis=0)
    coords = np.zeros((len(points), 2))
    if len(points) < 2:
        return coords
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    k = min(2, len(s))
    scores = u[:, :k] * s[:k]
    signs = np.sign(scores[np.argmax(np.abs(scores), axis=0), np.arange(k)])
    coords[:, :k] = scores * np.where(signs == 0, 1.0, signs)
    return coords


def _render(
    orig_xy: np.ndarray,
    orig_g: np.ndarray,
    aug_xy: np.ndarray,
    aug_g: np.ndarray,
    names: list[str],
    used: str,
    fallback: str | None,
) -> bytes:
    """The PNG: a fresh Agg ``Figure`` (no pyplot state), one colour per class."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    palette = colormaps["tab10" if len(names) <= 10 else "tab20"].colors
    fig = Figure(figsize=(7.5, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shown = [int(g) for g in np.unique(np.concatenate([orig_g, aug_g]))]
    handles = []
    for g in shown:
        colour = palette[g % len(palette)]
        o, a = orig_xy[orig_g == g], aug_xy[aug_g == g]
        if len(o):
            ax.scatter(o[:, 0], o[:, 1], s=10, marker="o", color=colour, alpha=0.6, linewidths=0)
        if len(a):
            ax.scatter(a[:, 0], a[:, 1], s=22, marker="x", color=colour, alpha=0.9, linewidths=1)
        if len(handles) < MAX_LEGEND_CLASSES:
            handles.append(Line2D([], [], ls="", marker="s", color=colour, label=names[g]))
    if len(shown) > MAX_LEGEND_CLASSES:
        more = len(shown) - MAX_LEGEND_CLASSES
        handles.append(Line2D([], [], ls="", label=f"… ({more} more classes)"))
    handles += [
        Line2D([], [], ls="", marker="o", color="0.4", markersize=4, label="original"),
        Line2D([], [], ls="", marker="x", color="0.4", label="augmented"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    label = {"tsne": "t-SNE", "pca": "PCA"}[used]
    if fallback:
        label += " (t-SNE fell back)"
    ax.set_title(f"Original vs augmented embeddings, {label}\nShi et al. (2022) Fig. 2 check")
    ax.set_xticks([])
    ax.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()
