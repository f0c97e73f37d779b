"""Test support shared by several test folders (import as `common.<module>`)."""
