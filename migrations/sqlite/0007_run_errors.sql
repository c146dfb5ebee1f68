-- Why a run stopped before finishing its work: a pass that failed after it
-- started (`failed`) or that the blast-radius guard stopped (`refused`).
-- `interrupted` stays for a pass that died and left no reason.
ALTER TABLE sync_runs ADD COLUMN error TEXT;
