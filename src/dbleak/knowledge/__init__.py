"""Facts about the world: what database drivers do, and when SQL is bounded."""
