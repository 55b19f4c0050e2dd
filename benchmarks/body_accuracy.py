"""Leave-one-actor-out UAR of body models on real clip-level kinematic features.

Data: ``/work/shared/data/body_kinematics/features.csv`` (Zhang et al. 2020, PhysioNet; 708
motion-capture trials, 11 actors, 7 classes, 299 kinematic features). Read-only, never copied.
The table is loaded with :func:`emo.api.import_table` when the lead's API provides it
(``--id-column filename --actor-column actor_ID --label-column emotion --drop-columns
gender,num_frames,duration``); otherwise with pandas, dropping the same columns (the script
says which it used).

Anchors from the literature for this corpus: SVM on kinematic features 61.3 % UAR, human raters
61.9 %. Each row of the printed table is one fixed recipe (no setting is chosen on a test actor);
``inner-CV`` rows pick their setting by a leave-one-actor-out search over the *training* actors of
each outer fold only.

Run::

    .venv/bin/python benchmarks/body_accuracy.py [--data PATH] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emo.data.labels import normalise_label
from emo.models import ActorStandardiser, ModalityClassifier, uar

DATA = Path("/work/shared/data/body_kinematics/features.csv")
ID, ACTOR, LABEL = "filename", "actor_ID", "emotion"
DROP = ("gender", "num_frames", "duration")
ANCHORS = {"SVM on kinematic features (literature)": 0.613, "human raters (literature)": 0.619}

#: A recipe: (X_train, y_train, actors_train, X_test, actors_test) -> test probabilities.
Recipe = Callable[[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame, np.ndarray], np.ndarray]


def load(path: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, str]:
    """Features (prefixed ``body__``), labels, actors and how the table was read."""
    try:
        from emo.api import feature_table, import_table  # the lead's API, when present
    except ImportError:
        import_table = None
    if import_table is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as cache:
            clips = import_table(path, modality="body", id_column=ID, actor_column=ACTOR,
                                 label_column=LABEL, drop_columns=list(DROP), cache=cache)
            table = feature_table(clips, modalities=["body"], cache=cache, n_jobs=1)
        features = table.drop(columns=["actor", "label"])
        return features, table["label"].to_numpy(), table["actor"].astype(str).to_numpy(), \
            "emo.api.import_table"
    raw = pd.read_csv(path, keep_default_na=False, na_values=[""])
    labels = np.array([normalise_label(v) for v in raw[LABEL]])
    actors = raw[ACTOR].astype(str).to_numpy()
    features = raw.drop(columns=[ID, ACTOR, LABEL, *DROP]).astype(float)
    features.columns = [f"body__{c}" for c in features.columns]
    features.index = raw[ID].astype(str)
    return features, labels, actors, "pandas (emo.api.import_table not available yet)"


def _actor_z(x_train: pd.DataFrame, a_train: np.ndarray, x_test: pd.DataFrame,
             a_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label-free per-actor z-scores (each actor by its own clips)."""
    scaler = ActorStandardiser().fit(x_train, groups=a_train)
    return (scaler.transform(x_train, groups=a_train).to_numpy(),
            scaler.transform(x_test, groups=a_test).to_numpy())


