//! A throwaway PostgreSQL server for the test run: the PostgreSQL journal's
//! tests (and figures) need a real server, and CI has none running.
//!
//! Debian's `postgresql` package is installed with apt-get when its
//! binaries are missing; `initdb` makes a cluster in a temporary folder
//! owned by an unprivileged user (PostgreSQL refuses to run as root), with
//! `trust` authentication and the server listening on 127.0.0.1 only, on a
//! port that was free. [`Server`] stops the server and removes the folder
//! when dropped, so a failed test run (an early `?` return) cleans up too.
//! A run killed outright (SIGKILL) leaves the server behind: its folder is
//! under the system's temporary folder, named `cairn-pg-<pid>`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, run};

/// The environment variable through which the tests get the server's URL.
pub(crate) const URL_VAR: &str = "CAIRN_TEST_POSTGRES";

/// The unprivileged system user the server runs as when xtask runs as root.
const USER: &str = "cairn-pg";

/// The database superuser `initdb` creates, which the tests connect as.
const SUPERUSER: &str = "cairn";

/// A running throwaway server; stopped and removed when dropped.
pub(crate) struct Server {
    bin: PathBuf,
    dir: PathBuf,
    /// The user the server runs as (`None`: the current one).
    user: Option<String>,
    url: String,
}

impl Server {
    /// Installs PostgreSQL if it is missing, makes a cluster in a fresh
    /// temporary folder and starts it on a free loopback port.
    pub(crate) fn start() -> Result<Server> {
        let bin = match binaries() {
            Some(bin) => bin,
            None => {
                install()?;
                binaries().ok_or("postgresql was installed, but no initdb was found under /usr/lib/postgresql/*/bin")?
            }
        };
        let user = if is_root()? {
            Some(system_user()?)
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!("cairn-pg-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // From here on, a failure stops and removes what was made.
        let port = free_port()?;
        let server = Server {
            bin,
            dir,
            user,
            url: format!("postgres://{SUPERUSER}@127.0.0.1:{port}/postgres"),
        };
        if let Some(user) = &server.user {
            chown(&server.dir, user)?;
        }
        let data = server.dir.join("data");
        eprintln!(
            "xtask: starting a throwaway PostgreSQL in {} on 127.0.0.1:{port}",
            server.dir.display()
        );
        server.as_user(
            Command::new(server.bin.join("initdb"))
                .args([
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                    "-U",
                    SUPERUSER,
                ])
                .arg("-D")
                .arg(&data)
                .stdout(std::process::Stdio::null()),
        )?;
        // Loopback only, the socket in our folder (not /var/run), and room
        // for the tests' parallel connections.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
             -c max_connections=400 -c shared_buffers=64MB",
            server.dir.display()
        );
        server.as_user(
            Command::new(server.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.join("server.log"))
                .args(["-o", &options, "-w", "-t", "60", "start"])
                .stdout(std::process::Stdio::null()),
        )?;
        Ok(server)
    }

    /// The URL of the server's `postgres` database, as the superuser.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Runs `command` as the server's user.
    fn as_user(&self, command: &mut Command) -> Result {
        match &self.user {
            None => run(command),
            Some(user) => {
                let mut wrapped = Command::new("runuser");
                wrapped.args(["-u", user, "--"]).arg(command.get_program());
                wrapped.args(command.get_args());
                wrapped.current_dir(&self.dir);
                wrapped.stdout(std::process::Stdio::null());
                run(&mut wrapped)
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let stopped = self.as_user(
                Command::new(self.bin.join("pg_ctl"))
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"]),
            );
            if let Err(e) = stopped {
                eprintln!("xtask: stopping PostgreSQL: {e}");
            }
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => eprintln!("xtask: stopped and removed the throwaway PostgreSQL"),
            Err(e) => eprintln!("xtask: removing {}: {e}", self.dir.display()),
        }
    }
}

/// The folder of Debian's PostgreSQL binaries (the newest version's), if
/// they are installed.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn install() -> Result {
    eprintln!("xtask: installing postgresql (for the PostgreSQL journal's tests)");
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "postgresql"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn is_root() -> Result<bool> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run id: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The unprivileged user to run the server as, made if missing.
fn system_user() -> Result<String> {
    let exists = |name: &str| {
        Command::new("id")
            .arg(name)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !exists(USER) {
        run(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            USER,
        ]))?;
    }
    Ok(USER.to_owned())
}

/// Gives `dir` to `user`.
fn chown(dir: &Path, user: &str) -> Result {
    run(Command::new("chown").arg(format!("{user}:")).arg(dir))
}

/// A port nobody listens on now (the server binds it right after; another
/// process taking it in between makes the start fail, loudly).
fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    Ok(port)
}
