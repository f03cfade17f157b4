//! Test support shared by the kiosk's and the platform's integration tests: scratch
//! directories, the platform's binary started on loopback, a throwaway PostgreSQL cluster
//! (PostgreSQL's own `initdb`/`pg_ctl`, as the `postgres` user when run as root) and HAProxy.
//!
//! Invariant: standard library only, so the kiosk's tests compile no database driver.

pub mod bench;
pub mod pg;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A binary of another package of the workspace (the platform's `borne-platform`): Cargo builds
/// it beside this target's own binaries when the whole workspace is built (`cargo test`,
/// `cargo bench --workspace`); the kiosk package itself never depends on it.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of this test binary");
    // target/<profile>/deps/<this binary> → target/<profile>/<name>
    let path = exe.parent().and_then(Path::parent).map(|dir| dir.join(name)).expect("the target directory");
    assert!(
        path.exists(),
        "{} is missing: build the whole workspace (cargo test --workspace), which builds it",
        path.display()
    );
    path
}

/// A scratch directory removed at the end of the test.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "borne-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small deterministic random generator (a linear congruential generator): tests and
/// benchmarks replay the same sequence from a seed.
pub struct Lcg(pub u64);

impl Lcg {
    // Not an Iterator: it never ends, and callers want a number, not an Option.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A running `borne-platform serve`, killed on drop.
pub struct PlatformProcess {
    pub child: Child,
    pub url: String,
}

impl PlatformProcess {
    /// Starts `borne-platform serve --listen ADDRESS` with `args`, and waits for its address.
    pub fn start(binary: &Path, listen: &str, args: &[&std::ffi::OsStr]) -> PlatformProcess {
        PlatformProcess::start_wrapped(&[], binary, listen, args)
    }

    /// The same, run through `wrapper` (a command and its arguments that then run the binary,
    /// such as `prlimit --nofile=128:128 --`).
    pub fn start_wrapped(wrapper: &[&str], binary: &Path, listen: &str, args: &[&std::ffi::OsStr]) -> PlatformProcess {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args(["serve", "--listen", listen])
            .args(args)
            .env_remove("DATABASE_URL")
            .env("BORNE_LOG", std::env::var("BORNE_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("borne-platform starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("its first line");
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("platform did not start: {line:?}"));
        PlatformProcess { url: url.to_string(), child }
    }

    /// SIGTERM, then waits for the process to end.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("the platform ends")
    }
}

impl Drop for PlatformProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HAProxy in front of `backends` (round robin, health checks on `/v1/health`), on loopback.
pub struct Haproxy {
    child: Child,
    pub url: String,
    _dir: Scratch,
}

impl Haproxy {
    pub fn start(backends: &[String]) -> Haproxy {
        Haproxy::start_with(backends, "")
    }

    /// HAProxy with `server_options` on each server line (say `send-proxy-v2`, the PROXY
    /// protocol); `option forwardfor` adds `X-Forwarded-For` either way.
    pub fn start_with(backends: &[String], server_options: &str) -> Haproxy {
        let dir = Scratch::new("haproxy");
        let port = free_port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let address = url.trim_start_matches("http://");
                format!("    server platform{i} {address} check inter 500ms fall 2 rise 1 {server_options}\n")
            })
            .collect();
        let config = format!(
            "global\n    maxconn 4096\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    retries 0\n\
             frontend kiosks\n    bind 127.0.0.1:{port}\n    default_backend platform\n\
             backend platform\n    balance roundrobin\n    option forwardfor\n    option httpchk GET /v1/health\n{servers}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).expect("haproxy.cfg");
        let check = Command::new("haproxy").arg("-c").arg("-f").arg(&path).output().expect("haproxy is installed");
        assert!(check.status.success(), "haproxy -c: {}", String::from_utf8_lossy(&check.stderr));
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts");
        let mut haproxy = Haproxy { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return haproxy;
            }
            if let Ok(Some(status)) = haproxy.child.try_wait() {
                panic!("HAProxy ended before listening ({status})");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("HAProxy never listened on 127.0.0.1:{port}");
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
