"""What the tests share: harnesses, helpers and fixtures-to-be, imported as `support`."""
