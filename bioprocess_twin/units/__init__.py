"""Unit-operation models, one per file. Importing this package registers their processes."""
