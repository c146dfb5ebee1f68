-- `chosync run` listens on `chosync_work`: work marked or an order hint added
-- by any process (another replica, `chosync import`, `chosync stock adjust`)
-- wakes that channel's worker at once; the payload is the channel id.
-- Statement triggers over transition tables: a bulk import marking thousands
-- of tasks runs the function once per statement, not once per row, and
-- PostgreSQL folds the identical notifications of a transaction into one.

CREATE FUNCTION chosync_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
BEGIN
    FOR changed IN
        SELECT DISTINCT channel FROM new_rows WHERE desired_version > done_version
    LOOP
        PERFORM pg_notify('chosync_work', changed);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION chosync_notify_hints() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
BEGIN
    FOR changed IN SELECT DISTINCT channel FROM new_rows LOOP
        PERFORM pg_notify('chosync_work', changed);
    END LOOP;
    RETURN NULL;
END
$$;

-- One trigger per event: a trigger with transition tables takes one event only.
CREATE TRIGGER push_tasks_inserted_wake AFTER INSERT ON push_tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chosync_notify_work();

CREATE TRIGGER push_tasks_updated_wake AFTER UPDATE ON push_tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chosync_notify_work();

CREATE TRIGGER order_hints_inserted_wake AFTER INSERT ON order_hints
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chosync_notify_hints();

-- A hint pushed again while the first is still waiting updates its row.
CREATE TRIGGER order_hints_updated_wake AFTER UPDATE ON order_hints
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chosync_notify_hints();
