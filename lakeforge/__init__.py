"""lakeforge package."""
