//! SIGINT (Ctrl-C) and SIGTERM while a command runs code or follows an
//! execution: caught, so that the command can say what state it leaves the
//! execution in and end with 128 + the signal's number.

use std::future::Future;

use crate::exit::{Exit, code};

/// A signal that stops a command running code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caught {
    Interrupt,
    Terminate,
}

impl Caught {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Caught::Interrupt => "SIGINT",
            Caught::Terminate => "SIGTERM",
        }
    }

    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Caught::Interrupt => code::INTERRUPTED,
            Caught::Terminate => code::TERMINATED,
        }
    }
}

/// SIGINT and SIGTERM, caught from [`Signals::listen`] on, for the rest of
/// the process (before it, they end the process as usual).
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn listen() -> Result<Signals, Exit> {
        let failed = |e: std::io::Error| Exit::host(anyhow::anyhow!("cannot catch signals: {e}"));
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
                terminate: signal(SignalKind::terminate()).map_err(failed)?,
            })
        }
        #[cfg(not(unix))]
        {
            let _ = failed;
            Ok(Signals {})
        }
    }

    /// The next signal.
    pub(crate) async fn next(&mut self) -> Caught {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = self.interrupt.recv() => Caught::Interrupt,
                Some(()) = self.terminate.recv() => Caught::Terminate,
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Caught::Interrupt
        }
    }

    /// `work` to its end, or the signal that came first (`work` is then
    /// dropped, which stops it at its next await).
    pub(crate) async fn until<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Caught> {
        tokio::select! {
            biased;
            done = work => Ok(done),
            caught = self.next() => Err(caught),
        }
    }
}
