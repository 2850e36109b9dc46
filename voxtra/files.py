"""Files written whole, with their permissions from the moment they exist."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(target: Path, data: bytes, mode: int) -> None:
    """Write ``target`` whole or not at all: ``data`` goes into a new file of the
    owner's alone (``mkstemp`` creates it 0600), which gets ``mode`` and is then renamed
    over the target. A secret written with 0600 is never readable by others, not even
    while it is written; a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
