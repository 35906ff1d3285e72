"""Benchmarks of onespace against rclone and the ceiling: see bench/README.md."""
