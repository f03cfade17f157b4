//! A manager's sign-in: argon2id password hashes, sessions, login rate limiting, random tokens
//! (sessions, CSRF) and constant-time comparison. Where a hash is kept is the server's business.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

pub const MIN_PASSWORD_CHARS: usize = 12;
/// A session lasts at most this long, however active.
pub const SESSION_MAX: Duration = Duration::from_secs(12 * 3600);
/// After this many failures from one address, the delay stops growing.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// 32 random bytes from the operating system, in hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

/// The argon2id hash (PHC string) of a new password, after checking its length.
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("mot de passe trop court : au moins {MIN_PASSWORD_CHARS} caractères"));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// A new password, read from the terminal (twice, not echoed) or, when standard input is not a
/// terminal, its first line; checked and hashed: the argon2id PHC string is returned.
pub fn read_new_password(prompt: &str) -> Result<String, String> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Encore une fois : ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("les deux saisies diffèrent : rien n'a changé".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    hash_password(&password)
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    /// What the server wants to compare later (the kiosk: its password's fingerprint, so that a
    /// new password ends the sessions opened under the old one).
    pub key: String,
    created: Instant,
    last_seen: Instant,
}

/// Sessions in memory: a restart logs everyone out, which is what a kiosk wants.
pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions { idle, map: Mutex::new(HashMap::new()) }
    }

    /// A new session, tagged with `key`: (cookie value, CSRF token).
    pub fn open(&self, now: Instant, key: &str) -> (String, String) {
        let id = random_token();
        let csrf = random_token();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| !self.expired(s, now));
        map.insert(id.clone(), Session { csrf: csrf.clone(), key: key.to_string(), created: now, last_seen: now });
        (id, csrf)
    }

    /// The live session of this cookie value, its idle time reset.
    pub fn touch(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let expired = map.get(id).is_some_and(|s| self.expired(s, now));
        if expired {
            map.remove(id);
            return None;
        }
        let session = map.get_mut(id)?;
        session.last_seen = now;
        Some(session.clone())
    }

    pub fn close(&self, id: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) >= self.idle || now.duration_since(s.created) >= SESSION_MAX
    }
}

/// Failures older than this are forgotten: the count starts again.
pub const FAILURES_FORGOTTEN_AFTER: Duration = Duration::from_secs(3600);
/// An account's wait stops growing here: someone guessing another's password can slow its
/// owner down, never lock them out for long (the address's own wait keeps growing).
pub const ACCOUNT_MAX_DELAY: Duration = Duration::from_secs(5 * 60);

/// What is known of one key's recent failures (an account, or an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Failed sign-ins in a row (forgotten after [`FAILURES_FORGOTTEN_AFTER`] without one).
    pub count: u32,
    pub last: SystemTime,
}

/// Where sign-in failures are counted, per account and per client address, and only
/// failures: a success counts nothing and clears the account's and the address's. The
/// platform keeps them in its database (every instance sees the same), the kiosk in memory.
pub trait FailureLog: Sync {
    type Error;
    /// The failures on record for this account and for this address.
    fn recent(
        &self,
        account: &str,
        ip: IpAddr,
    ) -> impl Future<Output = Result<(Option<Failures>, Option<Failures>), Self::Error>> + Send;
    /// One more failure for both, at `now`; the counts after it (account, address).
    fn failed(
        &self,
        account: &str,
        ip: IpAddr,
        now: SystemTime,
    ) -> impl Future<Output = Result<(u32, u32), Self::Error>> + Send;
    /// A success: both are cleared.
    fn succeeded(&self, account: &str, ip: IpAddr) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// How long before the next attempt, given an account's and an address's failures.
pub fn wait(account: Option<Failures>, address: Option<Failures>, now: SystemTime) -> Option<Duration> {
    let left = |f: Option<Failures>, cap: Duration| {
        let f = f?;
        let since = now.duration_since(f.last).unwrap_or(Duration::ZERO);
        if since >= FAILURES_FORGOTTEN_AFTER {
            return None;
        }
        delay(f.count).min(cap).checked_sub(since).filter(|d| !d.is_zero())
    };
    match (left(account, ACCOUNT_MAX_DELAY), left(address, MAX_DELAY)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Failures in memory (the kiosk: one process, one manager).
#[derive(Default)]
pub struct MemoryFailures {
    map: Mutex<HashMap<(bool, String), Failures>>,
}

impl MemoryFailures {
    fn get(&self, key: (bool, String)) -> Option<Failures> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(&key).copied()
    }

    fn bump(&self, key: (bool, String), now: SystemTime) -> u32 {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, f| now.duration_since(f.last).unwrap_or(Duration::ZERO) < FAILURES_FORGOTTEN_AFTER);
        let entry = map.entry(key).or_insert(Failures { count: 0, last: now });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.count
    }
}

impl FailureLog for MemoryFailures {
    type Error = std::convert::Infallible;

