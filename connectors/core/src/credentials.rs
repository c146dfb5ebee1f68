//! Tokens: connectors get and persist them through a small trait the store
//! implements (encrypted at rest). Refresh is single-flight per channel, and the
//! new pair is persisted before it is used: some platforms' refresh tokens are
//! single-use, so a pair that is used but not saved is a channel lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::ConnectorError;
use crate::clock::Clock;

#[derive(Clone)]
pub struct TokenPair {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credential store: {0}")]
pub struct CredentialError(pub String);

/// Where a channel's tokens live between runs.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    async fn load(&self, channel: &str) -> Result<Option<TokenPair>, CredentialError>;
    async fn save(&self, channel: &str, tokens: &TokenPair) -> Result<(), CredentialError>;
}

/// Exchanges a refresh token for a new pair (the platform call).
#[async_trait]
pub trait Refresher: Send + Sync {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenPair, ConnectorError>;
}

/// A channel's current tokens, refreshed ahead of expiry, one refresh at a time.
pub struct Tokens {
    channel: String,
    store: Arc<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
    /// Refresh when the access token has less than this left.
    margin: Duration,
    current: Mutex<Option<TokenPair>>,
    /// The pair in memory is newer than the stored one.
    unsaved: AtomicBool,
    /// The pair in memory has a refresh token the platform refused for good.
    dead: std::sync::Mutex<Option<Dead>>,
    /// One first login at a time (`install_first`).
    first: Mutex<()>,
}

/// Why a refresh token was refused for good, and whether the caller was told.
struct Dead {
    why: String,
    told: bool,
}

