"""Actor inference: group clips that carry no actor into pseudo-actors, calibrated on known actors.

emo normalises features per actor (:class:`~emo.models.actors.ActorStandardiser`), but test
clips of the challenge carry no actor. :class:`ActorIdentifier` learns, from clips of known
actors (and their emotions, when given), an *identity space* in which clips of one actor lie
close whatever the emotion, and a *split rule* that says whether a set of clips holds one actor
or several:

1. **Identity space.** Each feature is robustly scaled (median, inter-quartile range, clipped),
   features whose actor means vary too little relative to the variation within an actor are
   dropped (and the ComParE columns, see ``exclude``), and, when more than ``max_dims``
   remain, the rest are reduced to their ``max_dims`` principal axes (label-free). The result
   is whitened by the within-actor covariance (shrunk), so that the directions in which one
   actor's clips vary count little; with emotion labels, emotion is the nuisance: the scatter
   of each actor-and-emotion mean around its actor's mean is added ``emotion_weight`` times
   more, so that the directions along which one actor's emotions differ count least.
2. **Recursive spectral bisection.** The clips are split in two along the Fiedler vector of
   their k-nearest-neighbour graph (the cut of lowest conductance with at least ``min_clips``
   clips on each side), and each part again, as long as the split rule says so. A set whose
   graph is well connected (large second Laplacian eigenvalue) stays one actor, so the answer
   can be a single actor; an actor's clips form one connected manifold even when its loud and
   soft clips lie far apart.
3. **Split rule learned on the training actors.** Inside :meth:`ActorIdentifier.fit`, the space
   is refitted without a few training actors, sets of 1, 2 and more of those held-out actors
   (15-60 clips each) are bisected, and a logistic regression learns from every node whether it
   held more than one actor (features: log eigenvalue, log between-part distance, log clip
   count); its threshold is then tuned for the adjusted Rand index of the whole partitions,
   among the thresholds that keep every set of a single held-out actor (drawn across all its
   emotions) whole, with a margin: one actor cut in two is normalised in two halves, which
   costs more than two similar actors left together.

:func:`simulate_inference` measures the whole procedure on the training data (leave actors out,
groups of 1, 2, 4 and 8 actors): adjusted Rand index, actor counts, and the UAR of a fitted
classifier with the actors hidden versus known.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from emo.models._base import Groups, store_params
from emo.models.evaluate import uar
from emo.models.linear import linear_columns
from emo.models.splits import Features

__all__ = ["ActorIdentifier", "infer_actors", "simulate_inference"]

#: Clips per actor drawn for the simulated sets of the calibration (inclusive range).
CALIBRATION_CLIPS = (15, 60)
#: Largest number of held-out actors per calibration fold.
CALIBRATION_FOLD = 4
#: Offsets tried for the split rule's threshold (logit units).
THRESHOLD_OFFSETS = np.linspace(-4.0, 4.0, 41)
#: The threshold is the most cautious (fewest splits) within this much of the best simulated ARI:
#: splitting one actor costs more accuracy than merging two similar ones.
ARI_TOLERANCE = 0.03
#: Prefix of pseudo-actor ids (more underscores are prepended while it clashes with an actor id).
PSEUDO = "pseudo"
#: Columns seen in at least this fraction of the unknown clips are used for the grouping.
MIN_COVERAGE = 0.5
#: Margin (logit units) by which the chosen threshold keeps every single-actor calibration set
#: whole.
LONE_MARGIN = 1.0


def _unknown(values: np.ndarray) -> np.ndarray:
    """True where an actor id is missing (None, NaN, pandas NA or empty)."""
    return np.array([bool(pd.isna(v)) or str(v) == "" for v in values], dtype=bool)


def _actor_column(X: object, groups: Groups, n_rows: int) -> np.ndarray:
    """Actor of each row as an object array (None where missing): a Series is aligned on the
    index of a DataFrame ``X`` (clips it lacks are missing), anything else is taken by position.

    Raises
    ------
    ValueError
        If ``groups`` does not hold one entry per row.
    """
    if isinstance(groups, pd.Series) and isinstance(X, pd.DataFrame):
        return groups.reindex(X.index).to_numpy(dtype=object)
    values = np.asarray(groups, dtype=object)
    if values.shape != (n_rows,):
        raise ValueError(f"groups must hold one actor per row of X ({n_rows} rows), got shape "
                         f"{values.shape}")
    return values


def _robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column median and robust standard deviation (IQR / 1.349, else std, else 1)."""
    with warnings.catch_warnings():  # all-NaN columns: their statistics are NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        center = np.nanmedian(values, axis=0)
        low, high = np.nanpercentile(values, [25, 75], axis=0)
        spread = (high - low) / 1.349
        spread = np.where(spread > 0, spread, np.nanstd(values, axis=0))
    return np.nan_to_num(center), np.where(np.nan_to_num(spread) > 0, spread, 1.0)