    async fn recent(&self, account: &str, ip: IpAddr) -> Result<(Option<Failures>, Option<Failures>), Self::Error> {
        Ok((self.get((true, account.to_string())), self.get((false, ip.to_string()))))
    }

    async fn failed(&self, account: &str, ip: IpAddr, now: SystemTime) -> Result<(u32, u32), Self::Error> {
        Ok((self.bump((true, account.to_string()), now), self.bump((false, ip.to_string()), now)))
    }

    async fn succeeded(&self, account: &str, ip: IpAddr) -> Result<(), Self::Error> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&(true, account.to_string()));
        map.remove(&(false, ip.to_string()));
        Ok(())
    }
}

/// Refused sign-ins in the log: each one while they are few (at most
/// `REFUSALS_LOGGED_PER_MINUTE` a minute); past that, one summary line per minute with how
/// many were left out, so that a flood neither fills the journal nor goes unseen.
#[derive(Default)]
pub struct RefusalLog {
    window: Mutex<(Option<Instant>, u32, u32)>,
}

pub const REFUSALS_LOGGED_PER_MINUTE: u32 = 20;

impl RefusalLog {
    /// Whether this refusal should be logged on its own line; logs the previous minute's
    /// summary when a new minute starts.
    pub fn admit(&self, server: &str, now: Instant) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let (start, logged, left_out) = &mut *w;
        if start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(60)) {
            if *left_out > 0 {
                tracing::warn!(
                    server,
                    left_out = *left_out,
                    "more refused sign-ins in the last minute (not logged one by one)"
                );
            }
            *start = Some(now);
            *logged = 0;
            *left_out = 0;
        }
        if *logged < REFUSALS_LOGGED_PER_MINUTE {
            *logged += 1;
            true
        } else {
            *left_out += 1;
            false
        }
    }
}

/// Password verifications one at a time, on one thread of their own (argon2id takes about
/// 19 MiB and tens of milliseconds each; one thread keeps that memory in one place instead of
/// one allocator arena per worker), with a few waiting their turn; beyond, `Busy` at once,
/// before any hashing: however many logins arrive together, the memory and the core they take
/// stay those of one.
pub struct Verifier {
    checks: std::sync::mpsc::Sender<Check>,
    admitted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Argon2 verifications run (known accounts and unknown alike).
    verified: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

struct Check {
    password: String,
    hash: Option<String>,
    answer: tokio::sync::oneshot::Sender<bool>,
}

/// Too many logins at once: answer 429 and let the client come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// How many verifications may wait behind the running one.
pub const VERIFY_QUEUE: usize = 4;

/// A place among the verifications admitted (the running one and those waiting); given back
/// when dropped.
pub struct Ticket<'a> {
    verifier: &'a Verifier,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.verifier.admitted.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Default for Verifier {
    fn default() -> Self {
        let (checks, queue) = std::sync::mpsc::channel::<Check>();
        let verified = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = verified.clone();
        let spawned = std::thread::Builder::new().name("password-check".into()).spawn(move || {
            // No such account (or a disabled one): the same hashing against a hash of nothing,
            // so that the answer's time does not tell which accounts exist.
            let dummy = hash_password("aucun compte ne porte ce mot de passe").unwrap_or_default();
            for check in queue {
                let ok = match check.hash {
                    Some(hash) => verify_password(&check.password, &hash),
                    None => {
                        let _ = verify_password(&check.password, &dummy);
                        false
                    }
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = check.answer.send(ok);
            }
        });
        if let Err(e) = spawned {
            // The checks' receiver is gone with the closure: every login is then answered Busy.
            tracing::error!(error = %e, "no thread for password checks: logins refused");
        }
        Verifier { checks, admitted: Default::default(), verified }
    }
}

impl Verifier {
    /// How many verifications have run.
    pub fn verifications(&self) -> usize {
        self.verified.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A place among the `1 + VERIFY_QUEUE` verifications admitted, or `Busy` at once.
    pub fn admit(&self) -> Result<Ticket<'_>, Busy> {
        use std::sync::atomic::Ordering;
        let admitted = self.admitted.fetch_add(1, Ordering::SeqCst);
        let ticket = Ticket { verifier: self };
        if admitted > VERIFY_QUEUE {
            return Err(Busy);
        }
        Ok(ticket)
    }

    /// Checks `password` against the PHC string `hash` (none: always false), in turn.
    pub async fn verify(&self, _ticket: &Ticket<'_>, password: String, hash: Option<String>) -> Result<bool, Busy> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.checks.send(Check { password, hash, answer }).map_err(|_| Busy)?;
        answered.await.map_err(|_| Busy)
    }
}

/// What became of a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Too soon after failures for this account or from this address: wait this long.
    Throttled(Duration),
    /// Too many sign-ins at once: come back in a few seconds.
    Busy,
    /// Wrong password (or no such account): the failures in a row for the account and the
    /// address.
    Refused {
        account: u32,
        address: u32,
    },
    Accepted,
}

