"""Synthetic hospitals: realistic, seeded data for demos, tests and benchmarks (not a Django app).

``demo_fill`` fills one hospital; ``demo_hospitals_create`` provisions demo hospitals and fills
each. The command is ``hospitium demo``.
"""
