"""Model archives unpack safely with and without tarfile's `filter` argument (Python < 3.10.12 / 3.11.4)."""
import io
import tarfile

import pytest

from sparkdl.errors import ModelFormatError
from sparkdl.model_archive import pack, unpack


def _archive(*entries) -> bytes:
    """A tar of (name, type) entries: type is tarfile.REGTYPE, SYMTYPE or LNKTYPE."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = 2
                tar.addfile(info, io.BytesIO(b"ok"))
            else:
                info.linkname = "/etc/passwd"
                tar.addfile(info)
    return buffer.getvalue()


@pytest.fixture(params=["with_filter", "without_filter"])
def python(request, monkeypatch):
    if request.param == "without_filter":  # what Debian 12's Python 3.11.2 has
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_a_packed_model_unpacks(tmp_path, python):
    (tmp_path / "m" / "variables").mkdir(parents=True)
    (tmp_path / "m" / "saved_model.pb").write_bytes(b"graph")
    (tmp_path / "m" / "variables" / "variables.index").write_bytes(b"index")
    archive = pack(str(tmp_path / "m"))
    path = unpack(archive.data, archive.fingerprint, archive.name, str(tmp_path / "cache"))
    assert (tmp_path / "cache" / archive.fingerprint / "m" / "variables" / "variables.index").read_bytes() == b"index"
    assert path.endswith("/m")


@pytest.mark.parametrize("entries, message", [
    ([("m/../../evil", tarfile.REGTYPE)], "points outside the model directory"),
    ([("/tmp/evil", tarfile.REGTYPE)], "points outside the model directory"),
    ([("m/link", tarfile.SYMTYPE)], "is a link or special file"),
    ([("m/hard", tarfile.LNKTYPE)], "is a link or special file"),
])
def test_entries_outside_the_model_or_links_are_refused(tmp_path, python, entries, message):
    with pytest.raises(ModelFormatError, match=message):
        unpack(_archive(("m/ok", tarfile.REGTYPE), *entries), "f" * 64, "m", str(tmp_path / "cache"))
    assert not (tmp_path / "evil").exists() and not list((tmp_path / "cache").iterdir())
