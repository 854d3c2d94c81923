//! Reaching the server of `--server`: the client with its token, what a
//! failed request exits with, and the flags a client may not give.

use cairn_serve::{ApiClient, ClientError};

use crate::args::{Global, PolicyArgs};
use crate::exit::Exit;
use crate::files;

/// The longest token file read (a token is 64 hex digits).
const TOKEN_FILE_BYTES: u64 = 4096;

/// The client of `url`, with the token of `--token-file` (or `CAIRN_TOKEN`)
/// when there is one.
pub(crate) fn connect(global: &Global, url: &str) -> Result<ApiClient, Exit> {
    let token = match &global.token_file {
        Some(file) => {
            let text = files::read_text(file, "token file", TOKEN_FILE_BYTES)
                .map_err(|e| Exit::bad_input(anyhow::anyhow!(e)))?;
            Some(text.trim().to_owned())
        }
        None => std::env::var("CAIRN_TOKEN")
            .ok()
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty()),
    };
    ApiClient::new(url, token).map_err(exit)
}

/// A failed request as the CLI reports it, with the exit code the same
/// mistake has on a journal: what the server refuses (4xx, a missing token
/// included) is the caller's (2); an unreachable or failing server, a
/// broken exchange, or a refusal that is about the server's state (an
/// execution already running, busy) is the host's (4).
pub(crate) fn exit(error: ClientError) -> Exit {
    match &error {
        ClientError::BadUrl { .. } => Exit::bad_input(error),
        ClientError::Unreachable { source, .. } => Exit::host(anyhow::anyhow!(
            "{error}: {source} (is `cairn serve` running there?)"
        )),
        ClientError::Api { status, body } => {
            let the_hosts = matches!(body.error.as_str(), "already_running" | "busy");
            if status.is_client_error() && !the_hosts {
                Exit::bad_input(error)
            } else {
                Exit::host(anyhow::anyhow!("the server failed: {}", body.message))
            }
        }
        _ => Exit::host(error),
    }
}

/// With `--server` the policy is the server's (`cairn serve`'s flags): a
/// client cannot widen or change it, so a policy flag would be silently
/// ignored. It is refused instead.
pub(crate) fn refuse_policy(policy: &PolicyArgs) -> Result<(), Exit> {
    match policy.to_args().first() {
        Some(flag) => Err(Exit::bad_input(anyhow::anyhow!(
            "{flag}: with --server the policy is the server's (set it on `cairn serve`); a client cannot change it"
        ))),
        None => Ok(()),
    }
}
