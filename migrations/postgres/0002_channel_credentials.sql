-- Channel tokens, sealed with ChaCha20-Poly1305 (the channel id is the associated data).
CREATE TABLE channel_credentials (
    channel    TEXT PRIMARY KEY,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
