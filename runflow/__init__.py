"""The composition root: the `runflow` command and the processes it starts (`runflow up`, the demo, `runflow web`).

The only package that may import every layer (`api`, `worker`, ...); nothing imports it.
"""
