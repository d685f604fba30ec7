//! Sessions issued by the built-in IAM service: temporary AK/SK with their
//! security token, and `X-Auth-Token`s. Made by traffic, they live outside
//! the snapshot (DESIGN.md, "State that outlives a snapshot"): a session
//! names its agency or user, and its principal is resolved per request
//! against the current snapshot, so a reload that changes an agency's
//! policies applies at once and a deleted agency ends its sessions.
//!
//! The store is bounded: when full it first drops sessions expired for
//! longer than [`EXPIRED_KEPT`], then refuses to issue rather than forget a
//! live session. Expired sessions are kept that long so a client hears
//! "token expires" rather than "ak not found".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::directory::{Directory, Principal};

/// How long an expired session is still recognised (to say it expired).
pub const EXPIRED_KEPT: Duration = Duration::minutes(15);

/// Whose permissions a session carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOf {
    /// An agency session: `sts::<account>:assumed-agency:<agency>/<session>`.
    Agency {
        account: String,
        agency: String,
        session: String,
    },
    /// The caller's own identity (password token, `token` method keys).
    User {
        account: String,
        user: Option<String>,
    },
}

/// One issued credential.
pub struct Session {
    pub of: SessionOf,
    /// Empty for an `X-Auth-Token`.
    pub secret: String,
    /// The security token of temporary AK/SK; empty for an `X-Auth-Token`.
    pub security_token: String,
    pub expires_at: OffsetDateTime,
    pub mfa: bool,
}

/// Never print a secret or token.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("of", &self.of)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The principal this session acts as, resolved against `dir`; `None`
    /// once its agency or user no longer exists.
    pub fn principal(&self, dir: &Directory) -> Option<Arc<Principal>> {
        match &self.of {
            SessionOf::Agency {
                account,
                agency,
                session,
            } => dir
                .agency(account, agency)
                .map(|a| Arc::new(a.session_principal(session))),
            SessionOf::User { account, user } => dir.principal(account, user.as_deref()).cloned(),
        }
    }

    /// `expires_at` as IAM writes it (`2026-01-08T02:56:19.587000Z`).
    pub fn expires_text(&self) -> String {
        iam_time(self.expires_at)
    }
}

/// A time as IAM answers it: UTC, microseconds, `Z`.
pub fn iam_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The store refused to issue: it holds `capacity` live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session store is full ({0} live sessions)")]
pub struct StoreFull(pub usize);

/// Temporary AK/SK by access key id, and `X-Auth-Token`s by token.
#[derive(Debug)]
pub struct SessionStore {
    capacity: usize,
    inner: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    keys: HashMap<String, Arc<Session>>,
    tokens: HashMap<String, Arc<Session>>,
}

impl Maps {
    fn len(&self) -> usize {
        self.keys.len() + self.tokens.len()
    }

    fn purge(&mut self, now: OffsetDateTime) {
        let live = |s: &Arc<Session>| s.expires_at + EXPIRED_KEPT > now;
        self.keys.retain(|_, s| live(s));
        self.tokens.retain(|_, s| live(s));
    }
}

/// What an issue returns: the new access key id (or token) and the session.
pub struct Issued {
    pub id: String,
    pub session: Arc<Session>,
}

impl SessionStore {
    pub fn new(capacity: usize) -> SessionStore {
        SessionStore {
            capacity,
            inner: Mutex::new(Maps::default()),
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // A panic while holding the lock cannot leave the maps half-changed
        // (every change is one insert or retain), so a poisoned lock is usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn room(&self, maps: &mut Maps, now: OffsetDateTime) -> Result<(), StoreFull> {
        if maps.len() >= self.capacity {
            maps.purge(now);
        }
        if maps.len() >= self.capacity {
            return Err(StoreFull(self.capacity));
        }
        Ok(())
    }

    /// Issue temporary AK/SK + security token valid for `seconds`.
    pub fn issue_keys(
        &self,
        of: SessionOf,
        seconds: u32,
        now: OffsetDateTime,
    ) -> Result<Issued, StoreFull> {
        let mut maps = self.maps();
        self.room(&mut maps, now)?;
        let id = random_upper(20);
        let session = Arc::new(Session {
            of,
            secret: random_upper(40),
            security_token: format!("gQpzdHMt{}", random_upper(96)),
            expires_at: now + Duration::seconds(i64::from(seconds)),
            mfa: false,
        });
        maps.keys.insert(id.clone(), session.clone());
        Ok(Issued { id, session })
    }

    /// Issue an `X-Auth-Token` valid for `seconds`.
    pub fn issue_token(
        &self,
        of: SessionOf,
        seconds: u32,
        now: OffsetDateTime,
    ) -> Result<Issued, StoreFull> {
        let mut maps = self.maps();
        self.room(&mut maps, now)?;
        let id = format!("MIIT{}", random_upper(124));
        let session = Arc::new(Session {
            of,
            secret: String::new(),
            security_token: String::new(),
            expires_at: now + Duration::seconds(i64::from(seconds)),
            mfa: false,
        });
        maps.tokens.insert(id.clone(), session.clone());
        Ok(Issued { id, session })
    }

    /// The session of a temporary access key id.
    pub fn key(&self, access_key: &str) -> Option<Arc<Session>> {
        self.maps().keys.get(access_key).cloned()
    }

    /// The session of an issued `X-Auth-Token`.
    pub fn token(&self, token: &str) -> Option<Arc<Session>> {
        self.maps().tokens.get(token).cloned()
    }
}

/// `n` random characters of `A-Z0-9` (from v4 UUIDs: the OS's random source).
fn random_upper(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() < n {
                out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn of() -> SessionOf {
        SessionOf::User {
            account: "a1".into(),
            user: Some("u".into()),
        }
    }

    #[test]
    fn issued_keys_and_tokens_are_found_and_distinct() {
        let store = SessionStore::new(10);
        let now = OffsetDateTime::now_utc();
        let a = store.issue_keys(of(), 900, now).unwrap();
        let b = store.issue_keys(of(), 900, now).unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 20);
        assert_eq!(a.session.secret.len(), 40);
        assert_eq!(
            store.key(&a.id).unwrap().security_token,
            a.session.security_token
        );
        assert!(store.token(&a.id).is_none(), "keys and tokens are separate");
        let t = store.issue_token(of(), 60, now).unwrap();
        assert_eq!(
            store.token(&t.id).unwrap().expires_at,
            now + Duration::seconds(60)
        );
    }

    #[test]
    fn a_full_store_drops_long_expired_sessions_then_refuses() {
        let store = SessionStore::new(2);
        let long_ago = OffsetDateTime::now_utc() - Duration::hours(2);
        let old = store.issue_keys(of(), 900, long_ago).unwrap();
        let now = OffsetDateTime::now_utc();
        let live = store.issue_keys(of(), 900, now).unwrap();
        let third = store.issue_keys(of(), 900, now).unwrap();
        assert!(store.key(&old.id).is_none(), "expired long ago: dropped");
        assert!(store.key(&live.id).is_some() && store.key(&third.id).is_some());
        assert_eq!(store.issue_token(of(), 900, now).err(), Some(StoreFull(2)));
    }

    #[test]
    fn iam_time_has_microseconds_and_z() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(iam_time(t), "2023-11-14T22:13:20.000000Z");
    }
}
