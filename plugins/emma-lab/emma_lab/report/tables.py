"""Mean ± std tables over seeds, as pandas frames and as Markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd


def mean_std_table(
    scores: pd.DataFrame,
    *,
    index: str,
    columns: str,
    value: str = "value",
    index_order: Sequence[str] | None = None,
    column_order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """``index x columns`` table of ``"mean ± std"`` strings over the remaining rows (seeds)."""
    grouped = scores.groupby([index, columns], sort=False)[value]
    mean = grouped.mean().unstack(columns)
    std = grouped.std(ddof=1).unstack(columns).fillna(0.0)
    table = mean.map(lambda v: f"{v:.4f}") + " ± " + std.map(lambda v: f"{v:.4f}")
    if index_order is not None:
        table = table.reindex([i for i in index_order if i in table.index])
    if column_order is not None:
        table = table[[c for c in column_order if c in table.columns]]
    return table


def evaluation_tables(
    scores: pd.DataFrame,
    captions: Mapping[str, str],
    *,
    models: Sequence[str],
    conditions: Sequence[str],
    heading: str = "##",
) -> list[str]:
    """Markdown lines: one ``model x condition`` mean ± std table per evaluation present."""
    lines: list[str] = []
    for evaluation, caption in captions.items():
        part = scores[scores.evaluation == evaluation]
        if part.empty:
            continue
        table = mean_std_table(
            part, index="model", columns="condition", index_order=models, column_order=conditions
        )
        lines += [f"{heading} {caption}", "", to_markdown(table, "model"), ""]
    return lines


def to_markdown(table: pd.DataFrame, index_label: str = "") -> str:
    """A GitHub Markdown table, without the optional ``tabulate`` dependency."""
    header = [index_label or str(table.index.name or ""), *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, row in table.iterrows():
        lines.append("| " + " | ".join([str(label), *map(str, row.tolist())]) + " |")
    return "\n".join(lines)
