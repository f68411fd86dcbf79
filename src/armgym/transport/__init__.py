"""Transport: the msgpack-numpy wire codec and websocket connection helpers.

The lowest networking layer: ``armgym.robots.remote`` (a robot client) and
``armgym.serve`` (the servers) both build on it; it imports nothing above
``armgym.errors``.
"""
