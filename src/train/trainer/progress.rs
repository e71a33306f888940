//! What a run shows while it trains: a progress bar (in a sweep's `MultiProgress` when it has
//! one) with the step loss, the best validation loss and tokens/s over the recent steps; lines
//! printed above it.

use std::cell::Cell;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::train::checkpoint::TrainState;

/// Seconds after which the tokens/s window starts again.
const RATE_WINDOW_SECONDS: f64 = 30.0;

pub(super) struct Progress {
    bar: ProgressBar,
    /// Start of the tokens/s window and the tokens since.
    window: Cell<(Instant, u64)>,
}

impl Progress {
    /// A bar of `total` steps labelled `run_label`, at `position`.
    pub(super) fn new(
        run_label: &str,
        total: u64,
        parent: Option<&MultiProgress>,
        position: u64,
    ) -> Self {
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{prefix} {bar:25} {pos}/{len} steps · {msg} · {elapsed_precise} (ETA {eta})",
            )
            .expect("valid template"),
        );
        bar.set_prefix(run_label.to_string());
        let bar = match parent {
            Some(multi) => multi.add(bar),
            None => bar,
        };
        bar.set_position(position);
        Self {
            bar,
            window: Cell::new((Instant::now(), 0)),
        }
    }

    /// Print `line` to stderr above the bar.
    pub(super) fn say(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// After a step that trained on `tokens` tokens with mean loss `loss`.
    pub(super) fn step(&self, state: &TrainState, loss: f64, tokens: u64) {
        let (started, seen) = self.window.get();
        let seen = seen + tokens;
        self.bar.set_position(state.step);
        let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!(
            "loss {:.3} · best val {} · {:.0} tok/s",
            loss,
            state
                .best_val_loss
                .map_or("—".into(), |v| format!("{v:.3}")),
            rate
        ));
        self.window
            .set(if started.elapsed().as_secs_f64() > RATE_WINDOW_SECONDS {
                (Instant::now(), 0)
            } else {
                (started, seen)
            });
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
