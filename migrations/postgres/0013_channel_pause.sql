-- A channel whose credentials are dead (the platform refused a refresh for
-- good) is paused until the seller authorizes chosync again: one row while
-- paused, with why and since when. No foreign key to channels: a channel
-- removed from the config keeps its state. Times are UTC.
CREATE TABLE channel_pauses (
    channel TEXT PRIMARY KEY,
    reason  TEXT NOT NULL,
    since   TIMESTAMPTZ NOT NULL
);

-- When each channel's authorization was granted and when it ends (Shopee:
-- at most 365 days after consent; Lazada: when its refresh token expires),
-- so an alert can come ahead of the end. Nothing secret.
CREATE TABLE channel_authorizations (
    channel       TEXT PRIMARY KEY,
    authorized_at TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ
);
