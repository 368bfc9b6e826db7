"""Block kinds, one module per kind or close family; engine/domain/registry.py lists them."""
