"""Pipelines: seeding reference data, demo history, imports, and the SQL models that build the marts."""
