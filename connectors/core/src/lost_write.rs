//! A write that is not idempotent (a create) whose answer was lost: what the
//! platform now holds settles it, so it is adopted, never made twice.

use std::time::Duration;

use crate::ConnectorError;

/// When to look: at once, then a second later, as a platform may take a
/// moment to show what it has just written.
pub const LOOK_UP_WAITS: [Duration; 2] = [Duration::ZERO, Duration::from_secs(1)];

/// At each of [`LOOK_UP_WAITS`], reads what the platform holds (`read`) and
/// asks `written` whether it shows the write; returns the first thing
/// `written` finds. `None` means no read showed the write: it is surely
/// absent, and the caller may send it again or report the outcome unknown.
///
/// Two plain closures rather than one async closure: the future of an async
/// closure that borrows could not be proved `Send` for every borrow, which
/// the `Connector` trait's futures must be.
pub async fn look_up<Held, Read, T>(
    mut read: impl FnMut() -> Read,
    mut written: impl FnMut(Held) -> Option<T>,
) -> Result<Option<T>, ConnectorError>
where
    Read: Future<Output = Result<Held, ConnectorError>>,
{
    for wait in LOOK_UP_WAITS {
        tokio::time::sleep(wait).await;
        if let Some(found) = written(read().await?) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_that_shows_late_is_found_on_the_second_look() {
        let started = tokio::time::Instant::now();
        let reads = AtomicU32::new(0);
        let found = look_up(
            || async { Ok(reads.fetch_add(1, Ordering::SeqCst) + 1) },
            |read| (read == 2).then_some("item 7"),
        )
        .await;
        assert_eq!(found, Ok(Some("item 7")));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_never_seen_is_none_and_a_failed_read_is_its_error() {
        let reads = AtomicU32::new(0);
        let absent = look_up(
            || async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |()| None::<()>,
        )
        .await;
        assert_eq!((absent, reads.load(Ordering::SeqCst)), (Ok(None), 2));
        let down = ConnectorError::Transient("HTTP 503".into());
        let failed = look_up(|| async { Err::<(), _>(down.clone()) }, |()| Some(())).await;
        assert_eq!(failed, Err(down));
    }
}
