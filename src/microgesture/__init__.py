"""microgesture: identity-free emotional AI through micro-gestures.

Stages, in the order data flows: ``data`` → ``augment`` → ``models`` → ``training`` / ``evaluation``
→ ``emotion`` → ``pipeline`` / ``report``; ``cli`` sits on top. A stage imports only from stages before it.
"""

__version__ = "0.1.0"
