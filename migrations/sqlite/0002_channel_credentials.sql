-- Channel tokens, sealed with ChaCha20-Poly1305 (the channel id is the associated data).
CREATE TABLE channel_credentials (
    channel    TEXT PRIMARY KEY,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at TEXT NOT NULL
);
