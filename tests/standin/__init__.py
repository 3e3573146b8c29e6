"""Test stand-ins: small servers that answer like a real server the suite cannot install.

They are test doubles, not products: each one documents what it imitates and from which
source (doc seed, FACTS.md section), and keeps only tiny in-memory state.
"""
