"""Widgets the screens share: field editors drawn from widget hints, the repeat group."""
