"""Prefect flows, tasks and I/O around the pure transforms."""
