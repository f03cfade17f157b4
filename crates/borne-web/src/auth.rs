//! A manager's sign-in: argon2id password hashes, sessions, login rate limiting, random tokens
//! (sessions, CSRF) and constant-time comparison. Where a hash is kept is the server's business.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
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

    /// A new session: (cookie value, CSRF token).
    pub fn open(&self, now: Instant) -> (String, String) {
        let id = random_token();
        let csrf = random_token();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| !self.expired(s, now));
        map.insert(id.clone(), Session { csrf: csrf.clone(), created: now, last_seen: now });
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

/// At most this many failed logins a minute, all addresses together: beyond, every address
/// waits (a crowd of addresses cannot try passwords faster than one can).
pub const OVERALL_FAILURES_PER_MINUTE: usize = 30;

/// Failed logins per client address: each failure doubles the wait before the next attempt;
/// and failed logins of all addresses together, at most `OVERALL_FAILURES_PER_MINUTE`.
#[derive(Default)]
pub struct Throttle {
    map: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    overall: Mutex<std::collections::VecDeque<Instant>>,
}

impl Throttle {
    /// An attempt from `ip` at `now`: refused with the wait left, or counted as a failure
    /// before the password is even checked (a concurrent attempt from the same address then
    /// waits, whatever the hash takes); `succeeded` clears it.
    pub fn attempt(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if let Some(wait) = self.wait(ip, now) {
            return Err(wait);
        }
        {
            let mut overall = self.overall.lock().unwrap_or_else(|e| e.into_inner());
            while overall.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60)) {
                overall.pop_front();
            }
            if overall.len() >= OVERALL_FAILURES_PER_MINUTE {
                let oldest = overall.front().copied().unwrap_or(now);
                return Err((oldest + Duration::from_secs(60))
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)));
            }
            overall.push_back(now);
        }
        self.failed(ip, now);
        Ok(())
    }

    /// The attempt counted by `attempt` was indeed a failure, answered at `now`: the wait
    /// counts from the answer, not from the request, so a slow hash does not eat it.
    pub fn answered_failure(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(ip).or_insert((1, now));
        entry.1 = now;
        entry.0
    }

    /// How long this address must still wait before trying again.
    pub fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (failures, last) = *map.get(&ip)?;
        let until = last + delay(failures);
        (now < until).then(|| until - now)
    }

    /// Records a failure; returns the number of failures in a row.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(3600));
        let entry = map.entry(ip).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        entry.0
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(&ip);
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
        let spawned = std::thread::Builder::new().name("password-check".into()).spawn(move || {
            for check in queue {
                let ok = check.hash.is_some_and(|hash| verify_password(&check.password, &hash));
                let _ = check.answer.send(ok);
            }
        });
        if let Err(e) = spawned {
            // The checks' receiver is gone with the closure: every login is then answered Busy.
            tracing::error!(error = %e, "no thread for password checks: logins refused");
        }
        Verifier { checks, admitted: Default::default() }
    }
}

impl Verifier {
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
    /// Too soon after failures from this address (or too many failures overall): wait this long.
    Throttled(Duration),
    /// Too many sign-ins at once: come back in a few seconds.
    Busy,
    /// Wrong password (or no such account), the `failures`-th in a row from this address.
    Refused {
        failures: u32,
    },
    Accepted,
}

/// What a sign-in form needs: the throttle and the one-at-a-time password check, in the order
/// both servers (the kiosk's dashboard, the platform's console) apply them.
#[derive(Default)]
pub struct Gate {
    throttle: Throttle,
    verifier: Verifier,
}

impl Gate {
    /// Checks `password` from `ip` against the hash `lookup` finds: counted as a failure before
    /// anything is hashed (cleared on success), admitted among the verifications or `Busy`
    /// before the lookup, then verified in turn; no hash (no such account) costs the same and
    /// is refused. A lookup error is returned as is (and the attempt stays counted). With
    /// `turn`, the hashing waits for one of its permits (a server's work taken in turn).
    pub async fn check<E>(
        &self,
        ip: IpAddr,
        password: String,
        lookup: impl Future<Output = Result<Option<String>, E>>,
        turn: Option<&tokio::sync::Semaphore>,
    ) -> Result<Attempt, E> {
        if let Err(wait) = self.throttle.attempt(ip, Instant::now()) {
            return Ok(Attempt::Throttled(wait));
        }
        let Ok(ticket) = self.verifier.admit() else { return Ok(Attempt::Busy) };
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
                self.throttle.succeeded(ip);
                Attempt::Accepted
            }
            // The wait counts from the answer, not from the request: a slow hash must not eat it.
            Ok(false) => Attempt::Refused { failures: self.throttle.answered_failure(ip, Instant::now()) },
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
    fn delays_grow_and_cap() {
        assert_eq!(delay(1), Duration::from_secs(1));
        assert_eq!(delay(4), Duration::from_secs(8));
        assert_eq!(delay(40), MAX_DELAY);
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let now = Instant::now();
        assert_eq!(t.wait(ip, now), None);
        t.failed(ip, now);
        t.failed(ip, now);
        assert_eq!(t.wait(ip, now), Some(Duration::from_secs(2)));
        assert_eq!(t.wait(ip, now + Duration::from_secs(2)), None);
        t.succeeded(ip);
        t.failed(ip, now);
        assert_eq!(t.wait(ip, now), Some(Duration::from_secs(1)));
    }

    #[test]
    fn sessions_expire_when_idle() {
        let s = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let (id, csrf) = s.open(now);
        assert_eq!(s.touch(&id, now + Duration::from_secs(59)).unwrap().csrf, csrf);
        assert!(s.touch(&id, now + Duration::from_secs(100)).is_some(), "activity keeps it alive");
        assert!(s.touch(&id, now + Duration::from_secs(161)).is_none());
        assert!(s.touch("nope", now).is_none());
    }
}
