//! `cairn check --server`: the new build uploaded when the server lacks it,
//! then `POST /check`, with the same table, `--json` and exit code as a
//! check on a journal.

use std::process::ExitCode;

use cairn_host::CheckReport;
use cairn_serve::ApiClient;
use serde_json::{Value, json};

use super::connection::exit;
use super::reads;
use crate::args::{CheckArgs, Global};
use crate::exit::Exit;

pub(crate) async fn check(
    global: &Global,
    client: &ApiClient,
    args: &CheckArgs,
) -> Result<ExitCode, Exit> {
    let (_, hash) = reads::component(client, &args.component).await?;
    let mut body = json!({ "component": hash, "status": args.status });
    if let Some(flow) = &args.flow {
        body["flow"] = Value::from(flow.as_str());
    }
    if let Some(since) = &args.since {
        // Read here, on the client's clock, as on a journal; the API takes
        // whole seconds since the epoch.
        let seconds = crate::check::since_us(since)? / 1_000_000;
        body["since"] = Value::from(seconds.to_string());
    }
    let report: CheckReport = client.post("/check", &body).await.map_err(exit)?;
    crate::check::finish(global, &report)
}
