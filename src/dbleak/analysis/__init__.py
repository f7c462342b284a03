"""Facts about user code, from the standard library's `ast` tree."""
