//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a scratch directory,
//! `pg_ctl start` on a free loopback port, its socket in that directory; as the `postgres` user
//! when run as root (PostgreSQL refuses to run as root). Stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// The server's programs: `$BORNE_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("BORNE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgCluster {
    /// A new cluster with `settings` (`name=value`, e.g. `fsync=off` for speed in tests), or
    /// why not.
    pub fn start(settings: &[&str]) -> Result<PgCluster, String> {
        PgCluster::start_with(settings, &[])
    }

    /// A cluster that also takes TLS: `ssl = on` with this certificate and key (PEM); every
    /// other setting as [`PgCluster::start`].
    pub fn start_tls(settings: &[&str], cert_pem: &str, key_pem: &str) -> Result<PgCluster, String> {
        let mut all: Vec<&str> = vec!["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"];
        all.extend_from_slice(settings);
        PgCluster::start_with(&all, &[("server.crt", cert_pem), ("server.key", key_pem)])
    }

    /// A cluster with `settings`, and `files` written into its data directory (the server's
    /// own, mode 0600) before it starts.
    fn start_with(settings: &[&str], files: &[(&str, &str)]) -> Result<PgCluster, String> {
        let bin = bin_dir().ok_or("PostgreSQL's server programs are missing (Debian package postgresql)")?;
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "borne-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let cluster = PgCluster { bin, dir, port: crate::free_port(), as_postgres };
        if as_postgres {
            cluster.run(Command::new("chown").arg("-R").arg("postgres:postgres").arg(&cluster.dir))?;
        }
        cluster.run(
            cluster
                .tool("initdb")
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "-D"])
                .arg(cluster.data()),
        )?;
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nmax_connections = 300\n",
            cluster.port,
            cluster.dir.display()
        );
        for setting in settings {
            conf.push_str(setting);
            conf.push('\n');
        }
        for (name, text) in files {
            let path = cluster.data().join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            cluster.run(Command::new("chmod").arg("600").arg(&path))?;
            if as_postgres {
                cluster.run(Command::new("chown").arg("postgres:postgres").arg(&path))?;
            }
        }
        let auto = cluster.data().join("postgresql.auto.conf");
        let existing = std::fs::read_to_string(&auto).unwrap_or_default();
        std::fs::write(&auto, existing + &conf).map_err(|e| e.to_string())?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// A cluster for a test: fails under `CI=true` when PostgreSQL is missing, as everywhere.
    pub fn for_test() -> PgCluster {
        PgCluster::start(&["fsync = off", "synchronous_commit = off", "full_page_writes = off"])
            .unwrap_or_else(|e| panic!("PostgreSQL needed: {e}"))
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn run(&self, cmd: &mut Command) -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn start_server(&self) -> Result<(), String> {
        let log = self.dir.join("server.log");
        self.run(self.tool("pg_ctl").arg("-D").arg(self.data()).arg("-l").arg(&log).args(["-w", "-t", "60", "start"]))
    }

    /// Stops the server (fast: running transactions are cut, as in a crash of the clients'
    /// connections).
    pub fn stop(&self) -> Result<(), String> {
        self.run(self.tool("pg_ctl").arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]))
    }

    pub fn start_again(&self) -> Result<(), String> {
        self.start_server()
    }

    /// A new, empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        let psql = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres", "-qc"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .output()
            .expect("psql (Debian package postgresql-client)");
        assert!(psql.status.success(), "CREATE DATABASE {name}: {}", String::from_utf8_lossy(&psql.stderr));
        self.url(name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL through psql, returning its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", database, "-XAtqc", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.run(self.tool("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