/// What a sign-in form needs: the failures' waits, the one-at-a-time password check, and the
/// refusals' log, in the order both servers (the kiosk's dashboard, the platform's console)
/// apply them.
pub struct Gate {
    server: &'static str,
    verifier: Verifier,
    refusals: RefusalLog,
}

impl Gate {
    pub fn new(server: &'static str) -> Gate {
        Gate { server, verifier: Verifier::default(), refusals: RefusalLog::default() }
    }

    /// Checks `password` for `account` from `ip` against the hash `lookup` finds: refused at
    /// once while the account's or the address's wait runs, admitted among the verifications
    /// or `Busy` before the lookup, then verified in turn; no hash (no such account, or a
    /// disabled one) costs the same hashing and is refused. Only a wrong password counts, as
    /// a failure of the account and of the address; a success clears both. Every refusal is
    /// logged (a summary past a few a minute). A lookup or log error is returned as is. With
    /// `turn`, the hashing waits for one of its permits (a server's work taken in turn).
    pub async fn check<E, L: FailureLog>(
        &self,
        failures: &L,
        account: &str,
        ip: IpAddr,
        password: String,
        lookup: impl Future<Output = Result<Option<String>, E>>,
        turn: Option<&tokio::sync::Semaphore>,
    ) -> Result<Attempt, E>
    where
        E: From<L::Error>,
    {
        let (on_account, on_address) = failures.recent(account, ip).await?;
        if let Some(wait) = wait(on_account, on_address, SystemTime::now()) {
            if self.refusals.admit(self.server, Instant::now()) {
                tracing::warn!(server = self.server, %ip, account, wait_s = wait.as_secs(), "sign-in throttled");
            }
            return Ok(Attempt::Throttled(wait));
        }
        let Ok(ticket) = self.verifier.admit() else {
            if self.refusals.admit(self.server, Instant::now()) {
                tracing::warn!(server = self.server, %ip, account, "sign-in refused: too many at once");
            }
            return Ok(Attempt::Busy);
        };
        let hash = lookup.await?;
        let _permit = match turn {
            Some(semaphore) => match semaphore.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => return Ok(Attempt::Busy),
            },
            None => None,
        };
        Ok(match self.verifier.verify(&ticket, password, hash).await {
            Ok(true) => {
                failures.succeeded(account, ip).await?;
                Attempt::Accepted
            }
            Ok(false) => {
                let (account_failures, address) = failures.failed(account, ip, SystemTime::now()).await?;
                if self.refusals.admit(self.server, Instant::now()) {
                    tracing::warn!(
                        server = self.server, %ip, account, account_failures, address_failures = address,
                        "sign-in failed"
                    );
                }
                Attempt::Refused { account: account_failures, address }
            }
            Err(Busy) => Attempt::Busy,
        })
    }
}

