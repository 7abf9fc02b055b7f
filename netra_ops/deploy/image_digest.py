"""Whether a tag names a newer build than the one serving: now `netra_ops.cloud.builds`, the
cloud layer.

Kept so that `from netra_ops.deploy.image_digest import ...` goes on working; new code
imports `netra_ops.cloud`.
"""

from netra_ops.cloud.builds import IMAGE_DIGEST_ANNOTATION, new_build, serves_image, tag_digest

__all__ = ["IMAGE_DIGEST_ANNOTATION", "new_build", "serves_image", "tag_digest"]
