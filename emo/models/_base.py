"""Private base of emo's estimators: the plumbing every estimator shares.

The actor of each clip (``groups``) travels with the data: :func:`check_groups` and
:func:`validate_grouped` check it, and :class:`GroupedClassifierMixin` gives emo's classifiers
scikit-learn's metadata routing of ``groups`` (so cross-validation folds follow actors).
:func:`store_params` is the ``__init__`` of every emo estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from emo.models.splits import Features, Labels, align_target

__all__ = ["GroupedClassifierMixin", "Groups", "check_groups", "group_labels", "own_group",
           "store_params", "validate_grouped"]


def own_group(clip_id: object) -> str:
    """The group of a clip without an actor that is normalised alone: ``?<id>`` (as
    :attr:`emo.data.clip.Clip.group` spells it; ``?`` starts every stand-in for an unknown
    actor, the pooled :data:`~emo.models.bundle.UNKNOWN_ACTORS` included).

    Examples
    --------
    >>> own_group("c07")
    '?c07'
    """
    return f"?{clip_id}"

#: Actor groups as accepted by the estimators: a Series, an array-like or None.
Groups = pd.Series | np.ndarray | list | None


def store_params(estimator: BaseEstimator, arguments: dict[str, object]) -> None:
    """Keep an estimator's ``__init__`` arguments as the attributes of the same names.

    Scikit-learn's rule for ``__init__``: store each parameter exactly as given, no validation
    and nothing derived (``fit`` checks them), so that ``get_params``, ``set_params`` and
    ``clone`` see the parameters. Every emo estimator's ``__init__`` is the single call
    ``store_params(self, locals())``.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator being constructed.
    arguments : dict
        ``locals()`` at the start of its ``__init__``: the arguments by name (``self`` is
        skipped).

    Examples
    --------
    >>> class Demo(BaseEstimator):
    ...     def __init__(self, alpha: float = 1.0, n_iter: int = 10) -> None:
    ...         store_params(self, locals())
    >>> Demo(alpha=0.5).get_params()
    {'alpha': 0.5, 'n_iter': 10}
    """
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)


def group_labels(index: pd.Index, groups: Groups) -> np.ndarray:
    """Return one group label (str) per row, each row its own group when ``groups`` is None.

    Parameters
    ----------
    index
        Row index of the table the labels are for.
    groups
        Group of each row: a Series (aligned on ``index`` by label; rows it lacks become their own
        group), an array-like in row order, or None.

    Returns
    -------
    numpy.ndarray
        Object array of strings, one per row.

    Raises
    ------
    ValueError
        If an array-like ``groups`` is not one-dimensional with one entry per row.
    """
    own = np.array([own_group(i) for i in index], dtype=object)
    if groups is None:
        return own
    if isinstance(groups, pd.Series):
        aligned = groups.reindex(index)
        return np.where(aligned.isna(), own, aligned.astype(str).to_numpy(dtype=object))
    values = np.asarray(groups)
    if values.shape != (len(index),):
        raise ValueError(
            f"groups must hold one actor per row of X ({len(index)} rows), got shape "
            f"{values.shape}"
        )
    return values.astype(str).astype(object)


def check_groups(groups: Groups, n_rows: int, index: pd.Index | None = None) -> np.ndarray:
    """Validate ``groups`` for a table of ``n_rows`` rows: one group label (str) per row.

    When the table was a DataFrame (``index`` given) a Series of groups is aligned on its index
    by clip id; otherwise a Series is taken in row order, like an array. Both stay right under
    scikit-learn's cross-validation, which subsets ``X`` and routed ``groups`` by position.

    Parameters
    ----------
    groups
        Actor of each row (see :func:`group_labels`), or None (each row its own group).
    n_rows
        Number of rows of the table.
    index
        Row index of the table when it was a DataFrame, else None.

    Returns
    -------
    numpy.ndarray
        As :func:`group_labels` (which also says what is refused).

    Examples
    --------
    >>> check_groups(pd.Series(["a", "b"], index=[7, 8]), 2).tolist()
    ['a', 'b']
    >>> check_groups(pd.Series(["a", "b"], index=[7, 8]), 2, pd.Index([8, 7])).tolist()
    ['b', 'a']
    """
    if index is None:
        index = pd.RangeIndex(n_rows)
        if isinstance(groups, pd.Series):
            groups = groups.to_numpy()
    return group_labels(index, groups)


def validate_grouped(
    estimator: BaseEstimator,
    X: Features,
    groups: Groups,
    *,
    reset: bool,
    y: object = "no_validation",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate a feature table, its actor groups and (if given) its targets.

    :func:`~sklearn.utils.validation.validate_data` with NaN allowed (not infinity) and float64
    values: with ``reset`` it sets ``n_features_in_`` (and ``feature_names_in_``), else it
    checks them. A pandas ``y`` is first aligned on a pandas ``X``
    (:func:`~emo.models.splits.align_target`); ``groups`` as in :func:`check_groups`.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator the data is for.
    X : pandas.DataFrame or array-like of shape (n_clips, n_features)
        Features.
    groups : pandas.Series, array-like or None
        Actor of each clip.
    reset : bool
        Whether this is ``fit`` (learn the number and names of the features).
    y : object, default="no_validation"
        Targets to validate with ``X``; the default validates none.

    Returns
    -------
    values : numpy.ndarray of shape (n_clips, n_features)
    actors : numpy.ndarray of shape (n_clips,)
        One group label per clip.
    target : numpy.ndarray of shape (n_clips,) or None
        Validated ``y`` (None when not given).
    """
    index = X.index if isinstance(X, pd.DataFrame) else None
    checked = validate_data(estimator, X, align_target(X, y), reset=reset, dtype=np.float64,
                            ensure_all_finite="allow-nan")
    values, target = checked if isinstance(checked, tuple) else (checked, None)
    return values, check_groups(groups, len(values), index), target


