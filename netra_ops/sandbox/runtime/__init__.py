"""What Cloud Run does with the services: revision processes and their traffic split, the
router in front of them, the sandbox's state directory, and what the revisions log and use.
"""

__all__: list[str] = []
