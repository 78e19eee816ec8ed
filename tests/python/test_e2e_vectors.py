"""A third decryptor of end-to-end encrypted shares, written from
docs/PROTOCOL.md section 13 alone (with the `cryptography` package's
AES-GCM and HKDF), checked against tests/vectors/e2e.json: the document is
exact enough to interoperate with the Rust code and the page."""
import hashlib
import json
import pathlib
import unittest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VECTORS = pathlib.Path(__file__).resolve().parents[1] / "vectors" / "e2e.json"


def hkdf(key, salt, info, n):
    return HKDF(hashes.SHA256(), n, salt, info.encode()).derive(key)


def open_meta(key, blob):
    assert blob[0] == 1
    km = hkdf(key, b"", "sockit-e2e/1 metadata key", 32)
    return json.loads(AESGCM(km).decrypt(blob[1:13], blob[13:], b"sockit-e2e/1 metadata"))


def open_file(key, sealed, size):
    assert sealed[:8] == b"SOCKE2E\x01"
    r = int.from_bytes(sealed[8:12], "big")
    salt = sealed[12:28]
    kc = hkdf(key, salt, "sockit-e2e/1 content key", 32)
    nb = hkdf(key, salt, "sockit-e2e/1 content nonce", 12)
    n = max(1, -(-size // r))
    assert len(sealed) == 28 + size + 16 * n
    out = b""
    for i in range(n):
        length = min(r, size - i * r)
        at = 28 + i * (r + 16)
        nonce = bytes(a ^ b for a, b in zip(nb, bytes(4) + i.to_bytes(8, "big")))
        aad = i.to_bytes(8, "big") + length.to_bytes(4, "big") + bytes([i == n - 1])
        out += AESGCM(kc).decrypt(nonce, sealed[at:at + length + 16], aad)
    return out


class Vectors(unittest.TestCase):
    def test_vectors_open_as_documented(self):
        vectors = json.loads(VECTORS.read_text())["vectors"]
        self.assertGreaterEqual(len(vectors), 3)
        for v in vectors:
            with self.subTest(v["name"]):
                key = bytes.fromhex(v["key"])
                meta = open_meta(key, bytes.fromhex(v["meta_sealed"]))
                self.assertEqual(meta, v["meta"])
                plain = open_file(key, bytes.fromhex(v["sealed"]), meta["size"])
                self.assertEqual(plain.hex(), v["plaintext"])
                self.assertEqual(hashlib.sha256(plain).hexdigest(), meta["sha256"])

    def test_a_swapped_final_flag_fails(self):
        v = json.loads(VECTORS.read_text())["vectors"][2]
        key = bytes.fromhex(v["key"])
        sealed = bytes.fromhex(v["sealed"])
        # Drop the last record and claim the shorter size: record 1 was
        # not sealed as the final one.
        with self.assertRaises(Exception):
            open_file(key, sealed[:28 + 2 * 32], 32)


if __name__ == "__main__":
    unittest.main()
