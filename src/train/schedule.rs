//! The learning rate at each optimizer step: linear warm-up, then linear, cosine or constant,
//! as HF's `get_{linear,cosine,constant}_schedule_with_warmup` (so our curves and PyTorch's are
//! comparable step for step).

use super::settings::Schedule;

/// Learning rate for optimizer step `step` (0-based: the first update uses `step = 0`) of
/// `total` steps, peaking at `peak` after `warmup` steps.
pub fn learning_rate(schedule: Schedule, peak: f64, step: u64, warmup: u64, total: u64) -> f64 {
    // HF's lambdas take the number of updates already made, `current_step`, starting at 0.
    let current = step as f64;
    if step < warmup {
        return peak * current / warmup.max(1) as f64;
    }
    let decay_steps = total.saturating_sub(warmup).max(1) as f64;
    let progress = (current - warmup as f64) / decay_steps;
    match schedule {
        Schedule::Constant => peak,
        Schedule::Linear => peak * (1.0 - progress).max(0.0),
        Schedule::Cosine => peak * (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_rises_linearly_then_linear_decay_reaches_zero_at_the_end() {
        let lr = |s| learning_rate(Schedule::Linear, 1.0, s, 10, 110);
        assert_eq!(lr(0), 0.0);
        assert!((lr(5) - 0.5).abs() < 1e-12);
        assert!((lr(10) - 1.0).abs() < 1e-12);
        assert!((lr(60) - 0.5).abs() < 1e-12);
        assert_eq!(lr(110), 0.0);
        assert_eq!(lr(200), 0.0);
    }

    #[test]
    fn cosine_is_half_way_at_the_middle_and_constant_stays() {
        let lr = |s| learning_rate(Schedule::Cosine, 2.0, s, 0, 100);
        assert!((lr(0) - 2.0).abs() < 1e-12);
        assert!((lr(50) - 1.0).abs() < 1e-12);
        assert!(lr(100).abs() < 1e-12);
        assert_eq!(learning_rate(Schedule::Constant, 3.0, 500, 10, 100), 3.0);
    }
}
