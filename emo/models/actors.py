"""Label-free per-actor normalisation and actor inference.

Acted emotion corpora are dominated by who is speaking or moving: one actor's "neutral" voice
can be higher than another's "angry" one. Z-scoring every feature within each actor, using all of
that actor's clips and no labels, removes most of that identity offset.
:class:`ActorStandardiser` does the z-scoring; :func:`infer_actors` groups clips of unknown
actors into pseudo-actors from identity cues so the same normalisation can be used on them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import AgglomerativeClustering
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import silhouette_score
from sklearn.utils.validation import check_is_fitted

__all__ = ["ActorStandardiser", "group_labels", "infer_actors"]

METHODS = ("zscore", "rank")


def group_labels(index: pd.Index, groups: pd.Series | np.ndarray | None) -> np.ndarray:
    """Return one group label (str) per row, each row its own group when ``groups`` is None.

    Parameters
    ----------
    index
        Row index of the table the labels are for.
    groups
        Group of each row: a Series (aligned on ``index`` by label; rows it lacks become their own
        group), an array in row order, or None.

    Returns
    -------
    numpy.ndarray
        Object array of strings, one per row.
    """
    own = np.array([f"__clip__{i}" for i in index], dtype=object)
    if groups is None:
        return own
    if isinstance(groups, pd.Series):
        aligned = groups.reindex(index)
        return np.where(aligned.isna(), own, aligned.astype(str).to_numpy(dtype=object))
    return np.asarray(groups).astype(str).astype(object)


def _group_stats(
    values: np.ndarray, labels: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Per-group NaN-aware mean, standard deviation and clip count of each column."""
    stats = {}
    with warnings.catch_warnings():  # a column all NaN in a group: its stats are NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        for label in pd.unique(labels):
            block = values[labels == label]
            stats[label] = (np.nanmean(block, axis=0), np.nanstd(block, axis=0), len(block))
    return stats


class ActorStandardiser(TransformerMixin, BaseEstimator):
    """Z-score every feature within each actor (group), without labels.

    The statistics of a group are computed from the clips given to :meth:`transform` (all of that
    actor's clips, training or test), so a new actor is normalised by its own clips. A group with
    fewer than ``min_group_size`` clips falls back to the statistics that group had in :meth:`fit`
    if it was seen there, else to the pooled statistics of the training data.

    Parameters
    ----------
    method : {"zscore", "rank"}, default="zscore"
        ``"zscore"`` subtracts the group mean and divides by the group standard deviation;
        ``"rank"`` replaces each value by its mid-percentile rank within the group (robust to
        outliers; small groups are ranked within the training data instead).
    min_group_size : int, default=5
        Smallest number of clips for a group to be normalised by its own statistics.
    eps : float, default=1e-6
        Standard deviations below this count as zero (the column is only centred).

    Attributes
    ----------
    mean_, scale_ : numpy.ndarray
        Pooled mean and standard deviation of the training data (fallback statistics).
    reference_ : numpy.ndarray
        Training values sorted per column (fallback reference of ``"rank"``).
    group_stats_ : dict
        Group -> (mean, std, clip count) of the groups seen in :meth:`fit` with at least
        ``min_group_size`` clips.
    n_features_in_ : int
        Number of columns.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"f": [1.0, 3.0, 10.0, 30.0]})
    >>> scaler = ActorStandardiser(min_group_size=2)
    >>> scaler.fit_transform(X, groups=["a", "a", "b", "b"])["f"].tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """

    def __init__(self, method: str = "zscore", min_group_size: int = 5, eps: float = 1e-6) -> None:
        self.method = method
        self.min_group_size = min_group_size
        self.eps = eps

    def fit(self, X: pd.DataFrame, y: object = None, groups: object = None) -> ActorStandardiser:
        """Learn pooled and per-group statistics (``y`` is ignored: the transform is label-free).

        Parameters
        ----------
        X : pandas.DataFrame or array of shape (n_clips, n_features)
            Features.
        y : ignored
        groups : pandas.Series, array-like or None
            Actor of each clip; None makes every clip its own group.

        Returns
        -------
        ActorStandardiser
            ``self``.
        """
        values = np.asarray(X, dtype=float)
        self.n_features_in_ = values.shape[1]
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(values))
        pooled_mean, pooled_std, _ = _group_stats(values, np.zeros(len(values)))[0]
        self.mean_, self.scale_ = np.nan_to_num(pooled_mean), np.nan_to_num(pooled_std)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        self.reference_ = np.sort(values, axis=0)  # NaN sort last
        stats = _group_stats(values, group_labels(index, groups))
        self.group_stats_ = {g: s for g, s in stats.items() if s[2] >= self.min_group_size}
        return self

    def transform(self, X: pd.DataFrame, groups: object = None) -> pd.DataFrame:
        """Z-score each group of clips with its own statistics (or the fallbacks described above).

        Parameters
        ----------
        X : pandas.DataFrame or array of shape (n_clips, n_features)
            Features; NaN stays NaN.
        groups : pandas.Series, array-like or None
            Actor of each clip; None makes every clip its own group (pooled statistics).

        Returns
        -------
        pandas.DataFrame
            Normalised features, same index and columns as ``X``.
        """
        check_is_fitted(self, "group_stats_")
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float))
        values = frame.to_numpy(dtype=float)
        labels = group_labels(frame.index, groups)
        out = np.empty_like(values)
        for label, (mean, std, count) in _group_stats(values, labels).items():
            rows = labels == label
            if self.method == "rank":
                out[rows] = self._rank(values[rows], count >= self.min_group_size)
                continue
            if count < self.min_group_size:
                mean, std, _ = self.group_stats_.get(label, (self.mean_, self.scale_, 0))
            std = np.where(np.nan_to_num(std) > self.eps, std, 1.0)
            out[rows] = (values[rows] - np.nan_to_num(mean)) / std
        return pd.DataFrame(out, index=frame.index, columns=frame.columns)

    def _rank(self, block: np.ndarray, own: bool) -> np.ndarray:
        """Percentile rank of each value within ``block`` (``own``) or within the training data."""
        out = np.full_like(block, np.nan)
        for j in range(block.shape[1]):
            reference = block[:, j] if own else self.reference_[:, j]
            reference = np.sort(reference[~np.isnan(reference)])
            valid = ~np.isnan(block[:, j])
            if len(reference):
                below = np.searchsorted(reference, block[valid, j], side="left")
                upto = np.searchsorted(reference, block[valid, j], side="right")
                out[valid, j] = (below + upto) / (2.0 * len(reference))
        return out

    def fit_transform(
        self, X: pd.DataFrame, y: object = None, groups: object = None
    ) -> pd.DataFrame:
        """Fit on ``X`` and return it normalised (see :meth:`fit` and :meth:`transform`)."""
        return self.fit(X, y, groups).transform(X, groups)


