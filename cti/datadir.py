"""The data directory: what one node keeps on disk besides its database (the token secret).

``cti serve --data-dir`` names it; by default it is the directory of the SQLite database file
(the files of one server stay together), or ``./cti-data`` for a database elsewhere.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger(__name__)

TOKEN_SECRET_FILE = "cti-token-secret"
DEFAULT_DATA_DIR = Path("cti-data")


def default_data_dir(db_url: str) -> Path:
    """The SQLite file's directory, or ``./cti-data`` (PostgreSQL, an in-memory SQLite)."""
    try:
        url = make_url(db_url)
    except ArgumentError:
        return DEFAULT_DATA_DIR
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent
    return DEFAULT_DATA_DIR


def token_secret(data_dir: Path) -> str:
    """The node's token secret: read from the data directory, or made once and kept there
    (mode 0600, in a directory made 0700), so a restart does not log every agent out."""
    path = data_dir / TOKEN_SECRET_FILE
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once keep one secret (the second reads the first's).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        secret = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret + "\n")
        log.info("token secret generated and kept in %s", path)
        return secret
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("token secret file %s was readable by others (mode %o): now 0600", path, mode)
        path.chmod(0o600)
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise ValueError(f"{path}: too short to be a token secret; delete it to make a new one")
    return secret
