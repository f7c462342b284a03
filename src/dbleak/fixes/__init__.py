"""Rendering fix plans with libcst. Only imported when a fix must be built."""