def _proba(model: object, classes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Probabilities in the order of ``classes`` (decision function soft-maxed for SVC)."""
    if hasattr(model, "predict_proba"):
        p = model.predict_proba(x)
    else:
        d = model.decision_function(x)
        p = np.exp(d - d.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
    order = [list(model.classes_).index(c) for c in classes]
    return p[:, order]


def sklearn_recipe(make: Callable[[], object], *, per_actor: bool, log: bool = False) -> Recipe:
    """A scikit-learn model on globally standardised (or per-actor z-scored) features."""

    def run(xtr, ytr, atr, xte, ate):
        if log:
            xtr, xte = _signed_log(xtr), _signed_log(xte)
        if per_actor:
            a, b = _actor_z(xtr, atr, xte, ate)
            model = make_pipeline(StandardScaler(), make())
        else:
            a, b = xtr.to_numpy(), xte.to_numpy()
            model = make_pipeline(StandardScaler(), make())
        model.fit(np.nan_to_num(a), ytr)
        return _proba(model, np.unique(ytr), np.nan_to_num(b))

    return run


def _signed_log(x: pd.DataFrame) -> pd.DataFrame:
    """log1p of magnitudes: speeds and accelerations are heavy-tailed."""
    return np.sign(x) * np.log1p(np.abs(x))


def gbm_recipe(**params: object) -> Recipe:
    """:class:`emo.models.ModalityClassifier` with the given parameters."""

    def run(xtr, ytr, atr, xte, ate):
        model = ModalityClassifier(**params).fit(xtr, ytr, groups=atr)
        return model.predict_proba(xte, groups=ate)

    return run


def blend(*recipes: Recipe) -> Recipe:
    """Mean of the class probabilities of several recipes (all see the same training fold)."""

    def run(xtr, ytr, atr, xte, ate):
        return np.mean([r(xtr, ytr, atr, xte, ate) for r in recipes], axis=0)

    return run


def inner_cv(candidates: dict[str, Recipe]) -> Recipe:
    """Pick the candidate with the best leave-one-actor-out UAR on the training actors only."""

    def run(xtr, ytr, atr, xte, ate):
        scores = {name: loao(r, xtr, ytr, atr)[0] for name, r in candidates.items()}
        best = max(scores, key=scores.get)
        return candidates[best](xtr, ytr, atr, xte, ate)

    return run


def loao(recipe: Recipe, x: pd.DataFrame, y: np.ndarray, actors: np.ndarray
         ) -> tuple[float, dict[str, float]]:
    """Pooled leave-one-actor-out UAR and the UAR of each held-out actor."""
    classes = np.unique(y)
    pred = np.empty(len(y), dtype=object)
    for train, test in LeaveOneGroupOut().split(x, y, actors):
        p = recipe(x.iloc[train], y[train], actors[train], x.iloc[test], actors[test])
        pred[test] = classes[np.argmax(p, axis=1)]
    per_actor = {a: uar(y[actors == a], pred[actors == a]) for a in np.unique(actors)}
    return uar(y, pred), per_actor


def recipes(quick: bool) -> dict[str, Recipe]:
    """The recipes compared, in table order (all settings fixed before looking at any score)."""
    svm = lambda: SVC(C=1.0, kernel="rbf", gamma="scale", class_weight="balanced")  # noqa: E731
    logreg = lambda: LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced")  # noqa: E731
    svm_k = lambda: make_pipeline(SelectKBest(f_classif, k=100),  # noqa: E731
                                  SVC(C=1.0, gamma="scale", class_weight="balanced"))
    gbm = dict(backend="lightgbm", random_state=0, n_jobs=1)
    table: dict[str, Recipe] = {
        "SVM rbf, global z-score": sklearn_recipe(svm, per_actor=False),
        "SVM rbf, per-actor z-score": sklearn_recipe(svm, per_actor=True),
        "SVM rbf, log + per-actor z-score": sklearn_recipe(svm, per_actor=True, log=True),
        "SVM rbf, per-actor z, ANOVA top-100 (in fold)": sklearn_recipe(svm_k, per_actor=True),
        "logreg C=0.1, global z-score": sklearn_recipe(logreg, per_actor=False),
        "logreg C=0.1, per-actor z-score": sklearn_recipe(logreg, per_actor=True),
        "GBM default, no actor norm": gbm_recipe(actor_norm=False, **gbm),
        "GBM default (ModalityClassifier)": gbm_recipe(actor_norm=True, **gbm),
        "GBM 400 rounds, lr 0.03, colsample 0.3": gbm_recipe(
            actor_norm=True, n_estimators=400, learning_rate=0.03, colsample=0.3, **gbm),
    }
    table["blend: GBM default + SVM per-actor + logreg per-actor"] = blend(
        table["GBM default (ModalityClassifier)"], table["SVM rbf, per-actor z-score"],
        table["logreg C=0.1, per-actor z-score"])
    if not quick:
        table["inner-CV pick of {SVM, logreg, GBM} per-actor"] = inner_cv({
            k: table[k] for k in ("SVM rbf, per-actor z-score", "logreg C=0.1, per-actor z-score",
                                  "GBM default (ModalityClassifier)")})
    return table


def main(argv: list[str] | None = None) -> int:
    """Print the table of recipes and anchors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true", help="skip the slow inner-CV row")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"skipped: {args.data} not found")
        return 0
    x, y, actors, how = load(args.data)
    print(f"{len(y)} clips, {x.shape[1]} features, {len(np.unique(actors))} actors; "
          f"read with {how}")
    print(f"{'recipe':58s} {'UAR':>6s} {'worst actor':>12s} {'seconds':>8s}")
    for name, value in ANCHORS.items():
        print(f"{name:58s} {value:6.1%}")
    for name, recipe in recipes(args.quick).items():
        t0 = time.perf_counter()
        score, per_actor = loao(recipe, x, y, actors)
        worst = min(per_actor.values())
        print(f"{name:58s} {score:6.1%} {worst:12.1%} {time.perf_counter() - t0:8.1f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