impl Tokens {
    pub fn new(channel: &str, store: Arc<dyn CredentialStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            channel: channel.to_string(),
            store,
            clock,
            margin: Duration::minutes(5),
            current: Mutex::new(None),
            unsaved: AtomicBool::new(false),
            dead: std::sync::Mutex::new(None),
            first: Mutex::new(()),
        }
    }

    /// Refresh this long before the access token expires (default 5 minutes).
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// For platforms where the connector logs itself in (key + secret, no
    /// seller consent): installs the pair `login` gives when none is stored
    /// yet, one login at a time however many calls start together.
    pub async fn install_first<F, Fut>(&self, login: F) -> Result<(), ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<TokenPair, ConnectorError>>,
    {
        if self.expiry().await?.is_some() {
            return Ok(());
        }
        let _first = self.first.lock().await;
        if self.expiry().await?.is_some() {
            return Ok(());
        }
        self.install(login().await?).await
    }

    /// Stores a freshly authorized pair (after the seller consented).
    pub async fn install(&self, tokens: TokenPair) -> Result<(), ConnectorError> {
        let mut current = self.current.lock().await;
        self.persist(&tokens).await?;
        *current = Some(tokens);
        self.note_refusal(None);
        Ok(())
    }

    /// Why the platform refused a refresh for good, once per refusal (and
    /// only while no refresh or new authorization succeeded since): the
    /// caller decides what a dead channel means (chosync pauses it).
    pub fn take_refused_refresh(&self) -> Option<String> {
        let mut dead = self.dead.lock().ok()?;
        let dead = dead.as_mut().filter(|d| !d.told)?;
        dead.told = true;
        Some(dead.why.clone())
    }

    fn note_refusal(&self, why: Option<String>) {
        if let Ok(mut dead) = self.dead.lock() {
            *dead = why.map(|why| Dead { why, told: false });
        }
    }

    fn known_dead(&self) -> Option<String> {
        self.dead
            .lock()
            .ok()
            .and_then(|d| d.as_ref().map(|d| d.why.clone()))
    }

    /// A usable access token, refreshing first when it is about to expire.
    pub async fn access(&self, refresher: &dyn Refresher) -> Result<SecretString, ConnectorError> {
        let mut current = self.current.lock().await;
        let tokens = self.loaded(&mut current).await?.clone();
        if self.unsaved.load(Ordering::SeqCst) {
            self.save_pending(&tokens).await;
        }
        if tokens.access_expires_at - self.margin > self.clock.now() {
            return Ok(tokens.access_token);
        }
        let fresh = self.refresh_locked(&mut current, refresher).await?;
        Ok(fresh.access_token)
    }

    /// The platform refused `stale`: refresh once, unless another task already
    /// did (then its token is returned).
    pub async fn refused(
        &self,
        stale: &SecretString,
        refresher: &dyn Refresher,
    ) -> Result<SecretString, ConnectorError> {
        let mut current = self.current.lock().await;
        let tokens = self.loaded(&mut current).await?;
        if tokens.access_token.expose_secret() != stale.expose_secret() {
            return Ok(tokens.access_token.clone());
        }
        let fresh = self.refresh_locked(&mut current, refresher).await?;
        Ok(fresh.access_token)
    }

    /// Makes `call` with a usable access token. If the platform refuses that
    /// token (`is_refusal` knows how each platform says so), it refreshes once
    /// (or takes the token another task just got) and makes the call again; a
    /// second refusal is returned, as only the seller can fix it.
    ///
    /// `call` owns its token: a future borrowing it could not be proved `Send`
    /// for every borrow, which the `Connector` trait's futures must be.
    pub async fn with_access<T, Call>(
        &self,
        refresher: &dyn Refresher,
        is_refusal: fn(&ConnectorError) -> bool,
        call: impl Fn(SecretString) -> Call,
    ) -> Result<T, ConnectorError>
    where
        Call: Future<Output = Result<T, ConnectorError>>,
    {
        let token = self.access(refresher).await?;
        match call(token.clone()).await {
            Err(refused) if is_refusal(&refused) => {
                let token = self.refused(&token, refresher).await?;
                call(token).await
            }
            other => other,
        }
    }

    /// When the current pair runs out, as loaded (`None`: never authorized).
    pub async fn expiry(&self) -> Result<Option<Expiry>, ConnectorError> {
        let mut current = self.current.lock().await;
        if current.is_none() {
            *current = self
                .store
                .load(&self.channel)
                .await
                .map_err(store_failure)?;
        }
        Ok(current.as_ref().map(Expiry::of))
    }

    /// Refreshes when the access token has less than `margin` left: the
    /// tokens schedule looks further ahead than a call does, so calls rarely
    /// wait for a refresh. Single-flight with every other refresh; a pair
    /// another task refreshed meanwhile is not refreshed again.
    pub async fn refresh_ahead(
        &self,
        margin: Duration,
        refresher: &dyn Refresher,
    ) -> Result<Ahead, ConnectorError> {
        let mut current = self.current.lock().await;
        let tokens = self.loaded(&mut current).await?.clone();
        if self.unsaved.load(Ordering::SeqCst) {
            self.save_pending(&tokens).await;
        }
        if tokens.access_expires_at - margin > self.clock.now() {
            return Ok(Ahead {
                refreshed: false,
                expiry: Expiry::of(&tokens),
            });
        }
        let fresh = self.refresh_locked(&mut current, refresher).await?;
        Ok(Ahead {
            refreshed: true,
            expiry: Expiry::of(&fresh),
        })
    }

    /// Refreshes now, whatever the expiry says.
    pub async fn refresh_now(&self, refresher: &dyn Refresher) -> Result<(), ConnectorError> {
        let mut current = self.current.lock().await;
        self.loaded(&mut current).await?;
        self.refresh_locked(&mut current, refresher)
            .await
            .map(|_| ())
    }

    async fn loaded<'a>(
        &self,
        current: &'a mut Option<TokenPair>,
    ) -> Result<&'a TokenPair, ConnectorError> {
        if current.is_none() {
            *current = self
                .store
                .load(&self.channel)
                .await
                .map_err(store_failure)?;
        }
        current.as_ref().ok_or_else(|| {
            ConnectorError::Unauthorized(format!(
                "channel {} is not authorized yet; run `chosync channels connect {}`",
                self.channel, self.channel
            ))
        })
    }

    async fn refresh_locked(
        &self,
        current: &mut Option<TokenPair>,
        refresher: &dyn Refresher,
    ) -> Result<TokenPair, ConnectorError> {
        if let Some(why) = self.known_dead() {
            // Refused for good already: a pair saved since (a new
            // authorization) is taken, and the platform is not asked again.
            let refresh_token = match current.as_ref() {
                Some(tokens) => tokens.refresh_token.clone(),
                None => return Err(ConnectorError::Unauthorized(why)),
            };
            return match self.stored_newer(&refresh_token).await? {
                Some(stored) => {
                    self.note_refusal(None);
                    Ok(adopt(current, stored))
                }
                None => Err(ConnectorError::Unauthorized(why)),
            };
        }
        let refreshed = self.refresh_once(current, refresher).await;
        match &refreshed {
            Ok(_) => self.note_refusal(None),
            Err(ConnectorError::Unauthorized(why)) => self.note_refusal(Some(why.clone())),
            Err(_) => {}
        }
        refreshed
    }

    async fn refresh_once(
        &self,
        current: &mut Option<TokenPair>,
        refresher: &dyn Refresher,
    ) -> Result<TokenPair, ConnectorError> {
        let refresh_token = match current.as_ref() {
            Some(tokens) => tokens.refresh_token.clone(),
            None => return Err(ConnectorError::Unauthorized("no tokens".into())),
        };
        let fresh = match refresher.refresh(&refresh_token).await {
            Ok(fresh) => fresh,
            Err(ConnectorError::Unauthorized(detail)) => {
                // Another process may have refreshed (and saved) since we loaded.
                return match self.stored_newer(&refresh_token).await? {
                    Some(stored) => Ok(adopt(current, stored)),
                    None => Err(ConnectorError::Unauthorized(detail)),
                };
            }
            Err(ConnectorError::Ambiguous(lost)) => {
                match self
                    .settle_lost_refresh(&refresh_token, refresher, &lost)
                    .await?
                {
                    Settled::Stored(stored) => return Ok(adopt(current, stored)),
                    Settled::Fresh(fresh) => fresh,
                }
            }
            Err(other) => return Err(other),
        };
        // The old refresh token is spent now: the new pair is saved before it is
        // used, and kept in memory whatever happens, since it is the only one left.
        *current = Some(fresh.clone());
        self.unsaved.store(true, Ordering::SeqCst);
        self.save_pending(&fresh).await;
        tracing::info!(channel = %self.channel, expires_at = %fresh.access_expires_at, "tokens refreshed");
        Ok(fresh)
    }

    /// A refresh whose answer was lost may have spent a single-use refresh
    /// token, so it is not repeated blindly: a pair another process saved
    /// since is taken; otherwise one more try tells, as the platform refuses
    /// a spent token. Refused, the channel can only be re-authorized.
    async fn settle_lost_refresh(
        &self,
        refresh_token: &SecretString,
        refresher: &dyn Refresher,
        lost: &str,
    ) -> Result<Settled, ConnectorError> {
        tracing::warn!(channel = %self.channel, detail = %lost, "token refresh answer lost; settling it before any new refresh");
        if let Some(stored) = self.stored_newer(refresh_token).await? {
            return Ok(Settled::Stored(stored));
        }
        match refresher.refresh(refresh_token).await {
            Ok(fresh) => Ok(Settled::Fresh(fresh)),
            Err(ConnectorError::Unauthorized(refused)) => {
                match self.stored_newer(refresh_token).await? {
                    Some(stored) => Ok(Settled::Stored(stored)),
                    None => Err(ConnectorError::Unauthorized(format!(
                        "paused: re-authorize channel {} (`chosync channels connect {}`): a token refresh whose answer was lost ({lost}) spent the single-use refresh token, which the platform now refuses ({refused})",
                        self.channel, self.channel
                    ))),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// The stored pair, if it is not the one holding `refresh_token` (another
    /// process refreshed and saved since).
    async fn stored_newer(
        &self,
        refresh_token: &SecretString,
    ) -> Result<Option<TokenPair>, ConnectorError> {
        let stored = self
            .store
            .load(&self.channel)
            .await
            .map_err(store_failure)?;
        Ok(stored.filter(|s| s.refresh_token.expose_secret() != refresh_token.expose_secret()))
    }

    /// Saves a pair not yet saved, with a few quick retries; a store that stays
    /// down is reported and the save retried on the next use.
    async fn save_pending(&self, tokens: &TokenPair) {
        for wait_ms in [0, 100, 500] {
            tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
            match self.persist(tokens).await {
                Ok(()) => {
                    self.unsaved.store(false, Ordering::SeqCst);
                    return;
                }
                Err(err) => {
                    tracing::error!(channel = %self.channel, error = %err, "refreshed tokens not saved yet");
                }
            }
        }
    }

    async fn persist(&self, tokens: &TokenPair) -> Result<(), ConnectorError> {
        self.store
            .save(&self.channel, tokens)
            .await
            .map_err(store_failure)
    }
}

/// When a pair runs out (nothing secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl Expiry {
    fn of(tokens: &TokenPair) -> Self {
        Self {
            access_expires_at: tokens.access_expires_at,
            refresh_expires_at: tokens.refresh_expires_at,
        }
    }
}

/// What `refresh_ahead` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    pub refreshed: bool,
    /// The pair in use now.
    pub expiry: Expiry,
}

/// How a refresh whose answer was lost was settled.
enum Settled {
    /// Another process's pair, already saved.
    Stored(TokenPair),
    /// Our second try's pair, to be saved.
    Fresh(TokenPair),
}

fn adopt(current: &mut Option<TokenPair>, stored: TokenPair) -> TokenPair {
    *current = Some(stored.clone());
    stored
}

fn store_failure(err: CredentialError) -> ConnectorError {
    ConnectorError::Transient(err.to_string())
}

/// Keeps tokens in memory only: for tests and the standalone sandboxes.
#[derive(Default)]
pub struct MemoryCredentials(std::sync::Mutex<std::collections::HashMap<String, TokenPair>>);

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn load(&self, channel: &str) -> Result<Option<TokenPair>, CredentialError> {
        let map = self.0.lock().map_err(|e| CredentialError(e.to_string()))?;
        Ok(map.get(channel).cloned())
    }

    async fn save(&self, channel: &str, tokens: &TokenPair) -> Result<(), CredentialError> {
        let mut map = self.0.lock().map_err(|e| CredentialError(e.to_string()))?;
        map.insert(channel.to_string(), tokens.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::clock::FixedClock;

    struct CountingRefresher {
        calls: AtomicU32,
        now: DateTime<Utc>,
    }

    #[async_trait]
    impl Refresher for CountingRefresher {
        async fn refresh(&self, refresh: &SecretString) -> Result<TokenPair, ConnectorError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(TokenPair {
                access_token: format!("access-{n}").into(),
                refresh_token: format!("{}-next", refresh.expose_secret()).into(),
                access_expires_at: self.now + Duration::hours(4),
                refresh_expires_at: None,
            })
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T08:00:00+07:00")
            .expect("valid")
            .to_utc()
    }

    fn pair(now: DateTime<Utc>, expires_in: Duration) -> TokenPair {
        TokenPair {
            access_token: "access-0".to_string().into(),
            refresh_token: "refresh-0".to_string().into(),
            access_expires_at: now + expires_in,
            refresh_expires_at: None,
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh_and_it_is_saved_first() {
        let now = at();
        let store = Arc::new(MemoryCredentials::default());
        let tokens = Arc::new(Tokens::new(
            "shopee-a",
            store.clone(),
            Arc::new(FixedClock::new(now)),
        ));
        tokens
            .install(pair(now, Duration::minutes(1)))
            .await
            .expect("install");
        let refresher = Arc::new(CountingRefresher {
            calls: AtomicU32::new(0),
            now,
        });
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (tokens, refresher) = (tokens.clone(), refresher.clone());
            tasks.push(tokio::spawn(async move {
                tokens
                    .access(refresher.as_ref())
                    .await
                    .map(|t| t.expose_secret().to_string())
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("join").expect("token"), "access-1");
        }
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        let saved = store.load("shopee-a").await.expect("load").expect("saved");
        assert_eq!(saved.refresh_token.expose_secret(), "refresh-0-next");
    }

    /// Fails the first `failures` saves.
    struct FlakyStore {
        inner: MemoryCredentials,
        failures: AtomicU32,
    }

    #[async_trait]
    impl CredentialStore for FlakyStore {
        async fn load(&self, channel: &str) -> Result<Option<TokenPair>, CredentialError> {
            self.inner.load(channel).await
        }
        async fn save(&self, channel: &str, tokens: &TokenPair) -> Result<(), CredentialError> {
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err(CredentialError("database is down".into()));
            }
            self.inner.save(channel, tokens).await
        }
    }

    #[tokio::test]
    async fn a_refreshed_pair_survives_a_store_that_is_briefly_down() {
        let now = at();
        let store = Arc::new(FlakyStore {
            inner: MemoryCredentials::default(),
            failures: AtomicU32::new(0),
        });
        let tokens = Tokens::new("shopee-a", store.clone(), Arc::new(FixedClock::new(now)));
        tokens
            .install(pair(now, Duration::minutes(1)))
            .await
            .expect("install");
        store.failures.store(4, Ordering::SeqCst);
        let refresher = CountingRefresher {
            calls: AtomicU32::new(0),
            now,
        };
        let token = tokens
            .access(&refresher)
            .await
            .expect("refreshed and usable");
        assert_eq!(token.expose_secret(), "access-1");
        let stored = store
            .inner
            .load("shopee-a")
            .await
            .expect("load")
            .expect("pair");
        assert_eq!(
            stored.access_token.expose_secret(),
            "access-0",
            "not saved yet"
        );
        tokens.access(&refresher).await.expect("still usable");
        let stored = store
            .inner
            .load("shopee-a")
            .await
            .expect("load")
            .expect("pair");
        assert_eq!(
            stored.refresh_token.expose_secret(),
            "refresh-0-next",
            "saved on next use"
        );
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refresh_another_process_made_is_picked_up_from_the_store() {
        struct Refuses;
        #[async_trait]
        impl Refresher for Refuses {
            async fn refresh(&self, _: &SecretString) -> Result<TokenPair, ConnectorError> {
                Err(ConnectorError::Unauthorized(
                    "error_shop_refresh_token".into(),
                ))
            }
        }
        let now = at();
        let store = Arc::new(MemoryCredentials::default());
        let tokens = Tokens::new("shopee-a", store.clone(), Arc::new(FixedClock::new(now)));
        tokens
            .install(pair(now, Duration::minutes(1)))
            .await
            .expect("install");
        let mut newer = pair(now, Duration::hours(4));
        newer.access_token = "access-other".to_string().into();
        newer.refresh_token = "refresh-other".to_string().into();
        store.save("shopee-a", &newer).await.expect("other process");
        let token = tokens.access(&Refuses).await.expect("adopted");
        assert_eq!(token.expose_secret(), "access-other");
    }

    /// Answers as the platform would after a first refresh whose answer was
    /// lost: `second` decides what the repeat gets.
    struct LostOnce {
        calls: AtomicU32,
        second: fn() -> Result<TokenPair, ConnectorError>,
    }

    #[async_trait]
    impl Refresher for LostOnce {
        async fn refresh(&self, _: &SecretString) -> Result<TokenPair, ConnectorError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(ConnectorError::Ambiguous("answer lost".into()));
            }
            (self.second)()
        }
    }

    async fn expiring(store: Arc<MemoryCredentials>) -> Tokens {
        let now = at();
        let tokens = Tokens::new("shopee-a", store, Arc::new(FixedClock::new(now)));
        tokens
            .install(pair(now, Duration::minutes(1)))
            .await
            .expect("install");
        tokens
    }

    #[tokio::test]
    async fn a_refresh_whose_answer_was_lost_and_whose_token_is_spent_pauses_the_channel() {
        let tokens = expiring(Arc::new(MemoryCredentials::default())).await;
        let refresher = LostOnce {
            calls: AtomicU32::new(0),
            second: || {
                Err(ConnectorError::Unauthorized(
                    "error_shop_refresh_token".into(),
                ))
            },
        };
        let Err(ConnectorError::Unauthorized(why)) = tokens.access(&refresher).await else {
            panic!("a spent refresh token must pause the channel");
        };
        assert!(
            why.starts_with("paused: re-authorize channel shopee-a"),
            "{why}"
        );
        assert!(why.contains("answer lost") && why.contains("error_shop_refresh_token"));
        assert_eq!(
            refresher.calls.load(Ordering::SeqCst),
            2,
            "tried once more, no more"
        );
    }

    #[tokio::test]
    async fn a_refresh_whose_answer_was_lost_is_tried_once_more_when_nothing_was_spent() {
        let store = Arc::new(MemoryCredentials::default());
        let tokens = expiring(store.clone()).await;
        let refresher = LostOnce {
            calls: AtomicU32::new(0),
            second: || {
                let mut fresh = pair(at(), Duration::hours(4));
                fresh.access_token = "access-2".to_string().into();
                fresh.refresh_token = "refresh-2".to_string().into();
                Ok(fresh)
            },
        };
        let token = tokens.access(&refresher).await.expect("second try");
        assert_eq!(token.expose_secret(), "access-2");
        let saved = store.load("shopee-a").await.expect("load").expect("pair");
        assert_eq!(saved.refresh_token.expose_secret(), "refresh-2");
    }

    #[tokio::test]
    async fn a_refresh_whose_answer_was_lost_takes_the_pair_another_process_saved() {
        let store = Arc::new(MemoryCredentials::default());
        let tokens = expiring(store.clone()).await;
        let mut newer = pair(at(), Duration::hours(4));
        newer.access_token = "access-other".to_string().into();
        newer.refresh_token = "refresh-other".to_string().into();
        store.save("shopee-a", &newer).await.expect("other process");
        let refresher = LostOnce {
            calls: AtomicU32::new(0),
            second: || Err(ConnectorError::Transient("must not be asked".into())),
        };
        let token = tokens.access(&refresher).await.expect("adopted");
        assert_eq!(token.expose_secret(), "access-other");
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1, "not repeated");
    }

    /// Tokens in memory whose access token is good for `hours` more, and a
    /// refresher that counts its calls.
    async fn installed_for_hours(hours: i64) -> (Tokens, CountingRefresher) {
        let now = at();
        let store = Arc::new(MemoryCredentials::default());
        let tokens = Tokens::new("shopee-a", store, Arc::new(FixedClock::new(now)));
        tokens
            .install(pair(now, Duration::hours(hours)))
            .await
            .expect("install");
        let refresher = CountingRefresher {
            calls: AtomicU32::new(0),
            now,
        };
        (tokens, refresher)
    }

    #[tokio::test]
    async fn a_refused_token_is_refreshed_once_even_if_many_saw_it() {
        let (tokens, refresher) = installed_for_hours(3).await;
        let stale: SecretString = "access-0".to_string().into();
        let first = tokens.refused(&stale, &refresher).await.expect("refresh");
        let second = tokens
            .refused(&stale, &refresher)
            .await
            .expect("already fresh");
        assert_eq!(first.expose_secret(), "access-1");
        assert_eq!(second.expose_secret(), "access-1");
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_call_whose_token_is_refused_is_made_again_once_with_a_fresh_one() {
        let (tokens, refresher) = installed_for_hours(3).await;
        let is_refusal = |e: &ConnectorError| matches!(e, ConnectorError::Unauthorized(_));
        let used = std::sync::Mutex::new(Vec::new());
        // Refuses the tokens in `refused`, answers with the token otherwise.
        let call = |refused: &'static [&'static str]| {
            let used = &used;
            move |token: SecretString| async move {
                let token = token.expose_secret().to_string();
                used.lock().expect("lock").push(token.clone());
                if refused.contains(&token.as_str()) {
                    Err(ConnectorError::Unauthorized("invalid_access_token".into()))
                } else {
                    Ok(token)
                }
            }
        };

        let answer = tokens
            .with_access(&refresher, is_refusal, call(&["access-0"]))
            .await;
        assert_eq!(answer, Ok("access-1".to_string()));
        assert_eq!(*used.lock().expect("lock"), ["access-0", "access-1"]);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);

        // Refused with the fresh token too: returned after one more refresh.
        used.lock().expect("lock").clear();
        let answer = tokens
            .with_access(&refresher, is_refusal, call(&["access-1", "access-2"]))
            .await;
        assert!(matches!(answer, Err(ConnectorError::Unauthorized(_))));
        assert_eq!(*used.lock().expect("lock"), ["access-1", "access-2"]);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 2);

        // Any other failure is the call's own: not repeated.
        used.lock().expect("lock").clear();
        let answer = tokens
            .with_access(&refresher, is_refusal, |_| async {
                used.lock().expect("lock").push("once".to_string());
                Err::<(), _>(ConnectorError::Transient("HTTP 503".into()))
            })
            .await;
        assert_eq!(answer, Err(ConnectorError::Transient("HTTP 503".into())));
        assert_eq!(*used.lock().expect("lock"), ["once"]);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refresh_ahead_refreshes_only_within_its_margin_and_once() {
        let (tokens, refresher) = installed_for_hours(1).await;
        let far = tokens
            .refresh_ahead(Duration::minutes(30), &refresher)
            .await
            .expect("checked");
        assert!(!far.refreshed);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 0);
        let near = tokens
            .refresh_ahead(Duration::minutes(90), &refresher)
            .await
            .expect("refreshed");
        assert!(near.refreshed);
        assert_eq!(near.expiry.access_expires_at, at() + Duration::hours(4));
        let again = tokens
            .refresh_ahead(Duration::minutes(90), &refresher)
            .await
            .expect("fresh now");
        assert!(!again.refreshed, "the fresh pair holds 4 hours");
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refresh_refused_for_good_is_not_asked_again_and_told_once() {
        struct Refuses(AtomicU32);
        #[async_trait]
        impl Refresher for Refuses {
            async fn refresh(&self, _: &SecretString) -> Result<TokenPair, ConnectorError> {
                self.0.fetch_add(1, Ordering::SeqCst);
                Err(ConnectorError::Unauthorized(
                    "error_shop_refresh_token".into(),
                ))
            }
        }
        let (tokens, refresher) = installed_for_hours(3).await;
        let refuses = Refuses(AtomicU32::new(0));
        assert_eq!(tokens.take_refused_refresh(), None);
        assert!(tokens.refresh_now(&refuses).await.is_err());
        assert!(tokens.refresh_now(&refuses).await.is_err());
        assert_eq!(refuses.0.load(Ordering::SeqCst), 1, "asked once");
        assert_eq!(
            tokens.take_refused_refresh().as_deref(),
            Some("error_shop_refresh_token")
        );
        assert_eq!(tokens.take_refused_refresh(), None, "told once");
        // The seller consents again: the new pair refreshes as usual.
        tokens
            .install(pair(at(), Duration::hours(3)))
            .await
            .expect("install");
        tokens.refresh_now(&refresher).await.expect("refreshed");
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        assert_eq!(tokens.take_refused_refresh(), None);
    }

    #[test]
    fn debug_output_hides_the_tokens() {
        let shown = format!("{:?}", pair(at(), Duration::hours(1)));
        assert!(
            !shown.contains("access-0") && !shown.contains("refresh-0"),
            "{shown}"
        );
    }
}
