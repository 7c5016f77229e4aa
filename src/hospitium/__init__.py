"""Hospitium: a multi-tenant hospital management platform."""

__version__ = "0.1.0"