def _standardise(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Impute NaN by the reference median, then z-score by the reference mean and deviation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nan_to_num(np.nanmedian(reference, axis=0))
        mean = np.nan_to_num(np.nanmean(reference, axis=0))
        std = np.nan_to_num(np.nanstd(reference, axis=0))
    values = np.where(np.isnan(values), median, values)
    return (values - mean) / np.where(std > 0, std, 1.0)


def infer_actors(
    table: pd.DataFrame,
    n_actors: int | None = None,
    *,
    reference: pd.DataFrame | None = None,
    reference_groups: pd.Series | None = None,
    max_actors: int = 30,
) -> pd.Series:
    """Cluster clips into pseudo-actors from emotion-independent identity cues.

    Pass identity-cue columns (e.g. voice timbre and formant statistics, bone lengths,
    face-shape ratios). Columns are z-scored (missing values imputed by the median) and
    clustered by Ward agglomerative clustering; when ``n_actors`` is None the number of clusters
    maximising the silhouette score is chosen between 2 and ``max_actors``.

    Cues of acted clips still vary with the emotion. Given clips of *known* actors
    (``reference`` and ``reference_groups``, e.g. the training set), the cues are first projected
    on the directions that separate those actors best relative to the variation within each
    actor (linear discriminant analysis with actors as classes, shrinkage chosen by
    Ledoit-Wolf), which makes the clusters follow identity rather than emotion. Labels are never
    used.

    Parameters
    ----------
    table : pandas.DataFrame
        Identity cues, indexed by clip id.
    n_actors : int or None, default=None
        Number of pseudo-actors; None chooses it by silhouette.
    reference : pandas.DataFrame or None, default=None
        The same cue columns for clips of known actors.
    reference_groups : pandas.Series or None, default=None
        Actor of each ``reference`` clip (aligned on its index); needed with ``reference``.
    max_actors : int, default=30
        Largest number tried when ``n_actors`` is None.

    Returns
    -------
    pandas.Series
        Pseudo-actor id per clip (``"pseudo_00"``, ...), indexed like ``table``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> centres = np.repeat([[0.0, 0.0], [5.0, 5.0]], 10, axis=0)
    >>> cues = pd.DataFrame(centres + rng.normal(size=(20, 2)))
    >>> infer_actors(cues).nunique()
    2
    """
    if reference is None:
        values = table.to_numpy(dtype=float)
        values = _standardise(values, values)
    else:
        if reference_groups is None:
            raise ValueError("reference_groups is needed with reference")
        identifier = ActorIdentifier().fit(reference.reindex(columns=table.columns),
                                           reference_groups)
        values = identifier.transform(table)
    return _cluster(values, table.index, n_actors, max_actors)


def _cluster(values: np.ndarray, index: pd.Index, n_actors: int | None,
             max_actors: int) -> pd.Series:
    """Ward clusters of rows; their number by silhouette when ``n_actors`` is None."""
    n_clips = len(values)
    if n_clips < 3:
        return pd.Series("pseudo_00", index=index, name="actor")
    if n_actors is None:
        candidates = range(2, min(max_actors, n_clips - 1) + 1)
        fits = {k: AgglomerativeClustering(n_clusters=k).fit_predict(values) for k in candidates}
        n_actors = max(fits, key=lambda k: silhouette_score(values, fits[k]))
        labels = fits[n_actors]
    else:
        labels = AgglomerativeClustering(n_clusters=min(n_actors, n_clips)).fit_predict(values)
    return pd.Series([f"pseudo_{k:02d}" for k in labels], index=index, name="actor")


class ActorIdentifier(BaseEstimator):
    """Learned identity space: groups clips of unknown actors into pseudo-actors.

    :meth:`fit` learns, on clips of known actors, the directions that separate actors best
    relative to the variation within each actor (shrinkage LDA with actors as classes; labels
    are never used), so that emotion moves clips little in that space. :meth:`predict`
    projects new clips and clusters them (see :func:`infer_actors`). ``emo fit`` stores one
    in the bundle; ``emo predict`` uses it to normalise test clips that carry no actor
    (challenge ``frames_TEST<n>``) per pseudo-actor.

    Parameters
    ----------
    max_actors : int, default=30
        Largest number of pseudo-actors tried.
    min_clips : int, default=14
        Fewer unknown-actor clips than this are not clustered (each stays its own group).

    Attributes
    ----------
    columns_ : list of str
        Feature columns, in order.
    reference_ : numpy.ndarray
        Imputation and scaling statistics (median, mean, std) of the training clips.
    lda_ : LinearDiscriminantAnalysis
        The identity projection.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> actor = np.repeat([0, 1, 2, 3], 20)
    >>> X = pd.DataFrame(rng.normal(size=(80, 3)) + actor[:, None] * [3, 0, 0])
    >>> ident = ActorIdentifier().fit(X, pd.Series(actor))
    >>> new = pd.DataFrame(rng.normal(size=(30, 3)) + np.repeat([10, 20], 15)[:, None] * [1, 0, 0])
    >>> ident.predict(new).nunique()
    2
    """

    def __init__(self, max_actors: int = 30, min_clips: int = 14) -> None:
        self.max_actors = max_actors
        self.min_clips = min_clips

    def fit(self, X: pd.DataFrame, groups: pd.Series) -> ActorIdentifier:
        """Learn the identity projection from clips of known actors."""
        values = X.to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            stats = [np.nanmedian(values, axis=0), np.nanmean(values, axis=0),
                     np.nanstd(values, axis=0)]
        self.columns_ = list(X.columns)
        self.reference_ = np.nan_to_num(np.stack(stats))
        self.lda_ = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto")
        self.lda_.fit(self._scaled(values), pd.Series(groups).reindex(X.index).astype(str))
        return self

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        median, mean, std = self.reference_
        values = np.where(np.isnan(values), median, values)
        return (values - mean) / np.where(std > 0, std, 1.0)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Project clips into the identity space."""
        check_is_fitted(self, "lda_")
        return self.lda_.transform(self._scaled(X.reindex(columns=self.columns_)
                                                .to_numpy(dtype=float)))

    def predict(self, X: pd.DataFrame, n_actors: int | None = None) -> pd.Series:
        """Pseudo-actor of each clip (``"pseudo_00"``...), indexed like ``X``."""
        if len(X) < self.min_clips:
            return pd.Series([f"?{i}" for i in X.index], index=X.index, name="actor")
        return _cluster(self.transform(X), X.index, n_actors, self.max_actors)