/// 1 s after the first failure, then 2, 4, 8… up to 15 minutes.
pub fn delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs(1u64 << (failures - 1).min(20)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twenty logins at once: five are admitted and checked in turn (the running one and the
    /// queue), the others are refused at once, before any hashing; the answers are right.
    #[test]
    fn password_checks_run_one_at_a_time_and_the_overflow_is_refused() {
        let hash = hash_password("un mot de passe assez long").unwrap();
        let verifier = Verifier::default();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let answers = runtime.block_on(async {
            let checks = (0..20).map(|i| {
                let password = if i % 2 == 0 { "un mot de passe assez long" } else { "faux" };
                let (verifier, hash) = (&verifier, hash.clone());
                async move {
                    let ticket = verifier.admit()?;
                    verifier.verify(&ticket, password.to_string(), Some(hash)).await
                }
            });
            let mut futures: Vec<_> = checks.map(Box::pin).collect();
            // Submit them all before awaiting any (each is queued or refused on its first poll).
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let mut done = Vec::new();
            for f in futures.iter_mut() {
                done.push(match f.as_mut().poll(&mut cx) {
                    std::task::Poll::Ready(r) => Some(r),
                    std::task::Poll::Pending => None,
                });
            }
            let mut answers = Vec::new();
            for (f, ready) in futures.into_iter().zip(done) {
                answers.push(match ready {
                    Some(r) => r,
                    None => f.await,
                });
            }
            answers
        });
        let checked: Vec<(usize, bool)> =
            answers.iter().enumerate().filter_map(|(i, a)| a.ok().map(|ok| (i, ok))).collect();
        assert_eq!(checked.len(), 1 + VERIFY_QUEUE, "{answers:?}");
        assert!(checked.iter().all(|(i, ok)| *ok == (i % 2 == 0)), "{answers:?}");
        assert_eq!(answers.iter().filter(|a| **a == Err(Busy)).count(), 20 - checked.len());
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        assert!(hash_password("court").is_err());
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterx", &phc));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn delays_grow_and_cap_per_account_and_per_address() {
        assert_eq!(delay(1), Duration::from_secs(1));
        assert_eq!(delay(4), Duration::from_secs(8));
        assert_eq!(delay(40), MAX_DELAY);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let f = |count, ago: u64| Some(Failures { count, last: now - Duration::from_secs(ago) });
        assert_eq!(wait(None, None, now), None);
        assert_eq!(wait(f(2, 0), None, now), Some(Duration::from_secs(2)));
        assert_eq!(wait(None, f(3, 1), now), Some(Duration::from_secs(3)));
        assert_eq!(wait(f(2, 2), None, now), None, "the wait is over");
        // An account's wait is capped; an address's grows to 15 minutes.
        assert_eq!(wait(f(30, 0), None, now), Some(ACCOUNT_MAX_DELAY));
        assert_eq!(wait(None, f(30, 0), now), Some(MAX_DELAY));
        assert_eq!(wait(f(30, 10), f(30, 20), now), Some(MAX_DELAY - Duration::from_secs(20)));
        // An hour without a failure: forgotten.
        assert_eq!(wait(None, f(30, 3600), now), None);
    }

    /// Failures count per account and per address, only failures, and a success clears both:
    /// two correct sign-ins at once both pass; one person's typos never delay another account
    /// signing in from another address.
    #[test]
    fn only_failures_count_and_only_their_own_keys() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let hash = hash_password("un mot de passe assez long").unwrap();
            let gate = Gate::new("test");
            let log = MemoryFailures::default();
            let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
            let lookup = || async { Ok::<_, std::convert::Infallible>(Some(hash.clone())) };
            let good = || "un mot de passe assez long".to_string();
            let (first, second) = tokio::join!(
                gate.check(&log, "alice", a, good(), lookup(), None),
                gate.check(&log, "alice", a, good(), lookup(), None)
            );
            assert_eq!((first.unwrap(), second.unwrap()), (Attempt::Accepted, Attempt::Accepted));
            let refused = gate.check(&log, "alice", a, "faux".into(), lookup(), None).await.unwrap();
            assert_eq!(refused, Attempt::Refused { account: 1, address: 1 });
            assert!(matches!(
                gate.check(&log, "alice", a, good(), lookup(), None).await.unwrap(),
                Attempt::Throttled(_)
            ));
            assert!(matches!(
                gate.check(&log, "alice", b, good(), lookup(), None).await.unwrap(),
                Attempt::Throttled(_)
            ));
            assert!(matches!(gate.check(&log, "bob", a, good(), lookup(), None).await.unwrap(), Attempt::Throttled(_)));
            assert_eq!(gate.check(&log, "bob", b, good(), lookup(), None).await.unwrap(), Attempt::Accepted);
        });
    }

    /// No account: the same argon2 work as a wrong password (a verification counted), and
    /// refused. (The time of both is measured by the hostile-clients benchmark.)
    #[test]
    fn an_unknown_account_costs_a_verification() {
        let verifier = Verifier::default();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let hash = hash_password("un mot de passe assez long").unwrap();
        let check = |hash: Option<String>| {
            runtime.block_on(async {
                let ticket = verifier.admit().unwrap();
                verifier.verify(&ticket, "faux mais long".into(), hash).await.unwrap()
            })
        };
        assert!(!check(Some(hash)));
        assert_eq!(verifier.verifications(), 1);
        assert!(!check(None));
        assert_eq!(verifier.verifications(), 2, "an unknown account is hashed too");
    }

    #[test]
    fn refusals_are_logged_one_by_one_then_summed_up_each_minute() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        let one_by_one = (0..100).filter(|_| log.admit("test", t0)).count();
        assert_eq!(one_by_one, REFUSALS_LOGGED_PER_MINUTE as usize);
        assert_eq!(log.window.lock().unwrap().2, 100 - REFUSALS_LOGGED_PER_MINUTE, "the rest counted for the summary");
        // A minute later, a fresh allowance (the summary is written as the minute turns).
        assert!(log.admit("test", t0 + Duration::from_secs(61)));
        assert_eq!(log.window.lock().unwrap().2, 0);
    }

    #[test]
    fn sessions_expire_when_idle() {
        let s = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let (id, csrf) = s.open(now, "k");
        assert_eq!(s.touch(&id, now + Duration::from_secs(59)).unwrap().csrf, csrf);
        assert!(s.touch(&id, now + Duration::from_secs(100)).is_some(), "activity keeps it alive");
        assert!(s.touch(&id, now + Duration::from_secs(161)).is_none());
        assert!(s.touch("nope", now).is_none());
    }
}
