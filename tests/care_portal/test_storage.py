"""The private storage writes a file whole or not at all (care_portal.storage)."""

import errno

import pytest
from django.core.files.base import File

from care_portal.storage import PrivateFileSystemStorage


class DiskFullAfterFirstChunk(File):
    """Content whose second chunk meets a full disk."""

    def __init__(self) -> None:
        super().__init__(None, name="upload.bin")

    def chunks(self, chunk_size=None):
        yield b"x" * 4096
        raise OSError(errno.ENOSPC, "No space left on device")

    def open(self, mode=None):
        return self

    def close(self):
        pass


def test_a_write_that_fails_leaves_no_partial_file(tmp_path):
    storage = PrivateFileSystemStorage(location=tmp_path)
    with pytest.raises(OSError) as excinfo:
        storage.save("evidence/2026/12/abc.pdf", DiskFullAfterFirstChunk())
    assert excinfo.value.errno == errno.ENOSPC
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_failed_write_never_removes_a_file_that_was_there(tmp_path, monkeypatch):
    from django.core.files.storage import FileSystemStorage

    storage = PrivateFileSystemStorage(location=tmp_path)
    existing = tmp_path / "dossiers" / "kept.pdf"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"%PDF-1.7 kept")

    def fails(self, name, content):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(FileSystemStorage, "_save", fails)
    with pytest.raises(OSError):
        storage._save("dossiers/kept.pdf", DiskFullAfterFirstChunk())
    assert existing.read_bytes() == b"%PDF-1.7 kept"


def test_the_default_storage_is_the_private_one(settings):
    from django.core.files.storage import default_storage

    assert isinstance(default_storage, PrivateFileSystemStorage)
