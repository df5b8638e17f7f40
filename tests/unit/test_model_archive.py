import os

import pytest

from sparkdl.errors import ModelFormatError, ModelNotFoundError
from sparkdl.model_archive import KERAS, SAVED_MODEL, pack, unpack, unpacked_path


def _fake_saved_model(root):
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph")
    (root / "variables" / "variables.index").write_bytes(b"index")
    return root


def test_pack_is_deterministic_and_sensitive_to_content(tmp_path):
    model = _fake_saved_model(tmp_path / "m")
    first = pack(str(model))
    os.utime(model / "saved_model.pb", (1, 1))
    assert pack(str(model)).fingerprint == first.fingerprint
    assert first.kind == SAVED_MODEL and first.name == "m"
    (model / "variables" / "variables.index").write_bytes(b"changed")
    assert pack(str(model)).fingerprint != first.fingerprint


def test_unpack_once_and_reuse(tmp_path):
    model = _fake_saved_model(tmp_path / "m")
    archive = pack(str(model))
    root = str(tmp_path / "cache")
    assert unpacked_path(archive.fingerprint, archive.name, root) is None
    path = unpack(archive.data, archive.fingerprint, archive.name, root)
    assert open(os.path.join(path, "variables", "variables.index"), "rb").read() == b"index"
    assert unpack(b"not read again", archive.fingerprint, archive.name, root) == path
    assert unpacked_path(archive.fingerprint, archive.name, root) == path
    assert os.listdir(os.path.join(root)) == [archive.fingerprint]


def test_keras_file(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"zip")
    archive = pack(str(path))
    assert archive.kind == KERAS and archive.name == "m.keras"
    assert open(unpack(archive.data, archive.fingerprint, archive.name, str(tmp_path / "c")), "rb").read() == b"zip"


def test_missing_and_wrong_models_are_clear_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        pack(str(tmp_path / "nope"))
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelFormatError, match=r"no saved_model.pb; it holds \['weights.bin'\]"):
        pack(str(tmp_path / "dir"))
    (tmp_path / "m.pkl").write_bytes(b"")
    with pytest.raises(ModelFormatError, match=r"not a \.keras or \.h5 file"):
        pack(str(tmp_path / "m.pkl"))
