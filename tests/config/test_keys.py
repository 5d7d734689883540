from __future__ import annotations

from pathlib import Path

import pytest

from ledger.keys import KeyFileError, create_signing_key, load_signing_key


def test_a_new_key_is_private_from_its_first_byte(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.pem"
    create_signing_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    load_signing_key(path)


def test_it_never_overwrites_a_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    create_signing_key(path)
    with pytest.raises(FileExistsError):
        create_signing_key(path)


def test_it_refuses_a_key_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    create_signing_key(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_signing_key(path)


def test_it_refuses_what_is_not_an_ed25519_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "k.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_signing_key(path)
    path.write_text("garbage")
    with pytest.raises(KeyFileError, match="not an unencrypted PKCS#8 PEM"):
        load_signing_key(path)
