"""land."""