def _fill_by_actor(z: np.ndarray, actors: np.ndarray) -> np.ndarray:
    """Replace missing values by the median of the clip's actor (0, the global median, if none)."""
    out = z.copy()
    for actor in np.unique(actors):
        rows = actors == actor
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nan_to_num(np.nanmedian(z[rows], axis=0))
        block = out[rows]
        out[rows] = np.where(np.isnan(block), median, block)
    return out


def _within_actor(z: np.ndarray, actors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residuals from the actor means and the actor means themselves (one row per actor)."""
    residuals = z.copy()
    means = []
    for actor in np.unique(actors):
        rows = actors == actor
        means.append(z[rows].mean(axis=0))
        residuals[rows] -= means[-1]
    return residuals, np.array(means)


def _reduction(filled: np.ndarray, max_dims: int) -> np.ndarray:
    """Basis (columns x dims) of the label-free reduction: the identity when there are at most
    ``max_dims`` columns, else the top ``max_dims`` principal axes of the clips."""
    n, p = filled.shape
    if p <= max_dims:
        return np.eye(p)
    centred = filled - filled.mean(axis=0)
    if p > n:  # axes from the clips' Gram matrix: n x n instead of p x p
        eigval, eigvec = np.linalg.eigh(centred @ centred.T)
        axes = centred.T @ eigvec[:, np.argsort(eigval)[::-1][:max_dims]]
        return axes / np.maximum(np.linalg.norm(axes, axis=0), 1e-12)
    eigval, eigvec = np.linalg.eigh(centred.T @ centred)
    return eigvec[:, np.argsort(eigval)[::-1][:max_dims]]


def _emotion_scatter(x: np.ndarray, actors: np.ndarray, emotions: np.ndarray) -> np.ndarray:
    """Within-actor emotion scatter: covariance of each actor-and-emotion mean around its
    actor's mean, weighted by clips (dims x dims)."""
    cells = pd.Series(range(len(x))).groupby([actors, emotions]).indices
    means = {actor: x[actors == actor].mean(axis=0) for actor in np.unique(actors)}
    deviations = np.array([(x[rows].mean(axis=0) - means[actor]) * np.sqrt(len(rows))
                           for (actor, _), rows in cells.items()])
    return deviations.T @ deviations / len(x)


def _identity_columns(filled: np.ndarray, actors: np.ndarray, min_ratio: float) -> np.ndarray:
    """Mask of the columns whose actor means vary at least ``min_ratio`` times their
    within-actor variance (at least the two best)."""
    residuals, means = _within_actor(filled, actors)
    within = np.mean(residuals**2, axis=0)
    ratio = (means.var(axis=0, ddof=1) if len(means) > 1 else np.zeros(filled.shape[1]))
    ratio = ratio / np.maximum(within, 1e-12)
    keep = ratio >= min_ratio
    if keep.sum() < 2:  # too few identity cues: keep the two best
        keep = np.isin(np.arange(filled.shape[1]), np.argsort(ratio)[-2:])
    return keep


def _whitener(cov: np.ndarray, shrinkage: float) -> np.ndarray:
    """Projection whitening ``cov`` (eigenvalues shrunk by ``shrinkage``), scaled so that the
    mean squared norm of a within-actor residual is 1."""
    eigval, eigvec = np.linalg.eigh(cov)
    eigval = np.maximum(eigval, 0.0)
    scale = float(np.sum(eigval / (eigval + shrinkage))) or 1.0
    return eigvec / np.sqrt((eigval + shrinkage) * scale)


def _knn_graph(z: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Symmetric 0/1 adjacency of the k-nearest-neighbour graph (Euclidean)."""
    n = len(z)
    k = min(n_neighbors, n - 1)
    sq = np.einsum("ij,ij->i", z, z)
    dist = sq[:, None] + sq[None, :] - 2.0 * z @ z.T
    np.fill_diagonal(dist, np.inf)
    nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
    adjacency = np.zeros((n, n))
    adjacency[np.repeat(np.arange(n), k), nearest.ravel()] = 1.0
    return np.maximum(adjacency, adjacency.T)


def _bisect(z: np.ndarray, min_clips: int, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Split clips along the Fiedler vector of their kNN graph.

    Returns the mask of one side (the sweep cut of lowest conductance with at least
    ``min_clips`` clips on each side) and the node features of the split: log second eigenvalue
    of the normalised Laplacian, log squared distance between the parts' means weighted by
    their sizes, log number of clips.
    """
    n = len(z)
    adjacency = _knn_graph(z, n_neighbors)
    degree = adjacency.sum(axis=1)
    root = 1.0 / np.sqrt(degree)
    laplacian = np.eye(n) - root[:, None] * adjacency * root[None, :]
    eigval, eigvec = np.linalg.eigh(laplacian)
    order = np.argsort(eigvec[:, 1] * root, kind="stable")
    ordered = adjacency[np.ix_(order, order)]
    volume = np.cumsum(degree[order])[:-1]
    inside = np.cumsum(np.tril(ordered, -1).sum(axis=1))[:-1]
    conductance = (volume - 2.0 * inside) / np.minimum(volume, degree.sum() - volume)
    sizes = np.arange(1, n)
    conductance[(sizes < min_clips) | (n - sizes < min_clips)] = np.inf
    mask = np.zeros(n, dtype=bool)
    mask[order[: int(np.argmin(conductance)) + 1]] = True
    gain = mask.mean() * (1.0 - mask.mean()) * np.sum((z[mask].mean(0) - z[~mask].mean(0)) ** 2)
    features = np.log([max(eigval[1], 1e-6), max(gain, 1e-6), n])
    return mask, features


def _split_tree(z: np.ndarray, min_clips: int, n_neighbors: int,
                rule: Callable[[np.ndarray], bool] | None = None) -> list[dict[str, Any]]:
    """Recursive bisection: nodes with ``rows``, ``features`` (None when too small to split)
    and ``children`` (indices of the two parts, or None for a leaf).

    With a ``rule`` (features -> split?) only the nodes it splits get children; without one,
    every node is bisected down to parts too small to split (the calibration's full tree).
    """
    nodes: list[dict[str, Any]] = []
    pending: list[tuple[np.ndarray, int | None]] = [(np.arange(len(z)), None)]
    while pending:
        rows, parent = pending.pop()
        if parent is not None:
            nodes[parent]["children"].append(len(nodes))
        node: dict[str, Any] = {"rows": rows, "features": None, "children": None}
        nodes.append(node)
        if len(rows) >= 2 * min_clips:
            mask, node["features"] = _bisect(z[rows], min_clips, n_neighbors)
            if rule is None or rule(node["features"]):
                node["children"] = []
                pending += [(rows[mask], len(nodes) - 1), (rows[~mask], len(nodes) - 1)]
    return nodes


def _cut(nodes: list[dict[str, Any]], n: int, split: np.ndarray | None = None) -> np.ndarray:
    """Cluster labels (0..k-1) of the partition splitting the nodes where ``split`` is true
    (and all their ancestors); None splits every node that has children."""
    labels = np.zeros(n, dtype=int)
    stack, n_clusters = [0], 0
    while stack:
        here = stack.pop()
        node = nodes[here]
        if node["children"] and (split is None or split[here]):
            stack += node["children"]
        else:
            labels[node["rows"]] = n_clusters
            n_clusters += 1
    return labels


def _node_scores(nodes: Sequence[dict[str, Any]], coef: np.ndarray, intercept: float
                 ) -> np.ndarray:
    """Split-rule score of each node (-inf where there is nothing to split)."""
    return np.array([-np.inf if node["features"] is None
                     else float(node["features"] @ coef) + intercept for node in nodes])


def _node_label(actors: np.ndarray, min_clips: int) -> int:
    """1 if a node holds a second actor with a real share of its clips, 0 if it is (nearly)
    pure, -1 if ambiguous (left out of the training of the split rule)."""
    counts = np.sort(np.unique(actors, return_counts=True)[1])[::-1]
    second = counts[1] if len(counts) > 1 else 0
    if second >= min(min_clips, 0.25 * len(actors)):
        return 1
    return 0 if second <= 0.1 * len(actors) else -1


def _space(x: np.ndarray, actors: np.ndarray, emotions: np.ndarray | None, shrinkage: float,
           emotion_weight: float) -> np.ndarray:
    """Identity projection (dims x dims) learned on known actors from the reduced coordinates
    ``x`` of their identity columns (see the module docstring, step 1)."""
    residuals, _ = _within_actor(x, actors)
    nuisance = residuals.T @ residuals / len(residuals)
    if emotions is not None and emotion_weight > 0:
        nuisance = nuisance + emotion_weight * _emotion_scatter(x, actors, emotions)
    return _whitener(nuisance, shrinkage)


class ActorIdentifier(BaseEstimator):
    """Group clips without an actor into pseudo-actors; the count is calibrated on known actors.

    Emotion labels, when given to :meth:`fit`, only say what to ignore (see the module
    docstring for the method); prediction uses no labels.
    ``emo fit`` stores a fitted identifier in the model bundle and ``emo predict`` uses it to
    normalise clips without an actor per pseudo-actor. Prediction is transductive: the pseudo-
    actors of a clip depend on the other clips predicted with it.

    Parameters
    ----------
    min_clips : int, default=10
        Smallest pseudo-actor: no split leaves fewer clips on a side, and fewer than twice this
        many unknown clips form one group.
    n_neighbors : int, default=12
        Neighbours of each clip in the graph that is bisected.
    min_ratio : float, default=0.5
        Features whose variance of actor means is below this fraction of their within-actor
        variance (on the training actors) are not identity cues and are dropped.
    shrinkage : float, default=0.1
        Added to the eigenvalues of the within-actor covariance before whitening (robust-z
        units); larger values trust rare directions less.
    emotion_weight : float, default=0.0
        When :meth:`fit` gets emotion labels, the within-actor emotion scatter is added this
        many times more to the covariance the identity space is whitened by (0: the
        within-actor covariance alone, which holds it once). On the development actors
        (``benchmarks/actor_inference.py --simulate --seeds 4``) weights 1 and 3 kept every
        single actor whole, as 0 does, but told groups of 2 and 4 actors apart slightly less
        well, so the default is 0.
    max_dims : int, default=48
        Most principal axes of the identity columns kept (label-free reduction).
    exclude : str or None, default="compare__"
        Columns whose feature name (after ``<modality>__``) starts with this are left out of
        the identity space (unless fewer than 2 others remain): the 6,373 ComParE columns of
        the ``egemaps+compare`` audio set outweigh every other cue (on the development actors
        they halved the adjusted Rand index of groups of 2 and 4 actors).
    clip : float, default=3.0
        Robust z-scores are clipped to ``[-clip, clip]`` (outlying clips cannot dominate).
    n_repeats : int, default=2
        Random partitions of the training actors used to calibrate the split rule.
    random_state : int, default=0
        Seed of those partitions and of the clip counts drawn for the simulated sets.

    Attributes
    ----------
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : numpy.ndarray
        Input column names (when fitted on a DataFrame).
    center_, scale_ : numpy.ndarray
        Robust location and scale of each input column.
    identity_columns_ : numpy.ndarray
        Boolean mask of the input columns kept as identity cues.
    basis_ : numpy.ndarray of shape (n_identity_columns, n_dims)
        Label-free reduction of the kept columns.
    projection_ : numpy.ndarray of shape (n_dims, n_dims)
        Whitening of the reduced coordinates by the nuisance (within-actor and emotion)
        covariance.
    split_coef_ : numpy.ndarray of shape (3,)
        Weights of the split rule on (log eigenvalue, log distance, log clip count).
    split_intercept_ : float
        Its intercept (a node is split when the score is positive).
    calibration_ : dict
        JSON-able summary of the calibration: actors, simulated sets and nodes, and the mean
        adjusted Rand index of the simulated sets by number of actors.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> def clips(n_actors, n_clips=20):
    ...     voice = rng.normal(0, 3, size=(n_actors, 4)).repeat(n_clips, axis=0)
    ...     mood = rng.normal(0, 1, size=(n_actors * n_clips, 1)) * [2, 2, 0, 0]
    ...     return pd.DataFrame(voice + mood + rng.normal(size=voice.shape))
    >>> train = clips(8)
    >>> ident = ActorIdentifier().fit(train, groups=np.repeat(np.arange(8), 20))
    >>> ident.predict(clips(1)).nunique(), ident.predict(clips(3)).nunique()
    (1, 3)
    """

    def __init__(
        self,
        min_clips: int = 10,
        n_neighbors: int = 12,
        min_ratio: float = 0.5,
        shrinkage: float = 0.1,
        emotion_weight: float = 0.0,
        max_dims: int = 48,
        exclude: str | None = "compare__",
        clip: float = 3.0,
        n_repeats: int = 2,
        random_state: int = 0,
    ) -> None:
        store_params(self, locals())

    def fit(self, X: Features, y: object = None, groups: Groups = None) -> ActorIdentifier:
        """Learn the identity space and calibrate the split rule on clips of known actors.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            Clip features (any modality may be missing: NaN).
        y : pandas.Series, array-like or None, default=None
            Emotion of each clip (aligned like ``groups``): the nuisance of the identity
            space. None: the within-actor covariance alone.
        groups : pandas.Series or array-like of shape (n_clips,)
            Actor of each clip (a Series is aligned on ``X.index``); at least 3 actors.

        Returns
        -------
        ActorIdentifier
            ``self``.

        Raises
        ------
        ValueError
            Without ``groups``, with clips whose actor is missing, or with fewer than 3 actors.
        """
        values = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        if groups is None:
            raise ValueError("ActorIdentifier.fit needs groups: the actor of each clip")
        raw = _actor_column(X, groups, len(values))
        if _unknown(raw).any():
            raise ValueError(f"{int(_unknown(raw).sum())} clip(s) have no actor in groups; "
                             "ActorIdentifier.fit needs the actor of every clip")
        actors = raw.astype(str)
        if len(np.unique(actors)) < 3:
            raise ValueError(f"ActorIdentifier needs clips of at least 3 actors, got "
                             f"{len(np.unique(actors))}")
        emotions = None
        if y is not None:
            emotions = _actor_column(X, y, len(values))
            emotions = None if _unknown(emotions).any() else emotions.astype(str)
        self.center_, self.scale_ = _robust_scale(values)
        filled = _fill_by_actor(self._scaled(values), actors)
        allowed = np.ones(values.shape[1], dtype=bool)
        names = getattr(self, "feature_names_in_", None)
        if self.exclude and names is not None and (~linear_columns(names, self.exclude)).sum() > 1:
            allowed = ~linear_columns(names, self.exclude)
        self.identity_columns_ = np.zeros(values.shape[1], dtype=bool)
        self.identity_columns_[allowed] = _identity_columns(filled[:, allowed], actors,
                                                            self.min_ratio)
        self.basis_ = _reduction(filled[:, self.identity_columns_], self.max_dims)
        x = filled[:, self.identity_columns_] @ self.basis_
        self.projection_ = _space(x, actors, emotions, self.shrinkage, self.emotion_weight)
        self._calibrate(x, actors, emotions)
        return self

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        """Robust z-scores, clipped (NaN stays NaN)."""
        return np.clip((values - self.center_) / self.scale_, -self.clip, self.clip)

    def _calibrate(self, x: np.ndarray, actors: np.ndarray, emotions: np.ndarray | None
                   ) -> None:
        """Learn the split rule from simulated sets of held-out training actors (reduced
        coordinates ``x``; the identity projection is refitted without the held-out actors)."""
        rng = np.random.default_rng(self.random_state)
        names = np.unique(actors)
        fold = min(CALIBRATION_FOLD, max(2, len(names) // 3))
        sets = []
        for _ in range(self.n_repeats):
            order = rng.permutation(names)
            for start in range(0, len(order) - fold + 1, fold):
                held = order[start:start + fold]
                train = ~np.isin(actors, held)
                coords = x @ _space(x[train], actors[train],
                                    None if emotions is None else emotions[train],
                                    self.shrinkage, self.emotion_weight)
                members = [[a] for a in held] + [list(p) for p in itertools.combinations(held, 2)]
                members += [list(held)] if fold > 2 else []
                for chosen in members:
                    rows = np.concatenate([
                        rng.choice(np.flatnonzero(actors == a),
                                   min(int(rng.integers(*CALIBRATION_CLIPS, endpoint=True)),
                                       int(np.sum(actors == a))), replace=False)
                        for a in chosen])
                    sets.append((len(chosen), actors[rows],
                                 _split_tree(coords[rows], self.min_clips, self.n_neighbors)))
        features, labels = [], []
        for _, truth, nodes in sets:
            for node in nodes:
                if node["features"] is not None:
                    features.append(node["features"])
                    labels.append(_node_label(truth[node["rows"]], self.min_clips))
        features, labels = np.array(features).reshape(-1, 3), np.array(labels)
        used = labels >= 0
        if len(np.unique(labels[used])) < 2:  # nothing to learn from: never split
            self.split_coef_, self.split_intercept_ = np.zeros(3), -1.0
            ari = {}
        else:
            rule = LogisticRegression(class_weight="balanced").fit(features[used], labels[used])
            self.split_coef_ = rule.coef_[0]
            offset, ari = self._tune_threshold(sets, float(rule.intercept_[0]))
            self.split_intercept_ = float(rule.intercept_[0]) + offset
        self.calibration_ = {
            "n_actors": int(len(names)), "held_out_per_fold": int(fold),
            "n_sets": len(sets), "n_nodes": int(used.sum()),
            "n_split_nodes": int(np.sum(labels == 1)),
            "ari_by_actors": ari,
        }

    def _tune_threshold(self, sets: list, intercept: float) -> tuple[float, dict[str, float]]:
        """Offset of the intercept: the lowest (fewest splits) whose mean ARI over the simulated
        sets (averaged per number of actors) is within ``ARI_TOLERANCE`` of the best, among the
        offsets that keep every single-actor set whole even ``LONE_MARGIN`` higher (if none
        does, the lowest offset)."""
        scores: dict[int, list[list[float]]] = {}
        whole = np.ones(len(THRESHOLD_OFFSETS), dtype=bool)
        for n_actors, truth, nodes in sets:
            score = _node_scores(nodes, self.split_coef_, intercept)
            scores.setdefault(n_actors, []).append(
                [_ari(truth, _cut(nodes, len(truth), score + offset > 0))
                 for offset in THRESHOLD_OFFSETS])
            if n_actors == 1:  # its root must stay unsplit
                whole &= score[0] + THRESHOLD_OFFSETS + LONE_MARGIN <= 0
        by_size = {k: np.mean(v, axis=0) for k, v in scores.items()}
        curve = np.where(whole, np.mean(list(by_size.values()), axis=0), -np.inf)
        if not whole.any():
            curve[0] = 0.0
        choice = int(np.flatnonzero(curve >= curve.max() - ARI_TOLERANCE)[0])
        return float(THRESHOLD_OFFSETS[choice]), {str(k): float(v[choice])
                                                  for k, v in sorted(by_size.items())}

    def predict(self, X: Features, groups: Groups = None) -> pd.Series:
        """Actor of every clip: its own when known, else a pseudo-actor inferred from the rest.

        Clips without an actor are grouped (see the module docstring); a group that the split
        rule cannot tell apart from a known actor of ``groups`` takes that actor's id, the others
        get ids ``pseudo00``, ``pseudo01``... (never equal to an actor id of ``groups``).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_clips, n_features)
            The clips predicted together (the grouping is transductive).
        groups : pandas.Series, array-like or None, default=None
            Known actor of each clip; None, NaN or an empty string where unknown. None: every
            clip is unknown.

        Returns
        -------
        pandas.Series
            Actor id (str) of each clip, indexed like ``X`` (a RangeIndex for arrays).
        """
        check_is_fitted(self, "split_coef_")
        values = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan",
                               reset=False)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(values))
        known = (np.full(len(values), None, dtype=object) if groups is None
                 else _actor_column(X, groups, len(values)))
        unknown = _unknown(known)
        out = np.array([None if u else str(a) for a, u in zip(known, unknown, strict=True)],
                       dtype=object)
        if unknown.any():
            z = self._scaled(values)
            clusters = self._group(z[unknown])
            names = self._name(clusters, z, unknown, out)
            out[unknown] = names[clusters]
        return pd.Series(out, index=index, name="actor", dtype=object)

    def _projection(self, columns: np.ndarray) -> np.ndarray:
        """Identity projection of the given kept columns (mask over the kept ones; the others
        count as missing, i.e. at their median)."""
        return self.basis_[columns] @ self.projection_

    def _group(self, z: np.ndarray) -> np.ndarray:
        """Cluster labels (0..k-1) of unknown clips (robust z-scores, NaN where missing)."""
        z = z[:, self.identity_columns_]
        seen = ~np.isnan(z)
        columns = seen.mean(axis=0) >= MIN_COVERAGE
        complete = seen[:, columns].all(axis=1) & columns.any()
        labels = np.zeros(len(z), dtype=int)
        if complete.sum() < 2 * self.min_clips:
            return labels
        coords = z[complete][:, columns] @ self._projection(columns)
        nodes = _split_tree(coords, self.min_clips, self.n_neighbors,
                            lambda features: self._score(features) > 0)
        labels[complete] = _cut(nodes, len(coords))
        patterns: dict[bytes, list[int]] = {}
        for i in np.flatnonzero(~complete):  # clips lacking some columns: nearest group
            patterns.setdefault((seen[i] & columns).tobytes(), []).append(i)
        for pattern, members in patterns.items():
            mask = np.frombuffer(pattern, dtype=bool)
            if not mask.any():  # nothing in common with the grouped clips: the largest group
                labels[members] = np.bincount(labels[complete]).argmax()
                continue
            project = self._projection(mask)
            centres = np.array([z[complete & (labels == k)][:, mask].mean(axis=0)
                                for k in range(labels[complete].max() + 1)]) @ project
            points = z[members][:, mask] @ project
            labels[members] = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        return labels

    def _score(self, features: np.ndarray) -> float:
        """Split-rule score of a node: positive when it holds more than one actor."""
        return float(features @ self.split_coef_) + self.split_intercept_

    def _same_actor(self, z: np.ndarray) -> float:
        """Split-rule score of one set of clips (negative: the rule sees one actor)."""
        z = z[:, self.identity_columns_]
        columns = ~np.isnan(z).any(axis=0)
        if len(z) < 2 * self.min_clips or not columns.any():
            return np.inf
        _, features = _bisect(z[:, columns] @ self._projection(columns), self.min_clips,
                              self.n_neighbors)
        return self._score(features)

    def _name(self, clusters: np.ndarray, z: np.ndarray, unknown: np.ndarray,
              known: np.ndarray) -> np.ndarray:
        """Id of each cluster: the known actor it cannot be told from, else a pseudo-actor id."""
        actors = pd.unique(known[~unknown])
        prefix = PSEUDO
        while any(str(a).startswith(prefix) for a in actors):
            prefix = "_" + prefix
        names = np.array([f"{prefix}{k:02d}" for k in range(clusters.max() + 1)], dtype=object)
        unknown_rows = np.flatnonzero(unknown)
        for k in range(len(names)):
            rows = unknown_rows[clusters == k]
            scores = {a: self._same_actor(np.vstack([z[rows], z[known == a]])) for a in actors}
            best = min(scores, key=scores.get, default=None)
            if best is not None and scores[best] <= 0:
                names[k] = best
        return names


def _pairs(counts: np.ndarray) -> float:
    """Number of unordered pairs within groups of the given sizes."""
    return float(np.sum(counts * (counts - 1)) / 2)


def _ari(truth: np.ndarray, labels: np.ndarray) -> float:
    """Adjusted Rand index of two partitions (1.0 when both are a single group)."""
    if len(truth) < 2:
        return 1.0
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(labels, return_inverse=True)
    table = np.zeros((t.max() + 1, p.max() + 1))
    np.add.at(table, (t, p), 1)
    rows, cols = _pairs(table.sum(axis=1)), _pairs(table.sum(axis=0))
    expected = rows * cols / _pairs(np.array([len(t)]))
    top = (rows + cols) / 2
    return 1.0 if top == expected else (_pairs(table) - expected) / (top - expected)


def infer_actors(table: pd.DataFrame, reference: pd.DataFrame, reference_groups: pd.Series,
                 **params: Any) -> pd.Series:
    """Pseudo-actors of ``table``'s clips, from an identifier fitted on known actors.

    Parameters
    ----------
    table : pandas.DataFrame
        Clips without actors (same columns as ``reference``).
    reference : pandas.DataFrame
        Clips of known actors.
    reference_groups : pandas.Series
        Actor of each ``reference`` clip (aligned on its index).
    **params
        Parameters of :class:`ActorIdentifier`.

    Returns
    -------
    pandas.Series
        Pseudo-actor id of each clip of ``table``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> def clips(n_actors):
    ...     return pd.DataFrame(rng.normal(0, 4, (n_actors, 3)).repeat(20, axis=0)
    ...                         + rng.normal(size=(20 * n_actors, 3)))
    >>> reference = clips(6)
    >>> groups = pd.Series(np.repeat(list("abcdef"), 20), index=reference.index)
    >>> infer_actors(clips(2), reference, groups).nunique()
    2
    """
    identifier = ActorIdentifier(**params).fit(reference, groups=reference_groups)
    return identifier.predict(table.reindex(columns=reference.columns))


def simulate_inference(
    identifier: ActorIdentifier,
    X: pd.DataFrame,
    groups: pd.Series,
    *,
    y: pd.Series | None = None,
    fold_models: Sequence[tuple[pd.Index, Any]] = (),
    known: pd.Series | None = None,
    sizes: Sequence[int] = (1, 2, 4, 8),
    random_state: int = 0,
) -> dict[str, Any]:
    """Leave-actors-out simulation of actor inference on the training clips.

    The actors are shuffled and cut into folds of the largest size of ``sizes`` that is at most
    half of them and leaves at least 3 to learn from; for each fold a clone of ``identifier`` is
    fitted on the other actors, and the fold's actors are predicted with their actors hidden, in
    groups of each size. With ``y`` and ``fold_models`` each clip is also classified by the fold
    model that did not see its actor, once with the true actors and once with the inferred ones
    (all clips of a group are passed together, so a pseudo-actor's statistics come from all its
    clips); a clip that gets no prediction counts as wrong.

    Parameters
    ----------
    identifier : ActorIdentifier
        Unfitted template.
    X : pandas.DataFrame
        Training features (index clip id).
    groups : pandas.Series
        Actor of each clip (aligned on ``X.index``).
    y : pandas.Series or None, default=None
        Class of each clip, for the UAR.
    fold_models : sequence of (pandas.Index, estimator), default=()
        Out-of-fold models of a cross-validation: the clip ids each one was *not* trained on
        (its test actors) and the fitted model, whose ``predict(X, groups=...)`` takes the
        actor of each clip.
    known : pandas.Series or None, default=None
        The class each clip gets from ``fold_models`` with its true actor, when the
        cross-validation already predicted it (its out-of-fold predictions); ``None``:
        predicted here.
    sizes : sequence of int, default=(1, 2, 4, 8)
        Actors per group; sizes above half the actors (or leaving fewer than 3) are skipped.
    random_state : int, default=0
        Seed of the actor folds.

    Returns
    -------
    dict
        JSON-able: ``n_actors``, ``fold_size`` and, per size (key ``"1"``, ``"2"``...):
        ``groups``, ``actors_found`` (mean pseudo-actors per group), ``exact`` (share of groups
        with the right count), ``ari`` (mean adjusted Rand index) and, with ``y`` and
        ``fold_models``, ``uar_known``, ``uar_hidden`` (pooled over the groups), ``uar_loss``
        and ``worst_group_loss`` (largest loss of one group).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> X = pd.DataFrame(rng.normal(0, 4, (8, 3)).repeat(20, axis=0)
    ...                  + rng.normal(size=(160, 3)))
    >>> groups = pd.Series(np.repeat(np.arange(8), 20).astype(str), index=X.index)
    >>> result = simulate_inference(ActorIdentifier(), X, groups, sizes=(1, 2, 4))
    >>> result["fold_size"], sorted(result["sizes"])
    (4, ['1', '2', '4'])
    """
    groups = groups.reindex(X.index).astype(str)
    names = np.random.default_rng(random_state).permutation(groups.unique())
    usable = sorted(s for s in sizes if s <= min(len(names) // 2, len(names) - 3))
    result: dict[str, Any] = {"n_actors": len(names), "fold_size": 0, "sizes": {}}
    if not usable:
        return result
    fold = usable[-1]
    result["fold_size"] = fold
    found: dict[int, list[tuple[pd.Index, pd.Series]]] = {s: [] for s in usable}
    for start in range(0, len(names) - fold + 1, fold):
        held = names[start:start + fold]
        train = ~groups.isin(held)
        labels = None if y is None else y.reindex(X.index[train])
        fitted = clone(identifier).fit(X[train], labels, groups=groups[train])
        for size in usable:
            for first in range(0, fold, size):
                ids = X.index[groups.isin(held[first:first + size])]
                found[size].append((ids, fitted.predict(X.loc[ids])))
    if y is not None and fold_models and known is None:
        known = _predict_out_of_fold(X, groups, fold_models)
    for size, runs in found.items():
        summary = {
            "groups": len(runs),
            "actors_found": float(np.mean([p.nunique() for _, p in runs])),
            "exact": float(np.mean([p.nunique() == size for _, p in runs])),
            "ari": float(np.mean([_ari(groups[ids].to_numpy(), p.to_numpy()) for ids, p in runs])),
        }
        if known is not None:
            summary.update(_uar_loss(X, y, runs, known, fold_models))
        result["sizes"][str(size)] = summary
    return result


def _predict_out_of_fold(X: pd.DataFrame, groups: pd.Series,
                         fold_models: Sequence[tuple[pd.Index, Any]]) -> pd.Series:
    """Class of each clip of ``groups.index`` from the fold model that did not see its actor,
    each group (actor or pseudo-actor) of a model's clips passed whole so that its normalisation
    statistics come from all its clips; clips of no fold are left out."""
    parts = []
    for test_ids, model in fold_models:
        mine = groups.index[groups.index.isin(test_ids)]
        if len(mine):
            rows = groups.index[groups.isin(groups.loc[mine].unique())]
            pred = model.predict(X.loc[rows], groups=groups.loc[rows])
            parts.append(pd.Series(np.asarray(pred), index=rows).loc[mine])
    return pd.concat(parts) if parts else pd.Series(dtype=object)


def _uar_loss(X: pd.DataFrame, y: pd.Series, runs: list[tuple[pd.Index, pd.Series]],
              known: pd.Series, fold_models: Sequence[tuple[pd.Index, Any]]) -> dict[str, float]:
    """Pooled UAR with actors known and hidden over the groups of one size, and the worst loss
    of a group (a clip without prediction counts as wrong)."""
    truth, with_known, with_hidden, losses = [], [], [], []
    for ids, inferred in runs:
        labelled = ids[ids.isin(y.index)]
        hidden = _predict_out_of_fold(X, inferred, fold_models)
        a = known.reindex(labelled).fillna("").astype(str)
        b = hidden.reindex(labelled).fillna("").astype(str)
        t = y.loc[labelled].astype(str)
        truth.append(t)
        with_known.append(a)
        with_hidden.append(b)
        losses.append(uar(t, a) - uar(t, b))
    t, a, b = pd.concat(truth), pd.concat(with_known), pd.concat(with_hidden)
    return {"uar_known": uar(t, a), "uar_hidden": uar(t, b), "uar_loss": uar(t, a) - uar(t, b),
            "worst_group_loss": float(max(losses))}
