"""Contracts: the leaf modules every layer may import.

The observation layout, the ``Robot`` and ``Policy`` protocols. They import only numpy,
gymnasium and ``armgym.errors``.
"""
