//! Host-side flows: flows written as Rust async closures in the embedding
//! program, calling checkpoints of loaded components. They are journaled
//! like guest flows — a crashed or failed one resumes (the host finds its
//! code by the name it was registered under), calls are cached and retried,
//! and an execution can be replayed — but their own code runs natively, not
//! in a sandbox: only the checkpoints they call are sandboxed.
//!
//! Like a guest flow, a host-side flow must be deterministic: on a resume it
//! runs again from the start and must make the same calls in the same order
//! (the runner checks this and fails the execution otherwise). It gets time
//! and randomness from its [`FlowCtx`], not from the system.

mod checkpoint;
mod ctx;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::checkpoint::Checkpoint;
pub(crate) use self::ctx::Shared;
pub use self::ctx::{CheckpointError, FlowCtx, Pending};

/// Why a host-side flow failed: any error converts into it with `?`, and
/// [`FlowError::msg`] makes one from a message. Its message becomes the
/// execution's failure.
pub struct FlowError {
    message: String,
}

impl FlowError {
    /// A failure with this message.
    pub fn msg(message: impl fmt::Display) -> FlowError {
        FlowError {
            message: message.to_string(),
        }
    }

    /// The failure's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

// `FlowError` does not implement `Error` itself, so that every error can
// convert into it (as with `anyhow::Error`).
impl<E: std::error::Error> From<E> for FlowError {
    fn from(error: E) -> FlowError {
        FlowError {
            message: crate::error::with_causes(&error),
        }
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlowError({:?})", self.message)
    }
}

/// The erased future of one run of a host-side flow: its output JSON.
pub(crate) type FlowRun = Pin<Box<dyn Future<Output = Result<String, FlowError>> + Send>>;

type Start = dyn Fn(FlowCtx, &str) -> Result<FlowRun, String> + Send + Sync;
type Check = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// A host-side flow to register with [`Host::register`](crate::Host::register).
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use cairn_host::{FlowCtx, FlowError, Host, HostFlow};
/// use serde_json::{Value, json};
///
/// let host = Host::builder().journal("journal.redb").open()?;
/// let markdown = host.load_file("markdown.wasm").await?;
/// let render = markdown.checkpoint::<Value, String>("to_html")?;
///
/// host.register(HostFlow::new("publish", move |ctx: FlowCtx, text: String| {
///     let render = render.clone();
///     async move {
///         let html = ctx.call(&render, &json!({ "markdown": text })).await?;
///         Ok::<_, FlowError>(html.len())
///     }
/// }))?;
/// let outcome = host.run_flow("publish", &"# Hello").await?;
/// # Ok(())
/// # }
/// ```
pub struct HostFlow {
    pub(crate) name: String,
    pub(crate) retries: u32,
    pub(crate) cache: bool,
    pub(crate) startable_by_guests: bool,
    start: Box<Start>,
    check: Box<Check>,
}

impl HostFlow {
    /// A flow called `name` whose code is `f`: it gets the flow's context
    /// and its input (decoded from the execution's input JSON) and returns
    /// its output (journaled as JSON) or a failure.
    pub fn new<I, O, F, Fut>(name: impl Into<String>, f: F) -> HostFlow
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
        F: Fn(FlowCtx, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, FlowError>> + Send + 'static,
    {
        let start = move |ctx: FlowCtx, input: &str| -> Result<FlowRun, String> {
            let input: I = serde_json::from_str(input).map_err(|e| e.to_string())?;
            let run = f(ctx, input);
            Ok(Box::pin(async move {
                let output = run.await?;
                serde_json::to_string(&output).map_err(|e| {
                    FlowError::msg(format!("the flow's output does not serialize: {e}"))
                })
            }))
        };
        HostFlow {
            name: name.into(),
            retries: 0,
            cache: true,
            startable_by_guests: false,
            start: Box::new(start),
            check: Box::new(|input| {
                serde_json::from_str::<I>(input)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        }
    }

    /// Runs the whole flow again up to `n` times after it fails (its
    /// completed calls are reused). Default: 0.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Whether its calls may reuse the cached outputs of identical earlier
    /// calls (a checkpoint's own `cache` option wins). Default: true.
    pub fn cache(mut self, cache: bool) -> Self {
        self.cache = cache;
        self
    }

    /// Lets flows of components (guest code, inside the sandbox) start
    /// this flow as a child flow by its name. Host-side flows, the API and
    /// the CLI may start any registered flow; a guest only one opened so,
    /// since this flow's code runs outside the sandbox with the host's
    /// reach. Default: closed.
    pub fn startable_by_guests(mut self) -> Self {
        self.startable_by_guests = true;
        self
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks that `input` decodes as the flow's input type.
    pub(crate) fn check(&self, input: &str) -> Result<(), String> {
        (self.check)(input)
    }

    /// Starts one run of the flow; `Err` if the input does not decode.
    pub(crate) fn start(&self, ctx: FlowCtx, input: &str) -> Result<FlowRun, String> {
        (self.start)(ctx, input)
    }
}

impl fmt::Debug for HostFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFlow")
            .field("name", &self.name)
            .field("retries", &self.retries)
            .field("cache", &self.cache)
            .field("startable_by_guests", &self.startable_by_guests)
            .finish_non_exhaustive()
    }
}

/// A registered flow, shared by its executions.
pub(crate) type Registered = Arc<HostFlow>;
