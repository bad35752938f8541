"""Attachment files on disk, under names we make (blocking: call from a worker thread).

A file is named by the SHA-256 of its content, two directory levels deep
(``ab/cd/abcd…``): the sender's filename never touches the file system, the same file sent
twice is stored once, and the name doubles as the reference shown to the agent. Files are
written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

FILE_MODE = 0o640


class AttachmentStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_of(self, ref: str) -> Path:
        digest = ref.removeprefix("sha256:")
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("not an attachment reference")
        return self.root / digest[:2] / digest[2:4] / digest

    def save(self, data: bytes) -> str:
        """Store ``data``; returns its reference ``sha256:<hex>``."""
        ref = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self.path_of(ref)
        if target.exists():
            return ref
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return ref
