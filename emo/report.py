"""One-page HTML report of a cross-validated fit, plus its JSON twin and confusion-matrix PNGs.

The page is self-contained (inline CSS, images embedded as base64) so it can be mailed, archived
or screenshotted as it is; the PNG files are written beside it for slides and papers.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from emo._io import atomic_write
from emo.models.evaluate import CVResult

__all__ = ["confusion_figure", "write_report"]

PALETTE = {"audio": "#2f7ed8", "face": "#e4572e", "body": "#17a589", "fused": "#6c3bd1"}
OTHER_COLOUR = "#7f8c8d"

CSS = """
:root { --ink:#1d2330; --muted:#6b7385; --line:#e6e8ef; --bg:#f6f7fb; --card:#fff; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; }
header { background:linear-gradient(120deg,#24243e,#302b63 55%,#0f0c29); color:#fff;
  padding:28px 40px 24px; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:650; letter-spacing:.2px; }
header p { margin:0; color:#c9c6f2; }
main { max-width:1180px; margin:0 auto; padding:24px 40px 48px; }
section { background:var(--card); border:1px solid var(--line); border-radius:12px;
  padding:20px 24px; margin:0 0 20px; box-shadow:0 1px 2px rgba(20,20,60,.04); }
h2 { margin:0 0 14px; font-size:16px; font-weight:650; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(190px,1fr)); gap:14px; }
.card { border:1px solid var(--line); border-radius:10px; padding:14px 16px;
  border-top:4px solid var(--c); }
.card .name { color:var(--muted); text-transform:uppercase; font-size:12px; letter-spacing:.8px; }
.card .value { font-size:30px; font-weight:700; color:var(--c); }
.card .ci { color:var(--muted); font-size:12px; }
.bar { height:6px; background:var(--line); border-radius:3px; margin-top:8px; position:relative; }
.bar span { position:absolute; left:0; top:0; bottom:0; border-radius:3px; background:var(--c); }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:6px 10px; text-align:right; border-bottom:1px solid var(--line); }
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:16px; }
.grid figure { margin:0; text-align:center; }
.grid img { width:100%; max-width:420px; }
.feat { display:grid; grid-template-columns:minmax(0,1fr) 120px; gap:2px 10px; font-size:12.5px; }
.feat .label { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.meta { color:var(--muted); font-size:12.5px; }
.meta code { background:var(--bg); padding:1px 5px; border-radius:4px; }
footer { color:var(--muted); font-size:12px; text-align:center; }
"""


def _colour(name: str) -> str:
    return PALETTE.get(name, OTHER_COLOUR)


def _order(names: list[str]) -> list[str]:
    """Modalities alphabetically, ``fused`` last."""
    return sorted(n for n in names if n != "fused") + (["fused"] if "fused" in names else [])


def confusion_figure(confusion: pd.DataFrame, title: str) -> Figure:
    """Row-normalised confusion-matrix heat map with counts and percentages in the cells.

    Parameters
    ----------
    confusion : pandas.DataFrame
        Counts, rows true class, columns predicted class.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Drawn with the Agg canvas (no display needed).
    """
    counts = confusion.to_numpy(dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    fig = Figure(figsize=(4.6, 4.2), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(share, cmap="Purples", vmin=0, vmax=1)
    labels = [str(c) for c in confusion.columns]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(confusion.index)), [str(c) for c in confusion.index])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=11, fontweight="bold")
    for (i, j), value in np.ndenumerate(share):
        if counts[i, j]:
            ax.text(j, i, f"{value:.0%}\n{int(counts[i, j])}", ha="center", va="center",
                    fontsize=7, color="white" if value > 0.55 else "#1d2330")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _cards(cv: CVResult) -> str:
    cards = []
    for name in _order(list(cv.uar)):
        mean, half = cv.uar_ci(name)
        cards.append(
            f'<div class="card" style="--c:{_colour(name)}"><div class="name">{html.escape(name)}'
            f'</div><div class="value">{cv.uar[name]:.1%}</div>'
            f'<div class="ci">folds {mean:.1%} &plusmn; {half:.1%} (95% CI, '
            f'{len(cv.uar_folds[name])} folds)</div>'
            f'<div class="bar"><span style="width:{cv.uar[name]:.1%}"></span></div></div>'
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _recall_table(cv: CVResult) -> str:
    names = _order(list(cv.per_class_recall))
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for cls in cv.classes:
        cells = []
        for name in names:
            value = cv.per_class_recall[name].get(cls)
            if value is None:
                cells.append("<td>&ndash;</td>")
                continue
            cells.append(f'<td style="background:rgba(108,59,209,{0.05 + 0.4 * value:.2f})">'
                         f"{value:.1%}</td>")
        rows.append(f"<tr><td>{html.escape(cls)}</td>{''.join(cells)}</tr>")
    uar_row = "".join(f"<td><b>{cv.uar[n]:.1%}</b></td>" for n in names)
    return (f"<table><tr><th>class</th>{head}</tr>{''.join(rows)}"
            f"<tr><td><b>UAR</b></td>{uar_row}</tr></table>")


def _actor_table(cv: CVResult) -> str:
    """UAR of each actor (rows) for each modality and fused (columns)."""
    names = _order(list(cv.uar_actors))
    actors = sorted(set().union(*(cv.uar_actors[n] for n in names))) if names else []
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for actor in actors:
        cells = "".join(
            "<td>&ndash;</td>" if (v := cv.uar_actors[n].get(actor)) is None else
            f'<td style="background:rgba(108,59,209,{0.05 + 0.4 * v:.2f})">{v:.1%}</td>'
            for n in names)
        rows.append(f"<tr><td>{html.escape(actor)}</td>{cells}</tr>")
    return f"<table><tr><th>actor</th>{head}</tr>{''.join(rows)}</table>"


def _grouping(grouping: dict[str, dict]) -> str:
    """How clips without a known actor were grouped: per group, its clips and the actors
    they came from (when the data names them)."""
    rows = "".join(
        f"<tr><td>{html.escape(group)}</td><td>{g['clips']}</td><td>"
        + html.escape(", ".join(f"{a} ({n})" for a, n in g.get("actors", {}).items()) or "?")
        + "</td></tr>"
        for group, g in grouping.items())
    return ("<p class='meta'>each group is normalised as one actor; the actors column says "
            "whose clips it holds</p><table><tr><th>group</th><th>clips</th><th>actors</th>"
            f"</tr>{rows}</table>")


def _features(top_features: dict[str, pd.Series]) -> str:
    blocks = []
    for name in _order(list(top_features)):
        series = top_features[name]
        peak = float(series.max()) if len(series) and series.max() > 0 else 1.0
        rows = "".join(
            f'<div class="label" title="{html.escape(str(feat))}">{html.escape(str(feat))}</div>'
            f'<div class="bar" style="--c:{_colour(name)}">'
            f'<span style="width:{100 * float(value) / peak:.0f}%"></span></div>'
            for feat, value in series.items()
        )
        blocks.append(f"<div><h2>{html.escape(name)}</h2><div class='feat'>{rows}</div></div>")
    return '<div class="grid">' + "".join(blocks) + "</div>"


def _timings(timings: dict[str, float]) -> str:
    peak = max(timings.values(), default=1.0) or 1.0
    rows = "".join(
        f"<tr><td>{html.escape(stage)}</td><td>{seconds:.1f} s</td>"
        f'<td style="width:45%"><div class="bar" style="--c:#302b63">'
        f'<span style="width:{100 * seconds / peak:.0f}%"></span></div></td></tr>'
        for stage, seconds in timings.items()
    )
    return f"<table><tr><th>stage</th><th>wall time</th><th></th></tr>{rows}</table>"


def _actor_inference(simulation: dict) -> str:
    """Table of the leave-actors-out actor-inference simulation (one row per group size)."""
    rows = []
    for size, s in simulation.get("sizes", {}).items():
        uar_cells = (f"<td>{s['uar_known']:.1%}</td><td>{s['uar_hidden']:.1%}</td>"
                     f"<td>{-s['uar_loss']:+.1%}</td><td>{-s['worst_group_loss']:+.1%}</td>"
                     if "uar_known" in s else "<td>&ndash;</td>" * 4)
        rows.append(f"<tr><td>{html.escape(size)}</td><td>{s['groups']}</td>"
                    f"<td>{s['actors_found']:.2f}</td><td>{s['exact']:.0%}</td>"
                    f"<td>{s['ari']:.2f}</td>{uar_cells}</tr>")
    note = (f"{simulation.get('n_actors', 0)} training actors; each fold of "
            f"{simulation.get('fold_size', 0)} actors is hidden from an identifier fitted on the "
            "others and predicted in groups of each size; the classifier is the out-of-fold "
            "model of each clip, with the actors known and hidden (a missing prediction counts "
            "as wrong)")
    if not rows:
        return f"<p class='meta'>too few actors to simulate ({html.escape(note)})</p>"
    return (f"<p class='meta'>{html.escape(note)}</p><table><tr><th>actors per group</th>"
            "<th>groups</th><th>pseudo-actors found</th><th>right count</th><th>ARI</th>"
            "<th>UAR known</th><th>UAR hidden</th><th>change</th><th>worst group</th></tr>"
            f"{''.join(rows)}</table>")


def write_report(
    out_dir: str | Path,
    cv: CVResult,
    *,
    timings: dict[str, float],
    top_features: dict[str, pd.Series],
    meta: dict,
    actor_inference: dict | None = None,
    grouping: dict[str, dict] | None = None,
) -> Path:
    """Write ``report.html``, ``report.json`` and ``confusion_<name>.png`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Output folder (created if needed).
    cv : CVResult
        Cross-validation result (UAR per modality and fused, per-fold scores, confusions).
    timings : dict of str to float
        Wall time in seconds of each stage (extract, cross_validate, fit...).
    top_features : dict of str to pandas.Series
        Most important features of each modality (name -> importance).
    meta : dict
        JSON-able context shown at the bottom of the page (e.g. extractors, config).
    actor_inference : dict or None, default=None
        Result of :func:`emo.models.simulate_inference`, shown as the "Actor inference" section
        when given.
    grouping : dict or None, default=None
        Group -> ``{"clips": n, "actors": {actor: n}}`` of clips predicted with their actors
        hidden, shown as "How the clips were grouped" when given.

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for name in _order(list(cv.confusion)):
        png = _png(confusion_figure(cv.confusion[name], f"{name}  (UAR {cv.uar[name]:.1%})"))
        atomic_write(out / f"confusion_{name}.png", png)
        figures.append(
            f'<figure><img alt="confusion matrix {html.escape(name)}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        )
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    protocol = (f"{cv.n_clips} labelled clips, {cv.n_actors} actors, {cv.n_folds} outer "
                "actor-grouped folds (nested: the fusion's own inner CV builds the stacking "
                "inputs), UAR = mean per-class recall")
    context = "".join(
        f"<div><b>{html.escape(str(key))}</b>: <code>"
        f"{html.escape(json.dumps(value, default=str)[:400])}</code></div>"
        for key, value in meta.items() if key not in {"cv", "features"}
    )
    grouped = ("" if grouping is None else "<section><h2>How the clips were grouped (actors "
               f"hidden)</h2>{_grouping(grouping)}</section>")
    inference = ("" if actor_inference is None else "<section><h2>Actor inference (simulated on "
                 f"the training actors)</h2>{_actor_inference(actor_inference)}</section>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>emo report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><header><h1>Emotion recognition &mdash; cross-validated results</h1>
<p>{html.escape(protocol)} &middot; {created}</p></header><main>
<section><h2>Unweighted average recall</h2>{_cards(cv)}</section>
<section><h2>Recall per class</h2>{_recall_table(cv)}</section>
<section><h2>UAR per actor</h2>{_actor_table(cv)}</section>{grouped}
<section><h2>Confusion matrices (row-normalised)</h2><div class="grid">{"".join(figures)}</div>
</section>
<section><h2>Top features</h2>{_features(top_features)}</section>
{inference}<section><h2>Wall time per stage</h2>{_timings(timings)}</section>
<section class="meta"><h2>Run</h2>{context}</section>
<footer>generated by emo</footer></main></body></html>
"""
    path = out / "report.html"
    atomic_write(path, page)
    summary = {
        **cv.to_dict(),
        "timings": timings,
        "top_features": {m: {str(k): float(v) for k, v in s.items()}
                         for m, s in top_features.items()},
        "meta": meta,
        "actor_inference": actor_inference,
        "grouping": grouping,
    }
    atomic_write(out / "report.json", json.dumps(summary, indent=2, default=str))
    return path
