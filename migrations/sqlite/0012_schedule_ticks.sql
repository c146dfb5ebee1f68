-- One row per schedule tick a process claimed: the key is unique, so of N
-- replicas computing the same due tick exactly one inserts it and runs it.
-- No foreign key to channels: a channel removed from the config keeps its
-- history. Times are UTC; fire_time is a whole second.
CREATE TABLE schedule_ticks (
    channel     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    fire_time   TEXT NOT NULL,
    claimed_by  TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,  -- done | failed, once finished
    note        TEXT,  -- why it failed
    PRIMARY KEY (channel, kind, fire_time)
);
