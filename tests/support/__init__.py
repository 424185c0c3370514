"""Test-only helpers (DESIGN §2: product modules hold no test-only code)."""
