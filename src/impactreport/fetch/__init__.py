"""Fetching sources into dated snapshots: one module per source on one retrying client and one sync loop."""
