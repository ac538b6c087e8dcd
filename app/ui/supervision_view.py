"""Shared pieces of the supervision screens: alarm and card tables in words, with export."""
from __future__ import annotations

import polars as pl

from app.ui.session import tr
from app.ui.widgets import table


def alarm_table(frame: pl.DataFrame, name: str) -> None:
    shown = frame
    if not frame.is_empty():
        shown = frame.with_columns(
            pl.col("rule").map_elements(lambda v: tr(f"alarm.{v}"), return_dtype=pl.String),
            pl.col("raised_at").dt.strftime("%Y-%m-%d %H:%M"),
            pl.col("cleared_at").dt.strftime("%Y-%m-%d %H:%M").fill_null(""),
        ).drop("alarm_id", "unit_id").rename({"rule": tr("alarm.rule"), "raised_at": tr("alarm.raised_at"),
                                              "cleared_at": tr("alarm.cleared_at"), "detail": tr("alarm.detail")})
    table(shown, name)


def card_table(frame: pl.DataFrame, name: str) -> None:
    shown = frame
    if not frame.is_empty():
        shown = frame.with_columns(
            pl.col("color").map_elements(lambda v: tr(f"card.{v}"), return_dtype=pl.String),
            pl.col("issued_at").dt.strftime("%Y-%m-%d %H:%M"), pl.col("officer").fill_null(""),
            pl.col("case_no").fill_null(""),
        ).drop("card_id").rename({"color": tr("card.color_col"), "officer": tr("card.officer"),
                                  "reason": tr("card.reason_col"), "issued_at": tr("card.issued_at")})
    table(shown, name)
