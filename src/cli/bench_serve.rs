//! `tailor bench-serve` (`make bench-serve`): `tailor serve` under concurrent HTTP clients on
//! 127.0.0.1, mixed batches vs one project at a time ([`crate::bench::serve`]).

use std::net::SocketAddr;

use anyhow::Result;

use super::RunArgs;
use super::serve::{EngineArgs, LimitArgs};
use crate::bench::serve::{self, BenchServeOptions};

#[derive(Debug, clap::Args)]
#[command(mut_arg("profile", |a| a.help("The profile whose baseline is the default base")))]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Seconds each run (mode × k) sends requests.
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// The k measured (repeatable).
    #[arg(short, long = "k", default_values_t = [1, 5])]
    pub ks: Vec<usize>,
}

pub fn run(args: Args) -> Result<()> {
    serve::run(&BenchServeOptions {
        out: args.run.out.clone(),
        engine: args.engine.options(&args.run),
        serve: args.limits.config(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            args.engine.batch_size,
            false,
        ),
        clients: args.clients,
        seconds: args.seconds,
        ks: args.ks,
    })
}