class GroupedClassifierMixin(ClassifierMixin):
    """Mixin of emo's classifiers: actor ``groups`` as metadata, NaN allowed, UAR as score.

    The subclass implements ``fit(X, y, groups=None)`` and ``predict_proba(X, groups=None)``,
    validating their inputs with ``_validate_fit`` (which sets the attributes below) and
    ``_validate_predict``; this mixin adds :meth:`predict` and :meth:`score`, the
    ``allow_nan`` tag, and requests ``groups`` by default in ``fit``, ``predict_proba``,
    ``predict`` and ``score`` for scikit-learn's metadata routing: with
    ``sklearn.set_config(enable_metadata_routing=True)``, ``cross_val_score(clf, X, y,
    params={"groups": actors}, cv=GroupKFold())``, ``GridSearchCV`` and ``Pipeline`` pass each
    fold's actors on; ``set_fit_request(groups=False)`` and the like opt out.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels, in the column order of ``predict_proba``.
    n_features_in_ : int
        Number of feature columns.
    feature_names_in_ : numpy.ndarray
        Feature columns seen in ``fit`` (only when ``X`` is a DataFrame with string columns).
    """

    # Metadata routing: meta-estimators pass ``groups`` unless told otherwise.
    __metadata_request__fit = {"groups": True}
    __metadata_request__predict = {"groups": True}
    __metadata_request__predict_proba = {"groups": True}
    __metadata_request__score = {"groups": True}

    def __sklearn_tags__(self) -> Tags:
        """Scikit-learn tags: missing values are allowed."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _validate_fit(
        self, X: Features, y: object, groups: Groups
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, class codes (setting ``classes_``) and actor labels for ``fit``.

        Raises
        ------
        ValueError
            Invalid data (see :func:`validate_grouped`), targets that are not classes, or fewer
            than 2 classes.
        """
        values, actors, labels = validate_grouped(self, X, groups, reset=True, y=y)
        check_classification_targets(labels)
        encoder = LabelEncoder().fit(labels)
        if len(encoder.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y, got 1 class "
                             f"({encoder.classes_[0]!r})")
        self.classes_ = encoder.classes_
        return values, encoder.transform(labels), actors

    def _validate_predict(self, X: Features, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
        """Features and actor labels for prediction (the estimator must be fitted)."""
        check_is_fitted(self)
        values, actors, _ = validate_grouped(self, X, groups, reset=False)
        return values, actors

    def predict(self, X: Features, groups: Groups = None) -> np.ndarray:
        """Most probable class of each clip (see ``predict_proba``)."""
        proba = self.predict_proba(X, groups=groups)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Features, y: Labels, sample_weight: np.ndarray | None = None,
              groups: Groups = None) -> float:
        """Unweighted average recall (balanced accuracy) of :meth:`predict` on ``X``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Features.
        y : pandas.Series or array-like of shape (n_clips,)
            True classes; a Series is aligned on ``X.index`` when ``X`` is a DataFrame.
        sample_weight : array-like of shape (n_clips,) or None, default=None
            Clip weights.
        groups : pandas.Series, array-like or None, default=None
            Actor of each clip, as for ``predict_proba``.

        Returns
        -------
        float
            UAR in [0, 1].
        """
        return float(balanced_accuracy_score(align_target(X, y), self.predict(X, groups=groups),
                                             sample_weight=sample_weight))
