"""Orchestrators: commands that tie several layers together.

``collect``, ``demo``, ``run``, ``show``, ``replay`` and the server commands live here,
above every layer, so the layers themselves never import upward (a test reads the
imports).
"""
