-- PostgreSQL's 0010 makes writes notify `chosync run`. SQLite cannot tell
-- another process of a write, so the daemon checks for work every few
-- seconds instead (src/daemon/wake.rs); this version keeps both engines'
-- migrations in step.
SELECT 1;
