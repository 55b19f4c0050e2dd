"""Label-free per-actor normalisation.

Acted emotion corpora are dominated by who is speaking or moving: one actor's "neutral" voice
can be higher than another's "angry" one. Z-scoring every feature within each actor, using all of
that actor's clips and no labels, removes most of that identity offset.
:class:`ActorStandardiser` does the z-scoring; clips of unknown actors are first grouped into
pseudo-actors by :class:`~emo.models.identity.ActorIdentifier`.

The estimator plumbing it uses lives in :mod:`emo.models._base`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from emo.models._base import Groups, store_params, validate_grouped
from emo.models.splits import Features

__all__ = ["ActorStandardiser"]

METHODS = ("zscore", "rank")

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


class ActorStandardiser(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Z-score (or rank) every feature within each actor (group), without labels.

    The statistics of a group are computed from the clips given to :meth:`transform` (all of that
    actor's clips, training or test), so a new actor is normalised by its own clips. A group with
    fewer than ``min_group_size`` clips falls back to the statistics that group had in :meth:`fit`
    if it was seen there, else to the pooled statistics of the training data. Missing values
    (NaN) are allowed and stay missing; infinite values are refused.

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
    feature_names_in_ : numpy.ndarray
        Column names seen in :meth:`fit` (only when ``X`` is a DataFrame with string columns).

    Notes
    -----
    The output has the container of the input: a DataFrame (same index and columns) for a
    DataFrame, else an array; ``set_output(transform="pandas")`` makes it always a DataFrame.

    ``groups`` is requested by default from scikit-learn meta-estimators when metadata routing
    is enabled (``sklearn.set_config(enable_metadata_routing=True)``): a
    :class:`~sklearn.pipeline.Pipeline` or ``cross_val_score(..., params={"groups": actors})``
    passes the actors of the rows it fits or transforms. ``set_fit_request(groups=False)`` /
    ``set_transform_request(groups=False)`` opt out.

    Examples
    --------
    >>> X = pd.DataFrame({"f": [1.0, 3.0, 10.0, 30.0]})
    >>> scaler = ActorStandardiser(min_group_size=2)
    >>> scaler.fit_transform(X, groups=["a", "a", "b", "b"])["f"].tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """

    # Metadata routing: meta-estimators pass ``groups`` unless told otherwise (see Notes).
    __metadata_request__fit = {"groups": True}
    __metadata_request__transform = {"groups": True}

    def __init__(self, method: str = "zscore", min_group_size: int = 5, eps: float = 1e-6) -> None:
        store_params(self, locals())

    def __sklearn_tags__(self) -> Tags:
        """Scikit-learn tags: missing values are allowed."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Features, y: object = None, groups: Groups = None) -> ActorStandardiser:
        """Learn pooled and per-group statistics (``y`` is ignored: the transform is label-free).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Features (NaN allowed).
        y : ignored
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip (see :func:`~emo.models._base.check_groups`); None makes every
            clip its own group.

        Returns
        -------
        ActorStandardiser
            ``self``.

        Raises
        ------
        ValueError
            Unknown ``method``, invalid ``X`` or ``groups``.
        """
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        values, labels, _ = validate_grouped(self, X, groups, reset=True)
        pooled_mean, pooled_std, _ = _group_stats(values, np.zeros(len(values)))[0]
        self.mean_, self.scale_ = np.nan_to_num(pooled_mean), np.nan_to_num(pooled_std)
        self.reference_ = np.sort(values, axis=0)  # NaN sort last
        stats = _group_stats(values, labels)
        self.group_stats_ = {g: s for g, s in stats.items() if s[2] >= self.min_group_size}
        return self

    def transform(self, X: Features, groups: Groups = None) -> Features:
        """Normalise each group of clips with its own statistics (or the fallbacks above).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Features, columns as in :meth:`fit`; NaN stays NaN.
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip; None makes every clip its own group (fallback statistics).

        Returns
        -------
        pandas.DataFrame or numpy.ndarray of shape (n_clips, n_features)
            Normalised features; a DataFrame (index and columns of ``X``) when ``X`` is one.
        """
        check_is_fitted(self)
        values, labels, _ = validate_grouped(self, X, groups, reset=False)
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
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=X.columns)
        return out

    def _rank(self, block: np.ndarray, own: bool) -> np.ndarray:
        """Percentile rank of each value within ``block`` (``own``) or within the training data:
        (values below + values up to it) / (2 x values), NaN staying NaN."""
        if own:
            valid = np.maximum((~np.isnan(block)).sum(axis=0), 1)
            ranks = rankdata(block, axis=0, method="average", nan_policy="omit")
            return (ranks - 0.5) / valid
        reference = self.reference_  # NaN never compares below or equal
        valid = (~np.isnan(reference)).sum(axis=0)
        out = np.full_like(block, np.nan)
        for i, row in enumerate(block):
            below = (reference < row).sum(axis=0)
            upto = (reference <= row).sum(axis=0)
            out[i] = np.where(np.isnan(row) | (valid == 0), np.nan,
                              (below + upto) / (2.0 * np.maximum(valid, 1)))
        return out

    def fit_transform(self, X: Features, y: object = None, groups: Groups = None) -> Features:
        """Fit on ``X`` and return it normalised (see :meth:`fit` and :meth:`transform`)."""
        return self.fit(X, y, groups=groups).transform(X, groups=groups)

